/**
 * `skiff worker <module...>`: imports the modules that declare actors (and may call
 * `setBroker()`), then consumes their queues until SIGINT or SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Broker } from "../broker.ts";
import { getBroker, hasBroker } from "../global_broker.ts";
import { actorNames, getActor } from "../registry.ts";
import { Worker } from "../worker.ts";
import { moduleUrl, redisBroker } from "./_modules.ts";
import { EXIT, type Io, numberOption } from "./_io.ts";

/**
 * Runs `skiff worker`.
 *
 * @param args The arguments after `worker`.
 * @param io Output, signals and exit.
 * @returns The exit code.
 */
export async function workerCommand(args: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        queues: { type: "string" },
        concurrency: { type: "string", default: "8" },
        "shutdown-timeout": { type: "string", default: "30000" },
      },
    });
  } catch (error) {
    io.err(`skiff worker: ${error instanceof Error ? error.message : "bad arguments"}`);
    return EXIT.USAGE;
  }
  const { values, positionals: modules } = parsed;
  if (modules.length === 0) {
    io.err("skiff worker: name at least one module that declares actors");
    return EXIT.USAGE;
  }
  const concurrency = numberOption(io, "worker", "concurrency", values.concurrency, 1, 1024);
  const timeout = numberOption(io, "worker", "shutdown-timeout", values["shutdown-timeout"], 0);
  if (concurrency === undefined || timeout === undefined) return EXIT.USAGE;

  for (const module of modules) {
    try {
      await import(moduleUrl(module));
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : "unknown error";
      io.err(`skiff worker: cannot import '${module}': ${reason}`);
      return EXIT.USAGE;
    }
  }

  let chosen: { broker: Broker; probe: () => Promise<unknown> };
  try {
    chosen = hasBroker()
      ? { broker: getBroker(), probe: () => Promise.resolve() }
      : redisBroker("skiff worker") ??
        { broker: getBroker(), probe: () => Promise.resolve() };
  } catch (error) {
    io.err(`skiff worker: ${error instanceof Error ? error.message : "no broker"}`);
    return EXIT.USAGE;
  }
  const { broker } = chosen;
  const queues = values.queues?.split(",").map((q) => q.trim()).filter(Boolean) ??
    declaredQueues();
  try {
    await chosen.probe();
    await broker.stats(queues[0]);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : "unknown error";
    io.err(`skiff worker: cannot reach Redis: ${reason}`);
    return EXIT.UNREACHABLE;
  }

  const worker = new Worker(broker, { queues, concurrency });
  let signals = 0;
  const stopping = new Promise<void>((resolve) =>
    io.onSignal(() => {
      if (++signals === 1) return resolve();
      io.err("skiff worker: second signal, exiting at once");
      io.exit(EXIT.INTERRUPTED);
    })
  );
  await worker.start();
  io.out(
    `skiff worker: consuming ${queues.join(", ")} with concurrency ${concurrency} ` +
      `(${broker.constructor.name})`,
  );
  await stopping;
  io.out(`skiff worker: stopping; messages in flight have ${timeout} ms to finish`);
  await worker.stop({ timeout });
  io.out("skiff worker: stopped");
  return EXIT.OK;
}

function declaredQueues(): string[] {
  const queues = new Set(actorNames().map((name) => getActor(name)!.queue));
  return queues.size ? [...queues].sort() : ["default"];
}
