/**
 * `skiff scheduler <module...>`: imports the modules that declare schedules (on the global
 * scheduler, `getScheduler()`, or on a `Scheduler` they export), then ticks them at each
 * slot boundary until SIGINT or SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Logger } from "../broker.ts";
import { getScheduler, hasScheduler } from "../scheduler/global_scheduler.ts";
import { runScheduler } from "../scheduler/run_scheduler.ts";
import { Scheduler, type SchedulerTickReport } from "../scheduler/scheduler.ts";
import { chooseBroker } from "./_broker.ts";
import { findModules } from "./_discover.ts";
import { importFile } from "./_import.ts";
import { CommandError, EXIT, firstLine, type Io } from "./_io.ts";
import { onStopSignals } from "./_signals.ts";

/**
 * Runs `skiff scheduler`.
 *
 * @param args The arguments after `scheduler`.
 * @param io Output, signals and exit.
 * @returns The exit code: 0 after a clean stop.
 * @throws {CommandError} Exit code 2 on bad arguments, a module that cannot be found or
 *   imported, no schedule or no broker; 3 when Redis cannot be reached at startup.
 */
export async function schedulerCommand(args: string[], io: Io): Promise<number> {
  let modules: string[];
  try {
    modules = parseArgs({ args, allowPositionals: true, options: {} }).positionals;
  } catch (error) {
    throw new CommandError(`${firstLine(error)}; run 'skiff scheduler --help' for the options`);
  }
  if (modules.length === 0) {
    throw new CommandError(
      "name at least one module that declares schedules (a file, a directory, a quoted glob or a package)",
    );
  }
  const schedulers = new Set<Scheduler>();
  for (const file of await findModules(modules)) {
    for (const value of Object.values(await importFile(file))) {
      if (value instanceof Scheduler) schedulers.add(value);
    }
  }
  if (hasScheduler()) schedulers.add(getScheduler());
  const active = [...schedulers].filter((s) => s.schedules.length > 0);
  const names = active.flatMap((s) => s.schedules.map((schedule) => schedule.name));
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) {
    throw new CommandError(`the schedule '${twice}' is declared by two schedulers`);
  }
  if (names.length === 0) {
    throw new CommandError(
      "No schedule declared: use getScheduler().schedule(...) or export a Scheduler from a module",
    );
  }

  const chosen = chooseBroker();
  await chosen.probe(active[0].schedules[0].message.queue);
  if (chosen.warning) io.err(`skiff scheduler: ${chosen.warning}`);

  const stop = new AbortController();
  onStopSignals(io, "scheduler", () => stop.abort());
  io.out(`skiff scheduler: ${names.length} schedule(s) (${names.join(", ")}) (${chosen.source})`);
  const logger = ioLogger(io);
  await Promise.all(active.map((scheduler) =>
    runScheduler(scheduler, {
      signal: stop.signal,
      broker: chosen.broker,
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
