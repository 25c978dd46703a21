import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import type { Logger, NackOutcome } from "../src/broker.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import type { MessageContext } from "../src/context.ts";
import * as v from "valibot";
import { SkipMessage } from "../src/errors.ts";
import { Message } from "../src/message.ts";
import { AgeLimit } from "../src/middleware/age_limit.ts";
import { Middleware, type ProcessOutcome } from "../src/middleware/middleware.ts";
import { computeBackoff, Retries } from "../src/middleware/retries.ts";
import { TimeLimit } from "../src/middleware/time_limit.ts";
import { declareActorOptions } from "../src/options.ts";
import { processMessage } from "../src/process.ts";
import { silentLogger } from "./broker_conformance.ts";

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;

class Recorder extends Middleware {
  constructor(readonly tag: string, readonly log: string[]) {
    super();
  }
  override beforeEnqueue(): void {
    this.log.push(`${this.tag}.beforeEnqueue`);
  }
  override afterEnqueue(): void {
    this.log.push(`${this.tag}.afterEnqueue`);
  }
  override beforeProcessMessage(): void {
    this.log.push(`${this.tag}.beforeProcess`);
  }
  override afterProcessMessage(_c: MessageContext, outcome: ProcessOutcome): void {
    this.log.push(`${this.tag}.afterProcess:${outcome.failed ? "failed" : outcome.result}`);
  }
  override beforeAck(): void {
    this.log.push(`${this.tag}.beforeAck`);
  }
  override afterAck(): void {
    this.log.push(`${this.tag}.afterAck`);
  }
  override beforeNack(_c: MessageContext, outcome: NackOutcome): void {
    this.log.push(`${this.tag}.beforeNack:${outcome.kind}`);
  }
  override afterNack(_c: MessageContext, outcome: NackOutcome): void {
    this.log.push(`${this.tag}.afterNack:${outcome.kind}`);
  }
  override afterSkipMessage(): void {
    this.log.push(`${this.tag}.afterSkip`);
  }
}

function capture(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { ...silentLogger, errors, error: (line: string) => errors.push(line) };
}

Deno.test("middleware: given two middleware, when a message runs, then before-hooks run in order and after-hooks in reverse", async () => {
  const log: string[] = [];
  const broker = new MemoryBroker({
    logger: silentLogger,
    middleware: [new Recorder("A", log), new Recorder("B", log)],
  });
  const task = actor(unique("t"), () => "ok", { broker, queue: "order" });
  await task.send();
  await broker.join("order");
  assert.deepEqual(log, [
    "A.beforeEnqueue",
    "B.beforeEnqueue",
    "B.afterEnqueue",
    "A.afterEnqueue",
    "A.beforeProcess",
    "B.beforeProcess",
    "B.afterProcess:ok",
    "A.afterProcess:ok",
    "A.beforeAck",
    "B.beforeAck",
    "B.afterAck",
    "A.afterAck",
  ]);
});

Deno.test("middleware: given a failing actor with retries, then the nack hooks see the retry", async () => {
  const log: string[] = [];
  const broker = new MemoryBroker({ logger: silentLogger });
  broker.addMiddleware(new Recorder("R", log));
  const task = actor(unique("t"), () => {
    throw new Error("x");
  }, { broker, queue: "nack" });
  await task.send();
  // "any": stop at the first error; the default would wait out the 15 s backoff.
  await assert.rejects(broker.join("nack", { failFast: "any" }), { message: "x" });
  assert.deepEqual(log.slice(-3), [
    "R.afterProcess:failed",
    "R.beforeNack:retry",
    "R.afterNack:retry",
  ]);
});

Deno.test("middleware: given a hook that throws, then the error is logged and the message still runs", async () => {
  class Broken extends Middleware {
    override beforeProcessMessage(): void {
      throw new Error("hook bug");
    }
  }
  const logger = capture();
  const broker = new MemoryBroker({ logger });
  broker.addMiddleware(new Broken());
  let ran = false;
  const task = actor(unique("t"), () => {
    ran = true;
  }, { broker, queue: "broken" });
  await task.send();
  await broker.join("broken");
  assert.ok(ran);
  assert.deepEqual(logger.errors, [
    "Middleware 'Broken' failed in 'beforeProcessMessage' with Error; continuing",
  ]);
});

