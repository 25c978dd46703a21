/**
 * Flow control across the parts that claim: push delivery (a freed slot runs what waits),
 * ticks, lost answers of the limited claim scripts, and the race of many workers and pushes
 * on one limited queue. The broker-level semantics are in `tests/broker_conformance.ts`.
 */
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import type { Broker, BrokerOptions } from "../src/broker.ts";
import type { QueueOptions } from "../src/brokers/flow.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { group } from "../src/composition/group.ts";
import { pipeline } from "../src/composition/pipeline.ts";
import { Results } from "../src/results/middleware.ts";
import { workerApp } from "../src/hono/mod.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { deliver } from "../src/push/deliver.ts";
import { Push } from "../src/push/push.ts";
import { postSigned } from "./_signed_push.ts";
import { tick } from "../src/tick.ts";
import { Worker } from "../src/worker.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, testPrefix, testRedisUrl } from "./_env.ts";

const SECRET = "flow-secret-0123456789ab";

interface FlowSetup {
  broker: Broker;
  queue: string;
  clock: { time: number };
  /** Another broker on the same storage and limits (a second isolate or process). */
  other: () => Broker;
}

/** Registers `fn` once per broker, with `flow` as the limits of the test's queue. */
function forEachBroker(
  title: string,
  flow: QueueOptions,
  fn: (setup: FlowSetup) => Promise<void>,
): void {
  for (const label of ["MemoryBroker", "UpstashBroker"]) {
    Deno.test(`${label}: ${title}`, async () => {
      const clock = { time: 1_700_000_000_000 };
      const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
      const options: BrokerOptions = {
        now: () => clock.time,
        logger: silentLogger,
        queues: { [queue]: flow },
      };
      const redis = label === "UpstashBroker" ? restClient() : undefined;
      const namespace = testPrefix("flow").slice(0, -1);
      const make = () =>
        redis ? new UpstashBroker({ ...options, redis, namespace }) : new MemoryBroker(options);
      const broker = make();
      try {
        await fn({ broker, queue, clock, other: redis ? make : () => broker });
      } finally {
        if (redis) await cleanup(redis, `${namespace}:`);
      }
    });
  }
}

forEachBroker(
  "given parallelism 1, when a push arrives while a message runs, then it waits busy and the run that frees the slot runs it",
  { parallelism: 1 },
  async ({ broker, queue }) => {
    const runs: string[] = [];
    let busy: unknown;
    const task = actor(`task-${crypto.randomUUID()}`, async (name: string) => {
      runs.push(name);
      if (name === "a") {
        // A second push while "a" holds the only slot.
        busy = await deliver(broker, queue, [b.id, c.id]);
      }
    }, { broker, queue });
    const a = await task.send("a");
    const b = await task.send("b");
    const c = await task.send("c");
    const results = await deliver(broker, queue, [a.id]);
    assert.deepEqual(busy, [{ id: b.id, status: "busy" }, { id: c.id, status: "busy" }]);
    assert.deepEqual(results, [{ id: a.id, status: "acked" }]);
    assert.deepEqual(runs, ["a", "b", "c"]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  },
);

forEachBroker(
  "given parallelism 1 and a run that ends past the budget, then the next ready message is pushed, not run",
  { parallelism: 1 },
  async ({ broker, queue, clock }) => {
    const pushed: unknown[] = [];
    const push = new Push({
      url: "https://worker.example/messages",
      signingKey: SECRET,
      fetch: async (request) => {
        pushed.push(await request.json());
        return Response.json({});
      },
    });
    broker.addMiddleware(push, {});
    const runs: string[] = [];
    const task = actor(`task-${crypto.randomUUID()}`, (name: string) => {
      runs.push(name);
      clock.time += 20;
    }, { broker, queue });
    const [a, b] = await broker.enqueue([task.message("a"), task.message("b")]);
    await push.flush();
    pushed.length = 0;
    assert.deepEqual(await deliver(broker, queue, [a.id], { budgetMs: 10 }), [
      { id: a.id, status: "acked" },
    ]);
    await push.flush();
    assert.deepEqual(runs, ["a"]);
    assert.deepEqual(pushed, [{ queue, ids: [b.id] }]);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 0, leased: 0, dead: 0 });
  },
);

