/**
 * `skiff schedules <module...>`: each declared schedule with its last slot (from its record
 * in Redis) and its next.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { scheduleSlots } from "../dashboard/_schedule_slots.ts";
import { chooseBroker } from "./_broker.ts";
import { CommandError, EXIT, firstLine, type Io } from "./_io.ts";
import { loadModules } from "./_load.ts";
import { isoTime, table } from "./_table.ts";

/**
 * Runs `skiff schedules`: one request for every record (1 `EVALSHA` and 1 `GET` per
 * schedule).
 *
 * @param args The arguments after `schedules`.
 * @param io Output and clock.
 * @returns The exit code: 0 once printed.
 * @throws {CommandError} Exit code 2 on bad arguments, no schedule or no broker; 3 when
 *   Redis cannot be reached.
 */
export async function schedulesCommand(args: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: "boolean", default: false } },
    });
  } catch (error) {
    throw new CommandError(`${firstLine(error)}; run 'skiff schedules --help' for the options`);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) {
    throw new CommandError(
      "name at least one module that declares schedules (a file, a directory, a quoted glob or a package)",
    );
  }
  const { schedules } = await loadModules(positionals);
  if (schedules.length === 0) {
    throw new CommandError(
      "No schedule declared: use getScheduler().schedule(...) or export a Scheduler from a module",
    );
  }
  const chosen = chooseBroker();
  await chosen.probe(schedules[0].message.queue);
  if (chosen.warning) io.err(`skiff schedules: ${chosen.warning}`);
  const slots = await scheduleSlots(schedules, chosen.broker, io.now());
  if (values.json) {
    io.out(JSON.stringify(slots));
    return EXIT.OK;
  }
  const rows = slots.map((s) => [
    s.name,
    s.cron,
    s.timezone,
    `${s.actor}@${s.queue}`,
    s.last === undefined ? "unknown" : isoTime(s.last),
    isoTime(s.next),
  ]);
  for (const line of table(["schedule", "cron", "zone", "actor@queue", "last", "next"], rows)) {
    io.out(line);
  }
  return EXIT.OK;
}
