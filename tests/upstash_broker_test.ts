import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { brokerConformance, silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, restEnv, testPrefix } from "./_env.ts";

const redis = restClient();

/** A namespace no other test uses: the test prefix without its trailing colon. */
function namespace(name: string): string {
  return testPrefix(name).slice(0, -1);
}

brokerConformance(
  "UpstashBroker",
  (options) => new UpstashBroker({ ...options, redis, namespace: namespace("conformance") }),
  { cleanup: (broker) => cleanup(redis, `${(broker as UpstashBroker).namespace}:`) },
);

async function withBroker(
  name: string,
  fn: (broker: UpstashBroker, queue: string) => Promise<void>,
  client: Redis = redis,
): Promise<void> {
  const broker = new UpstashBroker({
    redis: client,
    namespace: namespace(name),
    logger: silentLogger,
  });
  try {
    await fn(broker, `q-${crypto.randomUUID().slice(0, 8)}`);
  } finally {
    await cleanup(redis, `${broker.namespace}:`);
  }
}

Deno.test("UpstashBroker: given messages in every state, then the queue's five keys and its call records share one hash tag", () =>
  withBroker("keys", async (broker, queue) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    await task.sendWithOptions({ delay: 1_000 });
    await broker.enqueue([task.message(), task.message()]);
    const [claim] = await broker.claim(queue);
    await broker.nack(queue, claim, { kind: "dead", reason: "x" });
    const [, keys] = await redis.scan(0, { match: `${broker.namespace}:*`, count: 1000 });
    const base = `${broker.namespace}:{${queue}}:`;
    const calls = keys.filter((key) => key.startsWith(`${base}call:`));
    // One record per call that changed state: two sends, the claim, the nack.
    assert.equal(calls.length, 4);
    for (const key of calls) assert.ok((await redis.pttl(key)) > 0, key);
    assert.deepEqual(
      keys.filter((key) => !calls.includes(key)).sort(),
      ["dead", "msg", "ready", "reason", "timers"].map((k) => base + k),
    );
  }));

Deno.test("UpstashBroker: given a client without automatic deserialization, then bodies and ids stay strings", () => {
  const { url, token } = restEnv();
  const raw = new Redis({ url, token, enableTelemetry: false, automaticDeserialization: false });
  return withBroker("raw", async (broker, queue) => {
    const echo = actor(`echo-${crypto.randomUUID()}`, (_n: number) => {}, { broker, queue });
    const [sent] = await broker.enqueue([echo.message(42).copy({ id: "123" })]);
    const [claim] = await broker.claim(queue);
    assert.equal(claim.id, "123");
    assert.equal(claim.body, sent.encode());
    assert.deepEqual(await broker.ack(queue, [claim]), [true]);
  }, raw);
});

Deno.test("UpstashBroker: given numeric-looking ids, when claimed through the default client, then they stay strings", () =>
  withBroker("ids", async (broker, queue) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    await broker.enqueue([
      task.message().copy({ id: "7" }),
      task.message().copy({ id: "true" }),
    ]);
    const claims = await broker.claim(queue, { count: 5 });
    assert.deepEqual(claims.map((c) => c.id).sort(), ["7", "true"]);
    assert.equal(typeof JSON.parse(claims[0].body), "object");
    const byId = await broker.claimById(queue, ["7", "null"]);
    assert.deepEqual(byId, {
      claimed: [],
      unclaimed: [{ id: "7", state: "leased" }, { id: "null", state: "missing" }],
    });
  }));

Deno.test("UpstashBroker: given batches over 1000, when sent, acked and purged, then all are handled", () =>
  withBroker("large", async (broker, queue) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    const messages = Array.from({ length: 1_500 }, () => task.message());
    await broker.enqueue(messages);
    assert.equal((await broker.stats(queue)).ready, 1_500);
    const claims = [
      ...await broker.claim(queue, { count: 5_000 }),
      ...await broker.claim(queue, { count: 5_000 }),
    ];
    assert.equal(claims.length, 1_500);
    assert.deepEqual(claims.map((c) => c.id), messages.map((m) => m.id));
    const done = await broker.ack(queue, claims);
    assert.equal(done.filter(Boolean).length, 1_500);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  }));

Deno.test("UpstashBroker: given a batch larger than a request may be, when sent, then it goes in several", () =>
  withBroker("huge", async (broker, queue) => {
    const task = actor(`task-${crypto.randomUUID()}`, (_s: string) => {}, { broker, queue });
    const big = "x".repeat(250_000);
    // 15 MB: over the 10 MiB that Upstash (and the local server) accept in one request.
    await broker.enqueue(Array.from({ length: 60 }, () => task.message(big)));
    assert.equal((await broker.stats(queue)).ready, 60);
  }));

Deno.test("UpstashBroker: given many dead letters, when purged, then all go in runs of 1000", () =>
  withBroker("purge", async (broker, queue) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    await broker.enqueue(Array.from({ length: 1_200 }, () => task.message()));
    const claims = await broker.claim(queue, { count: 1_000 });
    claims.push(...await broker.claim(queue, { count: 1_000 }));
    for (const claim of claims) {
      assert.ok(await broker.nack(queue, claim, { kind: "dead", reason: "test" }));
    }
    assert.equal((await broker.stats(queue)).dead, 1_200);
    assert.equal(await broker.purgeDead(queue), 1_200);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  }));

Deno.test("UpstashBroker: given bad options, then the constructor throws TypeError", () => {
  assert.throws(() => new UpstashBroker({ redis, namespace: "a{b}" }), TypeError);
  assert.throws(() => new UpstashBroker({ redis, namespace: "" }), TypeError);
  assert.throws(() => new UpstashBroker({} as never), TypeError);
});

Deno.test("UpstashBroker: given Redis failing, then the error names the queue and never quotes a body", async () => {
  const { url } = restEnv();
  const wrong = new Redis({ url, token: "wrong-token", enableTelemetry: false, retry: false });
  const broker = new UpstashBroker({ redis: wrong, logger: silentLogger });
  const task = actor(`task-${crypto.randomUUID()}`, (_s: string) => {}, { broker, queue: "q" });
  const error = await task.send("secret-payload").catch((e) => e);
  assert.ok(error instanceof Error);
  assert.match(error.message, /^Cannot send messages of queue 'q': UpstashError: Unauthorized/);
  assert.ok(!error.message.includes("secret-payload"));
});