forEachBroker(
  "given parallelism 2, when a tick drains inline, then every message runs, never more than 2 at once",
  { parallelism: 2 },
  async ({ broker, queue }) => {
    let running = 0;
    let most = 0;
    const task = actor(`task-${crypto.randomUUID()}`, async () => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, 1));
      running--;
    }, { broker, queue });
    await broker.enqueue(Array.from({ length: 7 }, () => task.message()));
    const report = await tick(broker, { queues: [queue], concurrency: 8 });
    assert.deepEqual(report.queues[queue], { claimed: 7, processed: 7, failed: 0, pushed: 0 });
    assert.equal(most, 2);
  },
);

forEachBroker(
  "given a rate of 3 per minute, when a tick fans out, then it runs the 3 inline and pushes none",
  { rate: { limit: 3, period: 60_000 } },
  async ({ broker, queue }) => {
    const pushed: unknown[] = [];
    const push = new Push({
      url: "https://worker.example/messages",
      signingKey: SECRET,
      fetch: async (request) => {
        pushed.push(await request.json());
        return Response.json({});
      },
    });
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    await broker.enqueue(Array.from({ length: 5 }, () => task.message()));
    const report = await tick(broker, { queues: [queue], push });
    assert.deepEqual(report.queues[queue], { claimed: 3, processed: 3, failed: 0, pushed: 0 });
    assert.deepEqual(pushed, []);
    assert.deepEqual(await broker.stats(queue), { ready: 2, delayed: 0, leased: 0, dead: 0 });
  },
);

forEachBroker(
  "given parallelism 2, when a tick fans out, then it pushes only as many as may run",
  { parallelism: 2 },
  async ({ broker, queue }) => {
    const pushed: { ids: string[] }[] = [];
    const push = new Push({
      url: "https://worker.example/messages",
      signingKey: SECRET,
      fetch: async (request) => {
        pushed.push(await request.json());
        return Response.json({});
      },
    });
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    await broker.enqueue(Array.from({ length: 5 }, () => task.message()));
    const report = await tick(broker, { queues: [queue], push });
    assert.deepEqual(report.queues[queue], { claimed: 2, processed: 0, failed: 0, pushed: 2 });
    assert.deepEqual(pushed.map((p) => p.ids.length), [2]);
  },
);

/** A local server in fault mode in front of the test Redis, and a client of it. */
async function faulty(name: string) {
  const token = "flow-fault-token";
  const dropped: string[] = [];
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token,
    port: 0,
    log: (line) => line.includes("dropped") && dropped.push(line),
    faults: { dropRate: 0 }, // served on node:http, which can drop responses
  });
  const redis = new Redis({ url: server.url, token, enableTelemetry: false });
  /** The next request runs, then loses its answer; the client's retry gets through. */
  const loseNext = () => {
    const draws = [0];
    server.faults = { dropRate: 0.5, random: () => draws.shift() ?? 1 };
  };
  const namespace = testPrefix(name).slice(0, -1);
  const close = async () => {
    server.faults = {};
    await cleanup(redis, `${namespace}:`);
    await server.close();
  };
  return { redis, loseNext, dropped, namespace, close };
}

Deno.test("UpstashBroker: given a limited claim whose answer is lost, when the client retries it, then it answers the same leases and counts them once", async () => {
  const { redis, loseNext, dropped, namespace, close } = await faulty("flow-lost-claim");
  const queue = "q";
  const time = 1_700_000_000_000;
  const queues = { [queue]: { parallelism: 2, rate: { limit: 3, period: 60_000 } } };
  const broker = new UpstashBroker({
    redis,
    namespace,
    logger: silentLogger,
    now: () => time,
    queues,
  });
  try {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    const sent = await broker.enqueue(Array.from({ length: 4 }, () => task.message()));
    await broker.claim("warm"); // Redis knows the script: the lost answer is a real run's
    loseNext();
    const claims = await broker.claim(queue, { count: 4 });
    assert.equal(dropped.length, 1);
    assert.deepEqual(claims.map((c) => c.id), [sent[0].id, sent[1].id]);
    assert.deepEqual(await broker.stats(queue), { ready: 2, delayed: 0, leased: 2, dead: 0 });
    const window = Math.floor(time / 60_000);
    assert.equal(String(await redis.get(`${namespace}:{${queue}}:rate`)), `${window}:2`);
    assert.deepEqual(await broker.ack(queue, claims), [true, true]);
    // The rate has one claim left in this window, not none.
    assert.equal((await broker.claim(queue, { count: 4 })).length, 1);
  } finally {
    await close();
  }
});

