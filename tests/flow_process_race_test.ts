/**
 * Flow control across processes: five `skiff worker` processes and twenty concurrent signed
 * pushes to an endpoint in this process race on one queue with `parallelism: 3`, and on one
 * with `keyParallelism: 2`. Each run counts itself in Redis (`INCR` on start, `DECR` before
 * it returns), so the largest count any run saw is the most that ran at once, across every
 * process: only the claim scripts keep them to the limit.
 *
 * @module
 */
import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import type { QueueOptions } from "../src/brokers/flow.ts";
import { workerApp } from "../src/hono/mod.ts";
import { postSigned } from "./_signed_push.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, restEnv, testPrefix } from "./_env.ts";
import { spawnCli, writeTree } from "./fixtures/cli_process.ts";

const SECRET = "a-signing-secret-of-some-length";

/** The module each worker process imports: the actor, counting itself per key in Redis. */
const MODULE = `
import process from "node:process";
import { Redis } from "npm:@upstash/redis@^1.34.3";
import { actor, setBroker, UpstashBroker } from "{{skiff}}";
const env = process.env;
const redis = new Redis({
  url: env.UPSTASH_REDIS_REST_URL,
  token: env.UPSTASH_REDIS_REST_TOKEN,
  enableTelemetry: false,
});
const prefix = env.RACE_PREFIX;
setBroker(new UpstashBroker({ redis, namespace: env.RACE_NAMESPACE, queues: JSON.parse(env.RACE_QUEUES) }));
export const run = actor(env.RACE_ACTOR, async (n, key) => {
  const at = await redis.incr(prefix + "running:" + key);
  await redis.rpush(prefix + "seen:" + key, String(at));
  await redis.rpush(prefix + "runs", String(n));
  await redis.incr(prefix + "byworkers");
  await new Promise((resolve) => setTimeout(resolve, 3 + (n % 5)));
  await redis.decr(prefix + "running:" + key);
}, { queue: env.RACE_QUEUE });
`;

async function race(limits: QueueOptions, keys: string[]): Promise<Map<string, number>> {
  const namespace = testPrefix("race-proc").slice(0, -1);
  const prefix = `${namespace}:count:`;
  const queue = "race";
  const actorName = `race-${crypto.randomUUID()}`;
  const queues = { [queue]: limits };
  const redis = restClient();
  const make = () =>
    new UpstashBroker({ redis: restClient(), namespace, logger: silentLogger, queues });
  const sender = make();
  // The endpoint in this process runs the same actor, counting in the same place.
  const task = actor(actorName, async (n: number, key: string) => {
    const at = await redis.incr(`${prefix}running:${key}`);
    await redis.rpush(`${prefix}seen:${key}`, String(at));
    await redis.rpush(`${prefix}runs`, String(n));
    await new Promise((resolve) => setTimeout(resolve, 3 + (n % 5)));
    await redis.decr(`${prefix}running:${key}`);
  }, { broker: sender, queue });
  const sent = await sender.enqueue(
    Array.from({ length: 60 }, (_, n) => {
      const key = keys[n % keys.length];
      return task.messageWithOptions({
        args: [n, key],
        ...(limits.keyParallelism ? { flowKey: key } : {}),
      });
    }),
  );
  const dir = await writeTree({ "race.ts": MODULE });
  const { url, token } = restEnv();
  const env = {
    UPSTASH_REDIS_REST_URL: url,
    UPSTASH_REDIS_REST_TOKEN: token,
    RACE_PREFIX: prefix,
    RACE_NAMESPACE: namespace,
    RACE_QUEUES: JSON.stringify(queues),
    RACE_ACTOR: actorName,
    RACE_QUEUE: queue,
  };
  const workers = Array.from(
    { length: 5 },
    () => spawnCli(["worker", `${dir}/race.ts`, "--concurrency", "4"], { env }),
  );
  const app = workerApp({ broker: make(), signingKeys: [SECRET] });
  const seen = new Map<string, number>();
  try {
    // Every worker up before the pushes, so that they race.
    await Promise.all(workers.map((w) => startedLine(w)));
    const statuses = await Promise.all(Array.from(
      { length: 20 },
      (_, i) => postSigned(app, SECRET, queue, [sent[i].id, sent[59 - i].id]),
    ));
    assert.ok(statuses.every((s) => s === 200 || s === 202), String(statuses));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await redis.llen(`${prefix}runs`)) < 60) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const runs = (await redis.lrange<string>(`${prefix}runs`, 0, -1)).map(Number);
    assert.equal(runs.length, 60, "every message ran");
    assert.equal(new Set(runs).size, 60, "each once");
    const inWorkers = Number(await redis.get(`${prefix}byworkers`) ?? 0);
    assert.ok(inWorkers > 0, "the worker processes ran messages too");
    for (const key of new Set(keys)) {
      const counts = (await redis.lrange<string>(`${prefix}seen:${key}`, 0, -1)).map(Number);
      seen.set(key, Math.max(...counts));
    }
    // A run is recorded as its actor runs; its ack may still be on its way.
    const acked = Date.now() + 30_000;
    while (Date.now() < acked && (await sender.stats(queue)).leased > 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(await sender.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  } finally {
    for (const worker of workers) {
      try {
        worker.kill("SIGTERM");
      } catch { /* exited */ }
    }
    await Promise.all(workers.map(async (w) => {
      await w.stderr.cancel();
      await w.status;
    }));
    await Deno.remove(dir, { recursive: true });
    await cleanup(redis, `${namespace}:`);
  }
  return seen;
}

/** Resolves once a worker printed its startup line; keeps reading its output after. */
async function startedLine(worker: Deno.ChildProcess): Promise<void> {
  const reader = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("consuming")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`a worker exited before it started: ${text}`);
    text += value;
  }
  // Drain the rest so that the pipe never fills.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
}

Deno.test("flow control across processes: 5 skiff worker processes and 20 concurrent pushes never run more than parallelism 3 at once; every message runs once", async () => {
  const seen = await race({ parallelism: 3 }, ["all"]);
  const most = seen.get("all")!;
  assert.ok(most <= 3, `at most 3 at once, ${most} ran`);
  assert.ok(most >= 2, `the race was real: ${most} ran at once`);
});

Deno.test("flow control across processes: 5 skiff worker processes and 20 concurrent pushes never run more than keyParallelism 2 of a key at once; every message runs once", async () => {
  const seen = await race({ keyParallelism: 2 }, ["tenant-a", "tenant-b", "tenant-c"]);
  for (const [key, most] of seen) {
    assert.ok(most <= 2, `at most 2 of ${key} at once, ${most} ran`);
  }
  assert.ok(Math.max(...seen.values()) === 2, "some key ran 2 at once: the race was real");
});
