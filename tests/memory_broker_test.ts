import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { brokerConformance, silentLogger } from "./broker_conformance.ts";

brokerConformance("MemoryBroker", (options) => new MemoryBroker(options));

Deno.test("MemoryBroker: given a queue that has never been used, then its stats are zero", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  assert.deepEqual(await broker.stats("never-used"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("MemoryBroker: given bad claim arguments, then they are refused eagerly", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  await assert.rejects(async () => await broker.claim("bad queue"), TypeError);
  await assert.rejects(async () => await broker.claim("q", { count: 0 }), RangeError);
  assert.throws(() => broker.claim("q", { leaseMs: -1 }), {
    name: "RangeError",
    message:
      "Cannot claim messages: 'leaseMs' must be a positive integer number of milliseconds, received -1",
  });
});

Deno.test("MemoryBroker: given a limit option out of range, then the constructor throws", () => {
  assert.throws(() => new MemoryBroker({ maxMessageBytes: 0 }), RangeError);
});

Deno.test("MemoryBroker: given a smaller maxMessageBytes, then send enforces it", async () => {
  const broker = new MemoryBroker({ logger: silentLogger, maxMessageBytes: 200 });
  const task = actor(`task-${crypto.randomUUID()}`, (_s: string) => {}, { broker, queue: "small" });
  await task.send("fits");
  await assert.rejects(task.send("x".repeat(200)), { name: "MessageTooLarge" });
});

Deno.test("MemoryBroker: given a worker holding a lease, when joined, then join waits for it", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = `q-${crypto.randomUUID()}`;
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  await task.send();
  const [claim] = await broker.claim(queue);
  let joined = false;
  const join = broker.join(queue).then(() => joined = true);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(joined, false);
  await broker.ack(queue, [claim]);
  await join;
  assert.equal(joined, true);
});

Deno.test("MemoryBroker: given a join timeout, when a lease is held, then JoinTimeout", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = `q-${crypto.randomUUID()}`;
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  await task.send();
  await broker.claim(queue);
  await assert.rejects(broker.join(queue, { timeout: 5 }), { name: "JoinTimeout" });
});

// join() as Dramatiq's: it waits for delays and retries in backoff, and raises only for
// messages that died (failFast true), never (false), or at the first error ("any").

class ValueError extends Error {
  override name = "ValueError";
}

Deno.test("MemoryBroker join: given an actor that fails twice, then join waits through its retries and raises nothing", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = `q-${crypto.randomUUID()}`;
  let attempts = 0;
  const flaky = actor(`flaky-${crypto.randomUUID()}`, () => {
    if (++attempts < 3) throw new ValueError(`attempt ${attempts}`);
  }, { broker, queue, maxRetries: 5, minBackoff: 1, maxBackoff: 5 });
  await flaky.send();
  await broker.join(queue);
  assert.equal(attempts, 3);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("MemoryBroker join: given an actor that always fails, then join raises its error once the message is dead, not before", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = `q-${crypto.randomUUID()}`;
  let attempts = 0;
  const doomed = actor(`doomed-${crypto.randomUUID()}`, () => {
    throw new ValueError(`attempt ${++attempts}`);
  }, { broker, queue, maxRetries: 2, minBackoff: 1, maxBackoff: 5 });
  await doomed.send();
  await assert.rejects(broker.join(queue), { name: "ValueError", message: "attempt 3" });
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 1 });
  await broker.join(queue); // raised once: the next join has nothing to raise
});

Deno.test("MemoryBroker join: given failFast 'any', then the first error raises at once and its retry stays delayed; false raises nothing", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = `q-${crypto.randomUUID()}`;
  let attempts = 0;
  const doomed = actor(`doomed-${crypto.randomUUID()}`, () => {
    throw new ValueError(`attempt ${++attempts}`);
  }, { broker, queue, maxRetries: 1, minBackoff: 60_000, maxBackoff: 60_000 });
  await doomed.send();
  await assert.rejects(broker.join(queue, { failFast: "any" }), { message: "attempt 1" });
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 1, leased: 0, dead: 0 });
  await assert.rejects(broker.join(queue, { timeout: 30 }), { name: "JoinTimeout" });

  const other = `q-${crypto.randomUUID()}`;
  const once = actor(`once-${crypto.randomUUID()}`, () => {
    throw new ValueError("dead at once");
  }, { broker, queue: other, maxRetries: 0 });
  await once.send();
  await broker.join(other, { failFast: false });
  await broker.join(other); // the error was dropped by the join that did not raise it
  assert.equal((await broker.stats(other)).dead, 1);
});

Deno.test("MemoryBroker join: given a message delayed on the real clock, then join waits for it to come due and runs it", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = `q-${crypto.randomUUID()}`;
  const seen: string[] = [];
  const log = actor(`log-${crypto.randomUUID()}`, (s: string) => {
    seen.push(s);
  }, { broker, queue });
  await log.sendWithOptions({ args: ["later"], delay: 20 });
  await log.send("now");
  await broker.join(queue);
  assert.deepEqual(seen, ["now", "later"]);
});

Deno.test("MemoryBroker join: given an injected clock that stands still, then join returns with the delays not yet due, and runs them once the clock moves", async () => {
  const clock = { time: 1_000 };
  const broker = new MemoryBroker({ now: () => clock.time, logger: silentLogger });
  const queue = `q-${crypto.randomUUID()}`;
  const seen: string[] = [];
  const log = actor(`log-${crypto.randomUUID()}`, (s: string) => {
    seen.push(s);
  }, { broker, queue });
  await log.sendWithOptions({ args: ["later"], delay: 5_000 });
  await log.send("now");
  await broker.join(queue);
  assert.deepEqual(seen, ["now"]);
  assert.equal((await broker.stats(queue)).delayed, 1);
  clock.time += 5_000;
  await broker.join(queue);
  assert.deepEqual(seen, ["now", "later"]);
});

Deno.test("MemoryBroker: given held and stale leases, when extended together, then each answer says whether it is held", async () => {
  const clock = { time: 0 };
  const broker = new MemoryBroker({ now: () => clock.time, logger: silentLogger });
  const queue = `q-${crypto.randomUUID()}`;
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  await task.send();
  await task.send();
  const [a, b] = await broker.claim(queue, { count: 2, leaseMs: 10 });
  await broker.ack(queue, [b]);
  clock.time = 9;
  assert.deepEqual(await broker.extendLeases(queue, [a, b], { leaseMs: 10 }), [true, false]);
  clock.time = 15; // past the first lease, within the extended one
  assert.deepEqual(await broker.claim(queue), []);
  assert.throws(() => broker.extendLeases(queue, [a], { leaseMs: 0 }), RangeError);
});
