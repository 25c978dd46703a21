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
