import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import type { Effects } from "../src/broker.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { settleRequest } from "../src/brokers/upstash/_effects.ts";
import { COMPOSITION_SCRIPTS, SETTLE } from "../src/brokers/upstash/scripts.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";

const redis = restClient();
const KEY_VARIABLES = new Set([
  "ready",
  "timers",
  "msg",
  "dead",
  "reason",
  "state",
  "call",
  "flow",
  "parked",
  "counter",
]);

Deno.test("settle script: it loads, its SHA matches, and it names keys only through KEYS", async () => {
  for (const script of COMPOSITION_SCRIPTS) {
    assert.ok(script.source.startsWith("#!lua flags=allow-key-locking\n"), script.name);
    assert.equal(await redis.scriptLoad(script.source), await script.sha(), script.name);
    const calls = [...script.source.matchAll(/redis\.call\("(\w+)", ([^,)]+)/g)];
    assert.ok(calls.length > 0, script.name);
    for (const [, command, key] of calls) {
      assert.ok(KEY_VARIABLES.has(key), `${script.name}: ${command} on ${key}`);
    }
    // Every key variable is bound from KEYS, never built from strings.
    assert.doesNotMatch(script.source, /(ready|timers|msg|state)\s*=\s*[^K\n]*\.\./);
  }
});

async function withBroker(
  name: string,
  fn: (broker: UpstashBroker, namespace: string) => Promise<void>,
): Promise<void> {
  const namespace = testPrefix(name).slice(0, -1);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  try {
    await fn(broker, namespace);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
}

Deno.test("settle script: given a stale token, then nothing is written", () =>
  withBroker("settle-stale", async (broker) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue: "q" });
    const [next] = broker.encodeMessages([task.message()]).records;
    await task.send();
    const [claim] = await broker.claim("q");
    const stale = { id: claim.id, token: `${crypto.randomUUID()}:0` };
    const result = await broker.settle("q", stale, {
      kind: "ack",
      effects: { messages: [next] },
    });
    assert.deepEqual(result, { done: false, enqueued: [] });
    assert.deepEqual(await broker.stats("q"), { ready: 0, delayed: 0, leased: 1, dead: 0 });
  }));

Deno.test("settle script: given the same call run twice (a retried request), then the second writes nothing and answers what the first did", () =>
  withBroker("settle-twice", async (broker, namespace) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue: "q" });
    await task.send();
    const [claim] = await broker.claim("q");
    const [next, callback] = broker.encodeMessages([
      task.message(),
      task.messageWithOptions({ delay: 60_000 }),
    ]).records;
    const effects: Effects = { messages: [next, callback] };
    const { keys, args } = settleRequest("q", claim, { kind: "ack", effects }, {
      namespace,
      now: Date.now(),
      deadLetterTtl: 1_000,
      completedTtl: 1_000,
    });
    const first = await SETTLE.run(redis, keys, args);
    const second = await SETTLE.run(redis, keys, args);
    assert.deepEqual(first, [1, [["q", next.id, "r"], ["q", callback.id, "d"]], 0, 0]);
    assert.deepEqual(second, first);
    // A new call with the same lease (fresh call record) is stale.
    const again = settleRequest("q", claim, { kind: "ack", effects }, {
      namespace,
      now: Date.now(),
      deadLetterTtl: 1_000,
      completedTtl: 1_000,
    });
    assert.deepEqual(await SETTLE.run(redis, again.keys, again.args), [0]);
    assert.deepEqual(await broker.stats("q"), { ready: 1, delayed: 1, leased: 0, dead: 0 });
  }));

Deno.test("settle script: given effects naming a queue it has no keys for, then it fails before its first write", () =>
  withBroker("settle-keys", async (broker, namespace) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue: "q" });
    await task.send();
    const [claim] = await broker.claim("q");
    const [next] = broker.encodeMessages([task.message()]).records;
    const { keys, args } = settleRequest("q", claim, {
      kind: "ack",
      effects: { messages: [next] },
    }, { namespace, now: Date.now(), deadLetterTtl: 1_000, completedTtl: 1_000 });
    const effects = JSON.parse(String(args[8]));
    effects.w[0][0] = "elsewhere";
    args[8] = JSON.stringify(effects);
    await assert.rejects(SETTLE.run(redis, keys, args), /a queue has no keys/);
    assert.deepEqual(await broker.stats("q"), { ready: 0, delayed: 0, leased: 1, dead: 0 });
  }));

Deno.test("settle script: given no effects, then settle costs what ack and nack cost (it does not run)", () =>
  withBroker("settle-plain", async (broker) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue: "q" });
    await task.send();
    await task.send();
    const [one, two] = await broker.claim("q", { count: 2 });
    assert.deepEqual(await broker.settle("q", one, { kind: "ack", effects: {} }), {
      done: true,
      enqueued: [],
    });
    assert.deepEqual(await broker.settle("q", two, { kind: "dead", reason: "x" }), {
      done: true,
      enqueued: [],
    });
    assert.deepEqual(await broker.stats("q"), { ready: 0, delayed: 0, leased: 0, dead: 1 });
  }));