Deno.test("UpstashBroker: given a limited claim by id whose answer is lost, when the client retries it, then it answers the same claim and the same busy id", async () => {
  const { redis, loseNext, dropped, namespace, close } = await faulty("flow-lost-by-id");
  const queue = "q";
  const time = 1_700_000_000_000;
  const queues = { [queue]: { parallelism: 1, rate: { limit: 5, period: 60_000 } } };
  const broker = new UpstashBroker({
    redis,
    namespace,
    logger: silentLogger,
    now: () => time,
    queues,
  });
  try {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    const [a, b] = await broker.enqueue([task.message(), task.message()]);
    await broker.claimById("warm", ["x"]); // Redis knows the script
    loseNext();
    const result = await broker.claimById(queue, [a.id, b.id]);
    assert.equal(dropped.length, 1);
    assert.deepEqual(result.claimed.map((c) => c.id), [a.id]);
    assert.deepEqual(result.unclaimed, [{ id: b.id, state: "busy" }]);
    const window = Math.floor(time / 60_000);
    assert.equal(String(await redis.get(`${namespace}:{${queue}}:rate`)), `${window}:1`);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 0, leased: 1, dead: 0 });
  } finally {
    await close();
  }
});

interface Race {
  /** Runs per message number. */
  runs: Map<number, number>;
  /** The most runs of each key at once, counted from inside the actor. */
  most: Map<string, number>;
  /** A broker on the raced queue, for its stats. */
  sender: Broker;
  /** The queue's flow hash (leases per key). */
  flowKey: string;
}

/**
 * 60 messages (keys taken in turn from `keys`; a flow key only with `keyParallelism`), five
 * Workers and a push endpoint, each with a broker and a client of its own, as separate
 * processes or isolates would have: only the claim scripts keep them to the limits. Twenty
 * concurrent pushes of two ids each race the Workers; `check` runs once all ran or 20 s passed.
 */