Deno.test("middleware: given SkipMessage from beforeProcessMessage, then the actor is skipped and the message acked", async () => {
  const log: string[] = [];
  class Skipper extends Middleware {
    override beforeProcessMessage(): void {
      throw new SkipMessage("not today");
    }
  }
  const broker = new MemoryBroker({ logger: silentLogger, middleware: [new Recorder("R", log)] });
  broker.addMiddleware(new Skipper());
  let ran = false;
  const task = actor(unique("t"), () => {
    ran = true;
  }, { broker, queue: "skip" });
  await task.send();
  const [claim] = await broker.claim("skip");
  const report = await processMessage(broker, "skip", claim);
  assert.equal(report.status, "skipped");
  assert.equal(ran, false);
  assert.deepEqual(log.slice(-4), ["R.beforeProcess", "R.afterSkip", "R.beforeAck", "R.afterAck"]);
  assert.deepEqual(await broker.stats("skip"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("middleware: given beforeEnqueue returning a message, then that message is written", async () => {
  class Bump extends Middleware {
    override beforeEnqueue(_b: unknown, message: Message): Message {
      return message.copy({ priority: 7 });
    }
  }
  const broker = new MemoryBroker({ logger: silentLogger });
  broker.addMiddleware(new Bump());
  const task = actor(unique("t"), () => {}, { broker, queue: "bump" });
  const sent = await task.send();
  assert.equal(sent.priority, 7);
});

Deno.test("middleware: given addMiddleware with before/after, then it is inserted there", () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const first = new Recorder("first", []);
  const last = new Recorder("last", []);
  broker.addMiddleware(first, { before: AgeLimit });
  broker.addMiddleware(last, { after: Retries });
  assert.deepEqual(broker.middleware.map((m) => m.name), [
    "Recorder",
    "AgeLimit",
    "TimeLimit",
    "Retries",
    "Recorder",
  ]);
  assert.equal(broker.middleware[0], first);
  const bare = new MemoryBroker({ middleware: [] });
  assert.throws(() => bare.addMiddleware(new Recorder("x", []), { before: Retries }), TypeError);
});

Deno.test("middleware: given a middleware declaring an option, then actors accept it and contexts read it", async () => {
  const option = `tenant${crypto.randomUUID().slice(0, 8)}`;
  const spec = { type: "string", expected: "a tenant id", perMessage: true } as const;
  class Tenant extends Middleware {
    override readonly actorOptions = { [option]: spec };
    seen: unknown[] = [];
    override beforeProcessMessage(context: MessageContext): void {
      this.seen.push(context.option(option));
    }
  }
  declareActorOptions({ [option]: spec });
  assert.throws(() => declareActorOptions({ [option]: { ...spec } }), TypeError);
  const tenant = new Tenant();
  const broker = new MemoryBroker({ logger: silentLogger, middleware: [tenant] });
  const task = actor(unique("t"), () => {}, { broker, queue: "tenant", [option]: "acme" } as never);
  await task.send();
  await task.sendWithOptions({ [option]: "other" } as never);
  await broker.join("tenant");
  assert.deepEqual(tenant.seen, ["acme", "other"]);
});

Deno.test("Retries: computeBackoff stays between minBackoff and maxBackoff, doubling", () => {
  const bounds = { minBackoff: 15_000, maxBackoff: 7 * 86_400_000 };
  for (const random of [() => 0, () => 0.999999]) {
    let previous = 0;
    for (let retry = 1; retry <= 40; retry++) {
      const delay = computeBackoff(retry, { ...bounds, random });
      assert.ok(delay >= bounds.minBackoff && delay <= bounds.maxBackoff);
      assert.ok(delay >= previous);
      previous = delay;
    }
    assert.equal(previous, bounds.maxBackoff);
  }
  assert.equal(computeBackoff(1, { ...bounds, random: () => 0 }), 15_000);
  assert.equal(computeBackoff(2, { ...bounds, random: () => 0 }), 30_000);
});

Deno.test("Retries: given broker-level defaults and an injected random, then retries use them", async () => {
  let time = 0;
  const broker = new MemoryBroker({
    now: () => time,
    logger: silentLogger,
    middleware: [new Retries({ maxRetries: 1, minBackoff: 100, random: () => 0 })],
  });
  const outcomes: NackOutcome[] = [];
  class Spy extends Middleware {
    override afterNack(_c: MessageContext, outcome: NackOutcome): void {
      outcomes.push(outcome);
    }
  }
  broker.addMiddleware(new Spy());
  const task = actor(unique("t"), () => {
    throw new TypeError("bad");
  }, { broker, queue: "defaults" });
  await task.send();
  await broker.join("defaults", { failFast: false });
  time = 100;
  await broker.join("defaults", { failFast: false });
  assert.deepEqual(outcomes.map((o) => o.kind), ["retry", "dead"]);
  assert.equal((outcomes[0] as { at: number }).at, 100);
  assert.equal(
    (outcomes[1] as { reason: string }).reason,
    "Retries exhausted after 1 retry: TypeError: bad",
  );
});

Deno.test("Retries: given no Retries middleware, then a failure is dead at once with the error", async () => {
  const broker = new MemoryBroker({ logger: silentLogger, middleware: [] });
  const task = actor(unique("t"), () => {
    throw new RangeError("nope");
  }, { broker, queue: "bare" });
  await task.send();
  await assert.rejects(broker.join("bare"), RangeError);
  const [dead] = await broker.deadLetters("bare");
  assert.equal(dead.reason, "RangeError: nope");
});

Deno.test("TimeLimit and AgeLimit: given invalid defaults, then the constructors refuse them", () => {
  assert.throws(() => new TimeLimit({ timeLimit: 0 }), RangeError);
  assert.equal(new AgeLimit({ maxAge: 5 }).maxAge, 5);
});

Deno.test("AgeLimit: given a delayed message, then its age counts from its eta", async () => {
  let time = 0;
  const broker = new MemoryBroker({ now: () => time, logger: silentLogger });
  let runs = 0;
  const task = actor(unique("t"), () => {
    runs++;
  }, { broker, queue: "age", maxAge: 100 });
  await task.sendWithOptions({ delay: 1_000 });
  time = 1_050;
  await broker.join("age");
  assert.equal(runs, 1);
});

Deno.test("dead letters: given an undecodable body, an unknown actor, a schema failure, a 'throws' error and exhausted retries, then each log line says why, without arguments", async () => {
  const logger = capture();
  const broker = new MemoryBroker({ logger });
  const queue = unique("dead");
  const secret = "s3cret-argument";
  const strict = actor(unique("strict"), (_n: number) => {}, {
    broker,
    queue,
    args: v.tuple([v.number()]),
  });
  class Fatal extends Error {
    override name = "Fatal";
  }
  const fatal = actor(unique("fatal"), (s: string) => {
    throw new Fatal(`refused ${s}`);
  }, { broker, queue, throws: [Fatal] });
  const flaky = actor(unique("flaky"), (s: string) => {
    throw new RangeError(`refused ${s}`);
  }, { broker, queue, maxRetries: 1, minBackoff: 1, maxBackoff: 1 });
  await broker.enqueue([
    new Message({ queue, actor: "nobody-declared-this", args: [secret] }),
    new Message({ queue, actor: strict.name, args: [secret] }),
    fatal.message(secret),
    flaky.message(secret),
  ]);
  await assert.rejects(broker.join(queue));
  // An undecodable body, written as a broker that lost its encoder would.
  const [claim] = await broker.claimById(queue, [(await fatal.send(secret)).id]).then((r) =>
    r.claimed
  );
  await processMessage(broker, queue, { ...claim, body: `{"not":"${secret}"` });
  await broker.join(queue, { failFast: false });

  const lines = logger.errors.filter((line) => line.includes("ead-letter"));
  assert.ok(lines.every((line) => !line.includes(secret)), lines.join("\n"));
  const ids = (await broker.deadLetters(queue)).map((d) => d.id);
  assert.equal(ids.length, 5);
  const has = (part: string) => assert.ok(lines.some((l) => l.includes(part)), part);
  has(
    `of actor 'nobody-declared-this': TypeError: Cannot process message: no actor named 'nobody-declared-this' is declared`,
  );
  has(
    `of actor '${strict.name}': TypeError: Cannot process message of actor '${strict.name}': argument 0 must be number`,
  );
  has(`with Fatal; dead-lettered (listed in 'throws', not retried)`);
  has(
    `of actor '${flaky.name}' failed on attempt 2 with RangeError; dead-lettered (retries exhausted after 1 retry)`,
  );
  has(`of queue '${queue}': TypeError: Cannot decode message: the body is not JSON`);
});
