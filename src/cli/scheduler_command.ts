/**
 * `skiff scheduler <module...>`: imports the modules that declare schedules (on the global
 * scheduler, `getScheduler()`, or on a `Scheduler` they export), then ticks them at each
 * slot boundary until SIGINT or SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Broker, Logger } from "../broker.ts";
import { MemoryBroker } from "../brokers/memory.ts";
import { getBroker, hasBroker } from "../global_broker.ts";
import { getScheduler, hasScheduler } from "../scheduler/global_scheduler.ts";
import { runScheduler } from "../scheduler/run_scheduler.ts";
import { Scheduler, type SchedulerTickReport } from "../scheduler/scheduler.ts";
import { moduleUrl, redisBroker } from "./_modules.ts";
import { EXIT, type Io } from "./_io.ts";

/**
 * Runs `skiff scheduler`.
 *
 * @param args The arguments after `scheduler`.
 * @param io Output, signals and exit.
 * @returns The exit code: 0 after a clean stop, 2 on bad arguments, a module that fails to
 *   import or no schedule, 3 when Redis cannot be reached at startup.
 */
export async function schedulerCommand(args: string[], io: Io): Promise<number> {
  let modules: string[];
  try {
    modules = parseArgs({ args, allowPositionals: true, options: {} }).positionals;
  } catch (error) {
    io.err(`skiff scheduler: ${error instanceof Error ? error.message : "bad arguments"}`);
    return EXIT.USAGE;
  }
  if (modules.length === 0) {
    io.err("skiff scheduler: name at least one module that declares schedules");
    return EXIT.USAGE;
  }
  const schedulers = new Set<Scheduler>();
  for (const module of modules) {
    try {
      const exports = await import(moduleUrl(module));
      for (const value of Object.values(exports)) {
        if (value instanceof Scheduler) schedulers.add(value);
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : "unknown error";
      io.err(`skiff scheduler: cannot import '${module}': ${reason}`);
      return EXIT.USAGE;
    }
  }
  if (hasScheduler()) schedulers.add(getScheduler());
  const active = [...schedulers].filter((s) => s.schedules.length > 0);
  const names = active.flatMap((s) => s.schedules.map((schedule) => schedule.name));
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) {
    io.err(`skiff scheduler: the schedule '${twice}' is declared by two schedulers`);
    return EXIT.USAGE;
  }
  if (names.length === 0) {
    io.err(
      "skiff scheduler: no schedule declared; use getScheduler().schedule(...) or export a Scheduler",
    );
    return EXIT.USAGE;
  }

  let chosen: { broker: Broker; probe: () => Promise<unknown> };
  try {
    chosen = hasBroker()
      ? { broker: getBroker(), probe: () => Promise.resolve() }
      : redisBroker("skiff scheduler") ?? { broker: getBroker(), probe: () => Promise.resolve() };
  } catch (error) {
    io.err(`skiff scheduler: ${error instanceof Error ? error.message : "no broker"}`);
    return EXIT.USAGE;
  }
  const { broker } = chosen;
  try {
    await chosen.probe();
    await broker.stats(active[0].schedules[0].message.queue);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : "unknown error";
    io.err(`skiff scheduler: cannot reach Redis: ${reason}`);
    return EXIT.UNREACHABLE;
  }
  if (broker instanceof MemoryBroker) {
    io.err(
      "skiff scheduler: the broker is a MemoryBroker: messages stay in this process " +
        "(set one with setBroker(), or UPSTASH_REDIS_REST_URL)",
    );
  }

  const stop = new AbortController();
  let signals = 0;
  io.onSignal(() => {
    if (++signals === 1) return stop.abort();
    io.err("skiff scheduler: second signal, exiting at once");
    io.exit(EXIT.INTERRUPTED);
  });
  io.out(
    `skiff scheduler: ${names.length} schedule(s) (${names.join(", ")}) ` +
      `(${broker.constructor.name})`,
  );
  const logger = ioLogger(io);
  await Promise.all(active.map((scheduler) =>
    runScheduler(scheduler, {
      signal: stop.signal,
      broker,
      logger,
      onTick: (report) => reportLines(report).forEach((line) => io.out(line)),
    })
  ));
  io.out("skiff scheduler: stopped");
  return EXIT.OK;
}

function reportLines(report: SchedulerTickReport): string[] {
  const at = (slot: number) => new Date(slot).toISOString();
  return [
    ...report.fired.map((f) =>
      `skiff scheduler: fired '${f.schedule}' for ${at(f.slot)} (message ${f.id})`
    ),
    ...report.skipped.map((s) =>
      `skiff scheduler: skipped '${s.schedule}' for ${at(s.slot)} (${s.reason})`
    ),
  ];
}

function ioLogger(io: Io): Logger {
  const line = (write: (line: string) => void) => (...data: unknown[]) =>
    write(`skiff scheduler: ${String(data[0])}`);
  return { debug: () => {}, info: line(io.out), warn: line(io.err), error: line(io.err) };
}