async function raceOnSeparateBrokers(
  limits: QueueOptions,
  keys: string[],
  check: (race: Race) => Promise<void>,
): Promise<void> {
  const namespace = testPrefix("flow-race").slice(0, -1);
  const queue = "race";
  const queues = { [queue]: limits };
  const make = () =>
    new UpstashBroker({ redis: restClient(), namespace, logger: silentLogger, queues });
  const sender = make();
  const runs = new Map<number, number>();
  const running = new Map<string, number>();
  const most = new Map<string, number>();
  const task = actor(`race-${crypto.randomUUID()}`, async (n: number, key: string) => {
    const now = (running.get(key) ?? 0) + 1;
    running.set(key, now);
    most.set(key, Math.max(most.get(key) ?? 0, now));
    runs.set(n, (runs.get(n) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, 2 + (n % 5)));
    running.set(key, running.get(key)! - 1);
  }, { broker: sender, queue });
  const sent = await sender.enqueue(Array.from({ length: 60 }, (_, n) => {
    const key = keys[n % keys.length];
    const flowKey = limits.keyParallelism ? key : undefined;
    return task.messageWithOptions({ args: [n, key], flowKey });
  }));
  const workers = Array.from(
    { length: 5 },
    () => new Worker(make(), { queues: [queue], concurrency: 4, pollMin: 1, pollMax: 10 }),
  );
  const app = workerApp({ broker: make(), signingKeys: [SECRET] });
  try {
    await Promise.all(workers.map((w) => w.start()));
    const statuses = await Promise.all(Array.from(
      { length: 20 },
      (_, i) => postSigned(app, SECRET, queue, [sent[i].id, sent[59 - i].id]),
    ));
    assert.ok(statuses.every((s) => s === 200 || s === 202), String(statuses));
    const deadline = Date.now() + 20_000;
    while (runs.size < 60 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(workers.map((w) => w.stop()));
    await check({ runs, most, sender, flowKey: `${namespace}:{${queue}}:flow` });
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await cleanup(restClient(), `${namespace}:`);
  }
}

Deno.test("UpstashBroker: given parallelism 3, when 5 workers and 20 concurrent pushes race on separate brokers, then at most 3 run at once and every message runs once", async () => {
  await raceOnSeparateBrokers({ parallelism: 3 }, ["all"], async ({ runs, most, sender }) => {
    assert.equal(runs.size, 60);
    assert.ok([...runs.values()].every((n) => n === 1));
    assert.ok(most.get("all")! <= 3, `at most 3 at once, ${most.get("all")} ran`);
    assert.equal(most.get("all"), 3);
    assert.deepEqual(await sender.stats("race"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  });
});

forEachBroker(
  "given keyParallelism 1, when a push of a key's second message arrives while its first runs, then it waits busy, another key's runs, and the run that frees the slot runs it",
  { keyParallelism: 1 },
  async ({ broker, queue }) => {
    const runs: string[] = [];
    let busy: unknown;
    const task = actor(`task-${crypto.randomUUID()}`, async (name: string) => {
      runs.push(name);
      if (name === "a1") busy = await deliver(broker, queue, [a2.id, b1.id]);
    }, { broker, queue });
    const a1 = await task.sendWithOptions({ args: ["a1"], flowKey: "tenant-a" });
    const a2 = await task.sendWithOptions({ args: ["a2"], flowKey: "tenant-a" });
    const b1 = await task.sendWithOptions({ args: ["b1"], flowKey: "tenant-b" });
    const results = await deliver(broker, queue, [a1.id]);
    assert.deepEqual(busy, [{ id: a2.id, status: "busy" }, { id: b1.id, status: "acked" }]);
    assert.deepEqual(results, [{ id: a1.id, status: "acked" }]);
    assert.deepEqual(runs, ["a1", "b1", "a2"]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  },
);

forEachBroker(
  "given keyParallelism 1 and a key's backlog, when a tick drains inline, then every message runs and never two of a key at once",
  { keyParallelism: 1 },
  async ({ broker, queue }) => {
    const running = new Map<string, number>();
    let most = 0;
    const task = actor(`task-${crypto.randomUUID()}`, async (key: string) => {
      const now = (running.get(key) ?? 0) + 1;
      running.set(key, now);
      most = Math.max(most, now);
      await new Promise((resolve) => setTimeout(resolve, 1));
      running.set(key, running.get(key)! - 1);
    }, { broker, queue });
    const keys = ["a", "a", "a", "a", "b", "a", "c"];
    await broker.enqueue(
      keys.map((flowKey) => task.messageWithOptions({ args: [flowKey], flowKey })),
    );
    const report = await tick(broker, { queues: [queue], concurrency: 8 });
    assert.deepEqual(report.queues[queue], { claimed: 7, processed: 7, failed: 0, pushed: 0 });
    assert.equal(most, 1);
  },
);

Deno.test("UpstashBroker: given keyParallelism and a claim that parks, whose answer is lost, when the client retries it, then it answers the same leases and counts them once", async () => {
  const { redis, loseNext, dropped, namespace, close } = await faulty("flow-lost-keyed");
  const queue = "q";
  const time = 1_700_000_000_000;
  const broker = new UpstashBroker({
    redis,
    namespace,
    logger: silentLogger,
    now: () => time,
    queues: { [queue]: { keyParallelism: 1 } },
  });
  const flow = `${namespace}:{${queue}}:flow`;
  try {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    const sent = await broker.enqueue(
      ["a", "a", "a", "b"].map((flowKey) => task.messageWithOptions({ flowKey })),
    );
    await broker.claim("warm"); // Redis knows the script: the lost answer is a real run's
    loseNext();
    const claims = await broker.claim(queue, { count: 4 });
    assert.equal(dropped.length, 1);
    assert.deepEqual(claims.map((c) => c.id), [sent[0].id, sent[3].id]);
    assert.deepEqual(await redis.hmget(flow, "a", "b"), { a: 1, b: 1 });
    assert.deepEqual(await broker.stats(queue), { ready: 2, delayed: 0, leased: 2, dead: 0 });
    // An ack whose answer is lost frees the slot once: one parked message comes back.
    loseNext();
    assert.deepEqual(await broker.ack(queue, [claims[0]]), [true]);
    assert.equal(dropped.length, 2);
    assert.deepEqual(await redis.hmget(flow, "a", "b"), { a: null, b: 1 });
    const [next] = await broker.claim(queue, { count: 4 });
    assert.equal(next.id, sent[1].id);
    // A claim by id whose answer is lost: the same busy answer, counted once.
    loseNext();
    const byId = await broker.claimById(queue, [sent[2].id]);
    assert.equal(dropped.length, 3);
    assert.deepEqual(byId, { claimed: [], unclaimed: [{ id: sent[2].id, state: "busy" }] });
    assert.deepEqual(await redis.hmget(flow, "a", "b"), { a: 1, b: 1 });
    loseNext();
    assert.equal(await broker.nack(queue, next, { kind: "dead", reason: "test" }), true);
    assert.equal(dropped.length, 4);
    const last = await broker.claimById(queue, [sent[2].id]);
    assert.deepEqual(last.claimed.map((c) => c.id), [sent[2].id]);
    assert.deepEqual(await redis.hmget(flow, "a", "b"), { a: 1, b: 1 });
  } finally {
    await close();
  }
});

Deno.test("UpstashBroker: given keyParallelism 2, when 5 workers and 20 concurrent pushes race on separate brokers, then at most 2 of a key run at once and every message runs once", async () => {
  const keys = ["tenant-a", "tenant-b", "tenant-c"];
  await raceOnSeparateBrokers({ keyParallelism: 2 }, keys, async (race) => {
    const { runs, most, sender } = race;
    assert.equal(runs.size, 60);
    assert.ok([...runs.values()].every((n) => n === 1));
    for (const key of keys) assert.ok(most.get(key)! <= 2, `${key}: ${most.get(key)} at once`);
    assert.equal(Math.max(...most.values()), 2);
    assert.deepEqual(await sender.stats("race"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    assert.equal(await restClient().hlen(race.flowKey), 0);
  });
});

forEachBroker(
  "given keyParallelism 1, when a pipeline with a group runs on the queue, then every step and member runs once, the results pass along, and no slot is left held",
  { keyParallelism: 1 },
  async ({ broker, queue }) => {
    broker.addMiddleware(new Results());
    const seen: unknown[] = [];
    const step = actor(`step-${crypto.randomUUID()}`, (n: number, ...rest: unknown[]) => {
      seen.push([n, ...rest]);
      return n + 1;
    }, { broker, queue, storeResults: true });
    const flowKey = "tenant-a";
    const keyed = (n: number) => step.messageWithOptions({ args: [n], flowKey });
    const pipe = await pipeline([
      keyed(1),
      group([keyed(10), keyed(20)]),
      step.messageWithOptions({ args: [100], flowKey }),
    ]).run();
    for (let round = 0; round < 10; round++) {
      const report = await tick(broker, { queues: [queue], concurrency: 4 });
      if (report.queues[queue].claimed === 0) break;
    }
    assert.equal(await pipe.getResult({ block: false }), 101);
    assert.deepEqual(seen[0], [1]);
    assert.deepEqual(seen.slice(1, 3).map((s) => (s as number[])[0]).sort((a, b) => a - b), [
      10,
      20,
    ]);
    assert.deepEqual(seen[3], [100, [11, 21]]);
    assert.equal(seen.length, 4);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  },
);
