/**
 * `skiff worker <module...>`: imports the modules that declare actors (and may call
 * `setBroker()`), then consumes their queues until SIGINT or SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Broker } from "../broker.ts";
import { jsonLogger, type Logger } from "../logger.ts";
import { metrics } from "../metrics/metrics.ts";
import { actorNames, getActor } from "../registry.ts";
import { Worker } from "../worker.ts";
import { chooseBroker } from "./_broker.ts";
import { findModules } from "./_discover.ts";
import { importFile } from "./_import.ts";
import { queueList } from "./_load.ts";
import { CommandError, EXIT, firstLine, integerOption, type Io } from "./_io.ts";
import { serve, type Served } from "./_serve.ts";
import { onStopSignals } from "./_signals.ts";

/**
 * Runs `skiff worker`.
 *
 * @param args The arguments after `worker`.
 * @param io Output, signals and exit.
 * @returns The exit code.
 * @throws {CommandError} With the exit code and the line to print.
 */
export async function workerCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length === 0) {
    throw new CommandError(
      "name at least one module that declares actors (a file, a directory, a quoted glob or a package)",
    );
  }
  const concurrency = integerOption("concurrency", values.concurrency, 1, 1024);
  const prefetch = values.prefetch === undefined
    ? undefined
    : integerOption("prefetch", values.prefetch, 1, 65_536);
  const timeout = integerOption("shutdown-timeout", values["shutdown-timeout"], 0, 2_147_483_647);
  const wanted = values.queues === undefined ? undefined : queueList(values.queues);
  const format = values["log-format"];
  if (format !== "text" && format !== "json") {
    throw new CommandError(`'--log-format' must be text or json, received '${format}'`);
  }
  // One JSON object per line for the worker's own lines too, so that a collector parses all.
  const logger = format === "json" ? jsonLogger({ write: io.out }) : undefined;
  const say = (line: string) =>
    logger ? logger.info(line.replace(/^skiff worker: /, "")) : io.out(line);
  const metricsPort = values["metrics-port"] === undefined
    ? undefined
    : integerOption("metrics-port", values["metrics-port"], 0, 65_535);

  for (const file of await findModules(positionals)) await importFile(file);
  const declared = declaredQueues();
  if (declared.size === 0) {
    throw new CommandError(
      `No actor declared: the modules (${positionals.join(", ")}) declare none; ` +
        "declare one with actor(...), or name the modules that do",
    );
  }
  const queues = wanted ?? [...declared.keys()].sort();
  for (const queue of queues) {
    if (!declared.has(queue)) {
      throw new CommandError(
        `No actor is declared on queue '${queue}' (actors are declared on ` +
          `${[...declared.keys()].sort().join(", ")}): import the module that declares its ` +
          "actors, or leave the queue out of --queues",
      );
    }
  }

  const chosen = chooseBroker();
  await chosen.probe(queues[0]);
  if (chosen.warning) {
    if (logger) logger.warn(chosen.warning);
    else io.err(`skiff worker: ${chosen.warning}`);
  }
  // The broker's lines (failures, retries, dead letters) go where the flag says.
  if (logger) (chosen.broker as Broker & { logger: Logger }).logger = logger;
  let worker: Worker;
  try {
    worker = new Worker(chosen.broker, { queues, concurrency, ...prefetch && { prefetch } });
  } catch (error) {
    throw new CommandError(`Cannot start: ${firstLine(error)}`);
  }

  let served: Served | undefined;
  if (metricsPort !== undefined) {
    const m = metrics({ broker: chosen.broker, queues });
    const host = values["metrics-host"];
    try {
      served = await serve(
        (request) =>
          new URL(request.url).pathname === "/metrics"
            ? m.fetch(request)
            : new Response("Not Found", { status: 404 }),
        { host, port: metricsPort },
      );
    } catch (error) {
      throw new CommandError(`Cannot listen on ${host}:${metricsPort}: ${firstLine(error)}`);
    }
    say(`skiff worker: metrics on ${served.url}/metrics`);
  }

  const stopping = new Promise<void>((resolve) => onStopSignals(io, "worker", resolve));
  await worker.start();
  const actors = queues.flatMap((queue) => declared.get(queue)!).length;
  say(
    `skiff worker: consuming ${queues.join(", ")} (${actors} actor(s)) with concurrency ` +
      `${concurrency} (${chosen.source})`,
  );
  await stopping;
  say(`skiff worker: stopping; messages in flight have ${timeout} ms to finish`);
  await worker.stop({ timeout });
  await served?.close();
  say("skiff worker: stopped");
  return EXIT.OK;
}

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        queues: { type: "string" },
        concurrency: { type: "string", default: "8" },
        prefetch: { type: "string" },
        "shutdown-timeout": { type: "string", default: "30000" },
        "metrics-port": { type: "string" },
        "metrics-host": { type: "string", default: "127.0.0.1" },
        "log-format": { type: "string", default: "text" },
      },
    });
  } catch (error) {
    throw new CommandError(`${firstLine(error)}; run 'skiff worker --help' for the options`);
  }
}

/** Each queue an actor is declared on, with the names of its actors. */
function declaredQueues(): Map<string, string[]> {
  const queues = new Map<string, string[]>();
  for (const name of actorNames()) {
    const queue = getActor(name)!.queue;
    queues.set(queue, [...(queues.get(queue) ?? []), name]);
  }
  return queues;
}
