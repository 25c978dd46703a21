import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { type Actor, actor } from "../src/actor.ts";
import { UpstashBroker, type UpstashBrokerClient } from "../src/brokers/upstash.ts";
import { luaReadOnly } from "../src/brokers/upstash/_lua.ts";
import { callKey, callKeys, queueKeys } from "../src/brokers/upstash/_keys.ts";
import { runPipelined } from "../src/brokers/upstash/_run.ts";
import { CLAIM, STATE, UPSTASH_SCRIPTS, WRITE } from "../src/brokers/upstash/scripts.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { Script } from "../src/redis/script.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, testPrefix, testRedisUrl } from "./_env.ts";

const redis = restClient();
// `dedup` is KEYS[7] of WRITE_DEDUP; `rate`, a queue's rate window, is a key the claims take;
// `counter`, a minute's count of finished messages, KEYS[7] of ACK and NACK.
const KEY_VARIABLES = new Set([
  "ready",
  "timers",
  "msg",
  "dead",
  "reason",
  "call",
  "dedup",
  "rate",
  "once",
  "flow",
  "parked",
  "counter",
]);

Deno.test("upstash scripts: each loads, its SHA matches, and it names keys only through KEYS", async () => {
  for (const script of UPSTASH_SCRIPTS) {
    assert.match(script.source, /^#!lua flags=allow-key-locking(,no-writes)?\n/, script.name);
    assert.equal(await redis.scriptLoad(script.source), await script.sha(), script.name);
    const calls = [...script.source.matchAll(/redis\.call\("(\w+)", ([^,)]+)/g)];
    assert.ok(calls.length > 0, script.name);
    for (const [, command, key] of calls) {
      assert.ok(KEY_VARIABLES.has(key), `${script.name}: ${command} on ${key}`);
    }
  }
  assert.equal(new Set(UPSTASH_SCRIPTS.map((s) => s.name)).size, UPSTASH_SCRIPTS.length);
});

Deno.test("upstash scripts: given the no-writes flag, then Redis runs the state script and refuses a write", async () => {
  const keys = queueKeys(testPrefix("ro").slice(0, -1), "q");
  assert.ok(STATE.source.startsWith("#!lua flags=allow-key-locking,no-writes\n"));
  assert.deepEqual(await STATE.run(redis, keys, [0, "a", "b"]), ["missing", "missing"]);
  const writer = new Script("skiff-test-writer", luaReadOnly(`redis.call("SET", ready, "x")`));
  await assert.rejects(() => writer.run(redis, keys, []), /read-only|Write commands/i);
  assert.equal(await redis.exists(keys[0]), 0);
});

/** A client that records the ARGV of each script call, or fails every one. */
function recording(
  client: Redis,
  fail = false,
): { client: UpstashBrokerClient; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const recorded = {
    evalsha: (...args: Parameters<Redis["evalsha"]>) => {
      calls.push(args[2] as unknown[]);
      return fail ? Promise.reject(new Error("down")) : client.evalsha(...args);
    },
    eval: (...args: Parameters<Redis["eval"]>) => client.eval(...args),
    pipeline: () => client.pipeline(),
  };
  return { client: recorded as unknown as UpstashBrokerClient, calls };
}

Deno.test("upstash scripts: given acks of one queue in the same turn, then they share one script call and each caller gets its own answers", async () => {
  const namespace = testPrefix("coalesce").slice(0, -1);
  const options = { namespace, logger: silentLogger, now: () => 1_700_000_000_000 };
  const { client, calls } = recording(redis);
  const broker = new UpstashBroker({ ...options, redis: client });
  const queue = "q";
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  try {
    await broker.enqueue([task.message(), task.message(), task.message(), task.message()]);
    const [a, b, c, d] = await broker.claim(queue, { count: 4 });
    const stale = { id: a.id, token: "stale" };
    calls.length = 0;
    const answers = await Promise.all([
      broker.ack(queue, [a]),
      broker.ack(queue, [b, stale]),
      broker.ack(queue, []),
      broker.ack(queue, [c, a]),
    ]);
    assert.deepEqual(answers, [[true], [true, false], [], [true, false]]);
    assert.equal(calls.length, 1);
    // A lone ack still runs alone: the single-lease path, 4 commands.
    assert.deepEqual(await broker.ack(queue, [d]), [true]);
    assert.deepEqual(calls.at(-1), [d.id, d.token]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });

    const failing = new UpstashBroker({ ...options, redis: recording(redis, true).client });
    const results = await Promise.allSettled([
      failing.ack(queue, [a]),
      failing.ack(queue, [b]),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    await assert.rejects(async () => await broker.ack("bad queue{", [a]), TypeError);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

/** A client that runs every script twice, as a request retried after a lost response. */
function twice(client: Redis): { client: UpstashBrokerClient; answers: unknown[][] } {
  const answers: unknown[][] = [];
  const run = <A extends unknown[]>(fn: (...args: A) => Promise<unknown>) => async (...args: A) => {
    const first = await fn(...args);
    const second = await fn(...args);
    answers.push([first, second]);
    return second;
  };
  const doubled = {
    evalsha: run((...args: Parameters<Redis["evalsha"]>) => client.evalsha(...args)),
    eval: run((...args: Parameters<Redis["eval"]>) => client.eval(...args)),
    pipeline: () => client.pipeline(),
  };
  return { client: doubled as unknown as UpstashBrokerClient, answers };
}

interface Pair {
  /** A broker whose scripts all run twice. */
  doubled: UpstashBroker;
  /** A plain broker on the same keys. */
  broker: UpstashBroker;
  /** What each doubled script answered, first and second run. */
  answers: unknown[][];
  queue: string;
  task: Actor<[], void>;
}

async function withPair(name: string, fn: (pair: Pair) => Promise<void>): Promise<void> {
  const namespace = testPrefix(name).slice(0, -1);
  const { client, answers } = twice(redis);
  const options = { namespace, logger: silentLogger, now: () => 1_700_000_000_000 };
  const broker = new UpstashBroker({ ...options, redis });
  const doubled = new UpstashBroker({ ...options, redis: client });
  const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  try {
    await fn({ doubled, broker, answers, queue, task });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
}

Deno.test("upstash scripts: given a send run twice, then the message is stored once and both runs answer the same", () =>
  withPair("w2", async ({ doubled, broker, answers, queue, task }) => {
    await doubled.enqueue([task.message()]);
    await doubled.enqueue([task.message(), task.message(), task.message()]);
    assert.deepEqual(answers, [[1, 1], [3, 3]]);
    assert.deepEqual(await broker.stats(queue), { ready: 4, delayed: 0, leased: 0, dead: 0 });
  }));

Deno.test("upstash scripts: given a claim run twice, then both runs answer the same leases and nothing else is leased", () =>
  withPair("c2", async ({ doubled, broker, answers, queue, task }) => {
    const sent = await broker.enqueue([task.message(), task.message(), task.message()]);
    const claims = await doubled.claim(queue, { count: 2 });
    assert.deepEqual(claims.map((c) => c.id), [sent[0].id, sent[1].id]);
    assert.deepEqual(answers[0][0], answers[0][1]);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 0, leased: 2, dead: 0 });
    assert.deepEqual(await broker.ack(queue, claims), [true, true]);
  }));

Deno.test("upstash scripts: given an idle claim run twice, then both answer nothing", () =>
  withPair("i2", async ({ doubled, answers, queue }) => {
    assert.deepEqual(await doubled.claim(queue), []);
    assert.deepEqual(answers[0][0], answers[0][1]);
  }));

Deno.test("upstash scripts: given a claim by id run twice, then the second run answers the same claim", () =>
  withPair("b2", async ({ doubled, broker, queue, task }) => {
    const [sent] = await broker.enqueue([task.message()]);
    const { claimed, unclaimed } = await doubled.claimById(queue, [sent.id, "nope"]);
    assert.deepEqual(claimed.map((c) => c.id), [sent.id]);
    assert.deepEqual(unclaimed, [{ id: "nope", state: "missing" }]);
    assert.deepEqual(await broker.ack(queue, claimed), [true]);
  }));

Deno.test("upstash scripts: given an ack run twice, then both runs answer acked, and the message is gone", () =>
  withPair("a2", async ({ doubled, broker, answers, queue, task }) => {
    await broker.enqueue([task.message(), task.message()]);
    const [one, two] = await broker.claim(queue, { count: 2 });
    assert.deepEqual(await doubled.ack(queue, [one]), [true]);
    assert.deepEqual(await doubled.ack(queue, [two, two]), [true, false]);
    assert.deepEqual(answers, [[[1], [1]], [[1, 0], [1, 0]]]);
    // A new call (not a retry) with the same lease is stale: the call record is per call.
    assert.deepEqual(await broker.ack(queue, [one]), [false]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    assert.deepEqual((await broker.claimById(queue, [one.id])).unclaimed, [
      { id: one.id, state: "missing" },
    ]);
  }));

Deno.test("upstash scripts: given a nack run twice, then it is retried or dead once, and both runs answer done", () =>
  withPair("n2", async ({ doubled, broker, answers, queue, task }) => {
    await broker.enqueue([task.message(), task.message()]);
    const [one, two] = await broker.claim(queue, { count: 2 });
    assert.equal(await doubled.nack(queue, one, { kind: "retry", at: 1_700_000_005_000 }), true);
    assert.equal(await doubled.nack(queue, two, { kind: "dead", reason: "bad" }), true);
    assert.deepEqual(answers, [[1, 1], [1, 1]]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 1, leased: 0, dead: 1 });
    assert.deepEqual((await broker.deadLetters(queue)).map((d) => [d.id, d.reason]), [
      [two.id, "bad"],
    ]);
  }));

Deno.test("upstash scripts: given a release, an extension, a requeue and a purge run twice, then each happens once and both runs answer the same", () =>
  withPair("r2", async ({ doubled, broker, answers, queue, task }) => {
    await broker.enqueue([task.message(), task.message(), task.message()]);
    const [one, two, three] = await broker.claim(queue, { count: 3 });
    assert.equal(await doubled.extendLease(queue, two, { leaseMs: 60_000 }), true);
    assert.deepEqual(await doubled.release(queue, [one]), [true]);
    await broker.nack(queue, two, { kind: "dead", reason: "x" });
    assert.equal(await doubled.requeue(queue, [two.id]), 1);
    await broker.nack(queue, three, { kind: "dead", reason: "x" });
    assert.equal(await doubled.purgeDead(queue), 1);
    assert.deepEqual(answers, [[1, 1], [[1], [1]], [1, 1], [1, 1]]);
    assert.deepEqual(await broker.stats(queue), { ready: 2, delayed: 0, leased: 0, dead: 0 });
  }));

Deno.test("upstash scripts: given a script Redis has not seen, when run in a pipeline, then EVAL takes over", async () => {
  const namespace = testPrefix("noscript").slice(0, -1);
  const fresh = new Script<number>("fresh-write", `${WRITE.source}-- ${crypto.randomUUID()}\n`);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const keys = (queue: string) => callKeys(namespace, queue);
  try {
    const answers = await runPipelined(redis, fresh, [
      { keys: keys("a"), args: ["m1", "r", 1, "{}"] },
      { keys: keys("b"), args: ["m2", "r", 1, "{}", "m3", "r", 2, "{}"] },
    ]);
    assert.deepEqual(answers, [1, 2]);
    assert.equal((await broker.stats("b")).ready, 2);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

const TOKEN = "fault-test-token";

Deno.test("upstash scripts: given lost responses, when the client retries, then the state is as if each ran once", async () => {
  const logs: string[] = [];
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token: TOKEN,
    port: 0,
    log: (line) => logs.push(line),
    faults: { dropRate: 0 }, // served on node:http, which can drop responses
  });
  const client = new Redis({ url: server.url, token: TOKEN, enableTelemetry: false });
  const namespace = testPrefix("faults").slice(0, -1);
  const broker = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  const queue = "faults";
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  /** Drops the response of the next request, after Redis ran it. */
  const dropNext = () => {
    const draws = [0];
    server.faults = { dropRate: 0.5, random: () => draws.shift() ?? 1 };
  };
  try {
    for (const script of UPSTASH_SCRIPTS) await client.scriptLoad(script.source);

    // Send: the retry finds the message stored and adds nothing.
    dropNext();
    const [first] = await broker.enqueue([task.message()]);
    await broker.enqueue([task.message(), task.message()]);
    assert.deepEqual(await broker.stats(queue), { ready: 3, delayed: 0, leased: 0, dead: 0 });

    // Claim: the retry answers the leases of the first run and leases nothing else.
    dropNext();
    const claims = await broker.claim(queue, { count: 2 });
    assert.equal(claims[0].id, first.id);
    assert.equal(claims.length, 2);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 0, leased: 2, dead: 0 });

    // Ack: the first run acked (its answer was lost); the retry answers what it did.
    dropNext();
    assert.deepEqual(await broker.ack(queue, [claims[0]]), [true]);
    assert.deepEqual((await broker.claimById(queue, [first.id])).unclaimed, [
      { id: first.id, state: "missing" },
    ]);

    // Nack: retried once, not twice, and reported done.
    dropNext();
    assert.equal(await broker.nack(queue, claims[1], { kind: "retry", at: Date.now() }), true);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 1, leased: 0, dead: 0 });
    assert.equal(logs.filter((line) => line.includes("dropped the response")).length, 4);
  } finally {
    server.faults = {};
    await cleanup(client, `${namespace}:`);
    await server.close();
  }
});

/** Messages with bodies of about 100 KB each. */
async function bigMessages(broker: UpstashBroker, queue: string, n: number) {
  const big = actor(`big-${crypto.randomUUID()}`, (_: string) => {}, { broker, queue });
  return await broker.enqueue(
    Array.from({ length: n }, (_, i) => big.message(String(i).padEnd(100_000, "x"))),
  );
}

Deno.test("upstash scripts: given 30 bodies of 100 KB, when a claim of 30 runs twice, then both runs answer the same 10 and the 20 popped beyond go back in order", () =>
  withPair("cb", async ({ doubled, broker, answers, queue }) => {
    const sent = await bigMessages(broker, queue, 30);
    const claims = await doubled.claim(queue, { count: 30 });
    assert.deepEqual(claims.map((c) => c.id), sent.slice(0, 10).map((m) => m.id));
    assert.deepEqual(answers.at(-1)![0], answers.at(-1)![1]);
    assert.deepEqual(await broker.stats(queue), { ready: 20, delayed: 0, leased: 10, dead: 0 });
    const next = await broker.claim(queue, { count: 30 });
    assert.deepEqual(next.map((c) => c.id), sent.slice(10, 20).map((m) => m.id));
  }));

Deno.test("upstash scripts: given a byte budget below one body, when claimed, then the claim still takes one", () =>
  withPair("c1", async ({ broker, queue, task }) => {
    const sent = await broker.enqueue([task.message(), task.message(), task.message()]);
    const now = Date.now() + 1_000;
    const token = crypto.randomUUID();
    const keys = [...queueKeys(broker.namespace, queue), callKey(broker.namespace, queue, token)];
    const answer = await CLAIM.run(redis, keys, [now, 3, now + 30_000, token, 1]);
    const [id] = answer as string[];
    assert.equal(id, sent[0].id);
    assert.equal((answer as string[]).length, 3);
    assert.deepEqual(await broker.stats(queue), { ready: 2, delayed: 0, leased: 1, dead: 0 });
  }));

Deno.test("upstash scripts: given 25 ids of 100 KB bodies, when claimed by id, then script calls of at most 1 MiB claim them all", async () => {
  const namespace = testPrefix("cbi").slice(0, -1);
  const { client, calls } = recording(redis);
  const broker = new UpstashBroker({ namespace, logger: silentLogger, redis: client });
  const queue = "q";
  try {
    const sent = await bigMessages(broker, queue, 25);
    calls.length = 0;
    const { claimed, unclaimed } = await broker.claimById(queue, [...sent.map((m) => m.id), "no"]);
    assert.deepEqual(claimed.map((c) => c.id), sent.map((m) => m.id));
    assert.deepEqual(unclaimed, [{ id: "no", state: "missing" }]);
    // 10, 10, then the last 5 and the missing id.
    // ARGV: now, leaseUntil, claim token, maxBytes, four flow limits, the once TTL, then
    // the ids.
    assert.deepEqual(calls.map((args) => args.length - 9), [26, 16, 6]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 25, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

/** Writes dead letters straight into a queue's keys: `n`, dead at 1, 2, ... ms. */
async function seedDead(namespace: string, queue: string, n: number, body = "b") {
  const [, , msg, dead, reason] = queueKeys(namespace, queue);
  for (let from = 0; from < n; from += 5_000) {
    const ids = Array.from({ length: Math.min(5_000, n - from) }, (_, i) => `d${from + i + 1}`);
    const p = redis.pipeline();
    p.zadd(
      dead,
      ...ids.map((id, i) => ({ score: from + i + 1, member: id })) as [
        { score: number; member: string },
      ],
    );
    p.hset(msg, Object.fromEntries(ids.map((id) => [id, body])));
    p.hset(reason, Object.fromEntries(ids.map((id) => [id, "0|gave up"])));
    await p.exec();
  }
  return Array.from({ length: n }, (_, i) => `d${i + 1}`);
}

Deno.test("upstash scripts: given 20,000 dead letters, when listed, streamed, requeued and purged, then every script call handles at most 1000", async () => {
  const namespace = testPrefix("dl").slice(0, -1);
  const { client, calls } = recording(redis);
  const broker = new UpstashBroker({
    namespace,
    logger: silentLogger,
    redis: client,
    now: () => 1_000_000,
    deadLetterTtl: 10_000_000,
  });
  const queue = "q";
  const pageOf = (args: unknown[]) => Number(args[2]) - Number(args[1]) + 1;
  try {
    const ids = await seedDead(namespace, queue, 20_000);
    // Given a limit over the list: 20 full pages, then one that finds the end.
    const all = await broker.deadLetters(queue, { limit: 100_000 });
    assert.deepEqual(all.map((d) => d.id), ids);
    assert.equal(all[19_999].reason, "gave up");
    assert.deepEqual(calls.map(pageOf), [...Array(20).fill(1000), 1000]);
    // An offset and limit across pages.
    calls.length = 0;
    const middle = await broker.deadLetters(queue, { offset: 999, limit: 1002 });
    assert.deepEqual(middle.map((d) => d.id), ids.slice(999, 2001));
    assert.deepEqual(calls.map(pageOf), [1000, 2]);
    // Streamed: pages of the size asked.
    calls.length = 0;
    let streamed = 0;
    for await (const letter of broker.eachDeadLetter(queue, { pageSize: 5_000 })) {
      assert.equal(letter.id, ids[streamed++]);
    }
    assert.equal(streamed, 20_000);
    assert.ok(calls.every((args) => pageOf(args) <= 1000));
    // Requeued and purged in runs of 1000.
    calls.length = 0;
    assert.equal(await broker.requeue(queue, ids.slice(0, 10_000)), 10_000);
    assert.deepEqual(calls.map((args) => args.length - 2), Array(10).fill(1000));
    calls.length = 0;
    assert.equal(await broker.purgeDead(queue), 10_000);
    assert.equal(calls.length, 11);
    assert.deepEqual(await broker.stats(queue), { ready: 10_000, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("upstash scripts: given dead letters of 100 KB, when a page of 30 is listed, then each script call answers at most 1 MiB", async () => {
  const namespace = testPrefix("dlb").slice(0, -1);
  const { client, calls } = recording(redis);
  const options = { namespace, logger: silentLogger, now: () => 1_000_000, deadLetterTtl: 1e7 };
  const broker = new UpstashBroker({ ...options, redis: client });
  try {
    const ids = await seedDead(namespace, "q", 30, "x".repeat(100_000));
    const page = await broker.deadLetters("q", { limit: 30 });
    assert.deepEqual(page.map((d) => d.id), ids);
    // 10 bodies fit in 1 MiB: three calls, each for the rest of the page.
    assert.deepEqual(calls.map((args) => [args[1], args[2]]), [[0, 29], [10, 29], [20, 29]]);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});
