/**
 * `skiff stats [module...]`: how many messages each queue holds, by state.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { QueueStats } from "../broker.ts";
import { chooseBroker } from "./_broker.ts";
import { CommandError, EXIT, firstLine, type Io } from "./_io.ts";
import { chooseQueues, loadModules } from "./_load.ts";
import { table } from "./_table.ts";

/**
 * Runs `skiff stats`: one `stats()` per queue (4 Redis commands each).
 *
 * @param args The arguments after `stats`.
 * @param io Output.
 * @returns The exit code: 0 once printed.
 * @throws {CommandError} Exit code 2 on bad arguments or configuration, 3 when Redis
 *   cannot be reached.
 */
export async function statsCommand(args: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { queues: { type: "string" }, json: { type: "boolean", default: false } },
    });
  } catch (error) {
    throw new CommandError(`${firstLine(error)}; run 'skiff stats --help' for the options`);
  }
  const { values, positionals } = parsed;
  const loaded = await loadModules(positionals);
  const queues = chooseQueues(values.queues, loaded, "stats");
  const chosen = chooseBroker();
  await chosen.probe(queues[0]);
  if (chosen.warning) io.err(`skiff stats: ${chosen.warning}`);
  const stats: (QueueStats & { queue: string })[] = [];
  for (const queue of queues) stats.push({ queue, ...await chosen.broker.stats(queue) });
  if (values.json) {
    io.out(JSON.stringify(stats));
    return EXIT.OK;
  }
  const rows = stats.map((
    s,
  ) => [s.queue, String(s.ready), String(s.delayed), String(s.leased), String(s.dead)]);
  for (const line of table(["queue", "ready", "delayed", "leased", "dead"], rows)) io.out(line);
  return EXIT.OK;
}
