import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import type { MessageContext } from "../src/context.ts";
import { jsonLogger, type LogFields, type Logger } from "../src/logger.ts";
import { Message } from "../src/message.ts";
import * as v from "valibot";
import { Push } from "../src/push/push.ts";

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;
const ARGUMENT = "card-4111-1111-1111-1111";
const SECRET = "signing-secret-0123456789";

/** A JSON logger that keeps its lines, parsed. */
function recording(level: "debug" | "info" = "info") {
  const raw: string[] = [];
  const logger = jsonLogger({ write: (line) => raw.push(line), level, now: () => 0 });
  return { raw, logger, lines: () => raw.map((line) => JSON.parse(line)) };
}

Deno.test("jsonLogger: given fields, then one JSON line per call with level, msg, time and the fields", () => {
  const { raw, logger, lines } = recording("debug");
  logger.debug("d", { queue: "q", attempt: 2 });
  logger.info("i");
  logger.warn("w", { id: "m", error: new RangeError("out"), count: 10n as unknown as number });
  logger.error("e", { error: "a string", outcome: "dead", extra: undefined });
  assert.equal(raw.length, 4);
  assert(raw.every((line) => !line.includes("\n")));
  assert.deepEqual(lines(), [
    { level: "debug", time: "1970-01-01T00:00:00.000Z", msg: "d", queue: "q", attempt: 2 },
    { level: "info", time: "1970-01-01T00:00:00.000Z", msg: "i" },
    {
      level: "warn",
      time: "1970-01-01T00:00:00.000Z",
      msg: "w",
      id: "m",
      error: { name: "RangeError", message: "out" },
      count: "10",
    },
    {
      level: "error",
      time: "1970-01-01T00:00:00.000Z",
      msg: "e",
      error: { name: "string" },
      outcome: "dead",
    },
  ]);
});

Deno.test("jsonLogger: given a field named like a line's own, then the line's own wins; a cycle is left out", () => {
  const { logger, lines } = recording();
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  logger.warn("kept", { msg: "not this", level: "not this" });
  logger.warn("still written", { cycle });
  assert.deepEqual(lines().map(({ level, msg }) => [level, msg]), [
    ["warn", "kept"],
    ["warn", "still written"],
  ]);
  assert.throws(() => jsonLogger({ level: "trace" as "info" }), /'level' must be one of/);
});

Deno.test("logs: given an actor that fails, retries and dies, then each line carries id, actor, queue, attempt and outcome, never the arguments", async () => {
  const { raw, logger, lines } = recording();
  const broker = new MemoryBroker({ logger });
  const queue = unique("q");
  const name = unique("fails");
  const fails = actor(name, function (this: MessageContext, _card: string) {
    throw new TypeError(`attempt ${this.attempt} failed`);
  }, { broker, queue, maxRetries: 1, minBackoff: 0, maxBackoff: 0 });
  const sent = await fails.send(ARGUMENT);
  await broker.join(queue, { failFast: false });

  const fields = lines().map(({ level, id, actor, queue, attempt, outcome, error }) => ({
    level,
    id,
    actor,
    queue,
    attempt,
    outcome,
    error,
  }));
  const common = { id: sent.id, actor: name, queue };
  assert.deepEqual(fields, [
    {
      level: "warn",
      ...common,
      attempt: 1,
      outcome: "retried",
      error: { name: "TypeError", message: "attempt 1 failed" },
    },
    {
      level: "error",
      ...common,
      attempt: 2,
      outcome: "dead",
      error: { name: "TypeError", message: "attempt 2 failed" },
    },
  ]);
  assert.equal(typeof lines()[0].delay, "number");
  assert(raw.every((line) => !line.includes(ARGUMENT)), "an argument was logged");
});

Deno.test("logs: given an unknown actor and invalid arguments, then the dead-letter lines have fields, not the values", async () => {
  const { raw, logger, lines } = recording();
  const broker = new MemoryBroker({ logger });
  const queue = unique("q");
  const strict = actor(unique("strict"), (_n: number) => {}, {
    broker,
    queue,
    args: v.tuple([v.number()]),
  });
  const unknown = new Message({ queue, actor: "nobody-declared-this", args: [ARGUMENT] });
  const invalid = new Message({ queue, actor: strict.name, args: [ARGUMENT] });
  await broker.enqueue([unknown, invalid]);
  await broker.join(queue, { failFast: false });
  assert.deepEqual(
    lines().map(({ level, id, actor, queue, attempt, outcome }) => ({
      level,
      id,
      actor,
      queue,
      attempt,
      outcome,
    })),
    [
      { level: "error", id: unknown.id, actor: unknown.actor, queue, attempt: 1, outcome: "dead" },
      { level: "error", id: invalid.id, actor: strict.name, queue, attempt: 1, outcome: "dead" },
    ],
  );
  assert(raw.every((line) => !line.includes(ARGUMENT)), "an argument was logged");
});

Deno.test("logs: given a push that fails, then the line has queue, count and error, never the URL or the key", async () => {
  const seen: { message: string; fields?: LogFields }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message, fields) => void seen.push({ message, fields }),
    error() {},
  };
  const push = new Push({
    url: "https://user:pw@worker.example/skiff/messages?token=abc",
    signingKey: SECRET,
    fetch: () => Promise.reject(new TypeError("fetch failed")),
    logger,
  });
  await push.push("default", ["a", "b"]);
  assert.equal(seen.length, 1);
  assert.deepEqual({ ...seen[0].fields, error: undefined }, {
    queue: "default",
    count: 2,
    error: undefined,
  });
  const { raw, logger: json } = recording();
  json.warn(seen[0].message, seen[0].fields);
  for (const secret of ["pw", "token=abc", SECRET, "worker.example"]) {
    assert(!raw[0].includes(secret), secret);
  }
});
