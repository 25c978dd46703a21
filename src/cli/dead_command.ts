/**
 * `skiff dead list|show|requeue|purge`: the dead letters of queues, why each died, and
 * moving them back to ready or deleting them.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Broker, DeadLetter } from "../broker.ts";
import { Message } from "../message.ts";
import { chooseBroker } from "./_broker.ts";
import { CommandError, EXIT, firstLine, integerOption, type Io } from "./_io.ts";
import { chooseQueues, loadModules } from "./_load.ts";
import { isoTime, table } from "./_table.ts";
import { requeueAll } from "../brokers/_requeue_all.ts";

const ACTIONS = ["list", "show", "requeue", "purge"] as const;
type Action = typeof ACTIONS[number];

/** Dead letters read per request when a command goes through all of a queue's. */
const PAGE = 1000;

/**
 * Runs `skiff dead <action>`.
 *
 * @param args The arguments after `dead`.
 * @param io Output.
 * @returns The exit code: 0 when done, 2 when an id is not a dead letter of the queues.
 * @throws {CommandError} Exit code 2 on bad arguments or configuration (a bulk action
 *   without `--yes`), 3 when Redis cannot be reached.
 */
export async function deadCommand(args: string[], io: Io): Promise<number> {
  const [action, ...rest] = args;
  if (!ACTIONS.includes(action as Action)) {
    throw new CommandError(
      action === undefined
        ? `name an action: ${ACTIONS.join(", ")}; run 'skiff dead --help'`
        : `unknown action '${action}': use ${ACTIONS.join(", ")}`,
    );
  }
  const { values, positionals } = parse(rest);
  const ids = [...new Set(values.id ?? [])];
  const limit = integerOption("limit", values.limit, 1, 100_000);
  if (action === "list" && (ids.length > 0 || values.all)) {
    throw new CommandError("'skiff dead list' takes no --id or --all: it lists every dead letter");
  }
  if (action === "show" && (ids.length !== 1 || values.all)) {
    throw new CommandError("'skiff dead show' needs exactly one --id <id>");
  }
  if ((action === "requeue" || action === "purge") && ids.length > 0 === values.all) {
    throw new CommandError(
      `'skiff dead ${action}' needs --id <id> (repeatable) or --all, not both`,
    );
  }
  const loaded = await loadModules(positionals);
  const queues = chooseQueues(values.queues, loaded, "dead");
  if (values.all && !values.yes) {
    throw new CommandError(
      `'--all' ${action === "purge" ? "deletes" : "requeues"} every dead letter of ` +
        `${queues.join(", ")}: add --yes to confirm`,
    );
  }
  const chosen = chooseBroker();
  await chosen.probe(queues[0]);
  if (chosen.warning) io.err(`skiff dead: ${chosen.warning}`);
  const broker = chosen.broker;
  const json = values.json;

  if (action === "list") {
    const letters: (DeadLetter & { queue: string })[] = [];
    for (const queue of queues) {
      for (const letter of await broker.deadLetters(queue, { limit })) {
        letters.push({ queue, ...letter });
      }
    }
    if (json) {
      io.out(JSON.stringify(letters.map(({ body, ...rest }) => ({ ...rest, ...summary(body) }))));
      return EXIT.OK;
    }
    const rows = letters.map((l) => [
      l.queue,
      l.id,
      summary(l.body).actor,
      isoTime(l.deadAt),
      oneLine(l.reason),
    ]);
    for (const line of table(["queue", "id", "actor", "dead at", "reason"], rows)) io.out(line);
    return EXIT.OK;
  }

  if (action === "show") {
    const found = await findDead(broker, queues, ids[0]);
    if (!found) {
      io.err(`skiff dead: '${ids[0]}' is not a dead letter of ${queues.join(", ")}`);
      return EXIT.USAGE;
    }
    const { letter, queue } = found;
    const message = decoded(letter.body);
    const args = message?.args;
    const shown = {
      id: letter.id,
      queue,
      actor: message?.actor ?? "?",
      deadAt: isoTime(letter.deadAt),
      reason: letter.reason,
      retries: message?.retries ?? null,
      enqueuedAt: isoTime(message?.enqueuedAt),
      arguments: values.arguments ? args ?? null : `${args?.length ?? 0} (hidden)`,
    };
    if (json) io.out(JSON.stringify(shown));
    else {
      for (const [key, value] of Object.entries(shown)) {
        io.out(`${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
      }
    }
    return EXIT.OK;
  }

  // requeue or purge
  const done: Record<string, number> = {};
  let missing: string[] = [];
  if (values.all) {
    for (const queue of queues) {
      done[queue] = action === "purge"
        ? await broker.purgeDead(queue)
        : await requeueAll(broker, queue);
    }
  } else {
    missing = ids;
    for (const queue of queues) {
      if (missing.length === 0) break;
      const states = await broker.state(queue, missing);
      const here = missing.filter((_, i) => states[i] === "dead");
      if (here.length === 0) continue;
      done[queue] = action === "purge"
        ? await broker.purgeDead(queue, { ids: here })
        : await broker.requeue(queue, here);
      missing = missing.filter((_, i) => states[i] !== "dead");
    }
  }
  const total = Object.values(done).reduce((a, b) => a + b, 0);
  if (json) io.out(JSON.stringify({ [action === "purge" ? "purged" : "requeued"]: done, missing }));
  else {
    const verb = action === "purge" ? "purged" : "requeued";
    const per = Object.entries(done).map(([q, n]) => `${q}: ${n}`).join(", ");
    io.out(`skiff dead: ${verb} ${total} dead letter(s)${per ? ` (${per})` : ""}`);
  }
  if (missing.length > 0) {
    io.err(`skiff dead: not a dead letter of ${queues.join(", ")}: ${missing.join(", ")}`);
    return EXIT.USAGE;
  }
  return EXIT.OK;
}

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        queues: { type: "string" },
        id: { type: "string", multiple: true },
        all: { type: "boolean", default: false },
        yes: { type: "boolean", default: false },
        limit: { type: "string", default: "100" },
        arguments: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
      },
    });
  } catch (error) {
    throw new CommandError(`${firstLine(error)}; run 'skiff dead --help' for the options`);
  }
}

/** Finds a dead letter by id among the queues, a page at a time. */
async function findDead(
  broker: Broker,
  queues: string[],
  id: string,
): Promise<{ letter: DeadLetter; queue: string } | undefined> {
  for (const queue of queues) {
    const [state] = await broker.state(queue, [id]);
    if (state !== "dead") continue;
    for (let offset = 0;; offset += PAGE) {
      const page = await broker.deadLetters(queue, { offset, limit: PAGE });
      const letter = page.find((l) => l.id === id);
      if (letter) return { letter, queue };
      if (page.length < PAGE) break;
    }
  }
  return undefined;
}

function decoded(body: string): Message | undefined {
  try {
    return Message.decode(body);
  } catch {
    return undefined;
  }
}

/** What a listing shows of a body: never its arguments. */
function summary(body: string): { actor: string; retries: number | null } {
  const message = decoded(body);
  return { actor: message?.actor ?? "?", retries: message?.retries ?? null };
}

function oneLine(text: string): string {
  const line = text.split("\n")[0];
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}
