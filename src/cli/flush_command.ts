/**
 * `skiff flush [module...] --yes`: empties queues as Dramatiq's `flush` does (ready,
 * delayed and dead messages; those in flight finish), and says how many went.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { FlushCounts } from "../broker.ts";
import { chooseBroker } from "./_broker.ts";
import { CommandError, EXIT, firstLine, type Io } from "./_io.ts";
import { chooseQueues, loadModules } from "./_load.ts";
import { table } from "./_table.ts";

/**
 * Runs `skiff flush`: one `flush()` per queue (one script call per 1,000 messages).
 *
 * @param args The arguments after `flush`.
 * @param io Output.
 * @returns The exit code: 0 once flushed.
 * @throws {CommandError} Exit code 2 on bad arguments or configuration (no `--yes`), 3 when
 *   Redis cannot be reached.
 */
export async function flushCommand(args: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        queues: { type: "string" },
        yes: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
      },
    });
  } catch (error) {
    throw new CommandError(`${firstLine(error)}; run 'skiff flush --help' for the options`);
  }
  const { values, positionals } = parsed;
  const loaded = await loadModules(positionals);
  const queues = chooseQueues(values.queues, loaded, "flush");
  if (!values.yes) {
    throw new CommandError(
      `'skiff flush' deletes every ready, delayed and dead message of ${queues.join(", ")}: ` +
        "add --yes to confirm",
    );
  }
  const chosen = chooseBroker();
  await chosen.probe(queues[0]);
  if (chosen.warning) io.err(`skiff flush: ${chosen.warning}`);
  const flushed: (FlushCounts & { queue: string })[] = [];
  for (const queue of queues) flushed.push({ queue, ...await chosen.broker.flush(queue) });
  if (values.json) {
    io.out(JSON.stringify(flushed));
    return EXIT.OK;
  }
  const rows = flushed.map((f) => [f.queue, String(f.ready), String(f.delayed), String(f.dead)]);
  for (const line of table(["queue", "ready", "delayed", "dead"], rows)) io.out(line);
  return EXIT.OK;
}
