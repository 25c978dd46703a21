/**
 * What each rate limiter operation costs in Redis commands (what Upstash bills: the
 * EVALSHA and every `redis.call` inside it), measured through our own local server, next
 * to `@upstash/ratelimit`'s `limit()`. The numbers are the table in `docs/rate_limits.md`;
 * run with `SKIFF_PRINT_COST=1` to print it.
 *
 * How: `INFO commandstats` is server-wide, and other test files measure at the same time
 * (Deno runs files in parallel): `tests/cost_test.ts` resets and reads the counters of the
 * cost Redis, so commands of ours there would spoil its numbers, and its resets ours.
 * Instead, everything here runs on the test Redis, on a database index no other test uses
 * ({@linkcode DB}), and a `MONITOR` connection counts the commands of that database, those a
 * script runs (`[13 lua]`) included, between two `ECHO` markers.
 * Each operation's scripts run once before it is measured, so that no measurement pays for
 * a NOSCRIPT and its EVAL.
 *
 * What being safe to repeat costs (see `docs/rate_limits.md`): a fixed bucket keeps the ids
 * it admitted (SCARD, then SADD or SISMEMBER: 2 -> 3), a token bucket writes a one-minute
 * record per token taken (`SET NX`) and reads it on a refusal (`EXISTS`): 4 -> 5 and 2 -> 3.
 * Releases, concurrency and windows stay as they were (their token or id was already there).
 */
import assert from "node:assert/strict";
import process from "node:process";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { startLocalServer } from "../src/local/mod.ts";
import { Barrier } from "../src/rate_limits/barrier.ts";
import { ConcurrentRateLimiter } from "../src/rate_limits/concurrent.ts";
import { UpstashRateLimiterBackend } from "../src/rate_limits/upstash_backend.ts";
import { testRedisUrl } from "./_env.ts";
import { CommandCounter } from "./_monitor.ts";

/** The database index this file measures on; no other test uses it. */
const DB = 13;
/** How many times each operation runs per measurement. */
const RUNS = 10;

interface Cost {
  /** Commands per operation, all commands summed. */
  total: number;
  /** Commands per operation, by name. */
  commands: Record<string, number>;
}

/** Measures what `RUNS` runs of `op` cost, per run, after `warm` (not counted). */
async function measure(
  counter: CommandCounter,
  warm: () => Promise<unknown>,
  op: (run: number) => Promise<unknown>,
): Promise<Cost> {
  await warm();
  const counts = await counter.count(async () => {
    for (let run = 0; run < RUNS; run++) await op(run);
  });
  const commands = Object.fromEntries(
    Object.entries(counts).map(([name, calls]) => [name, calls / RUNS]),
  );
  const total = Object.values(counts).reduce((sum, calls) => sum + calls, 0) / RUNS;
  return { total, commands };
}

const table: string[] = [];
function record(what: string, cost: Cost): void {
  const parts = Object.entries(cost.commands).sort(([a], [b]) => a.localeCompare(b))
    .map(([name, calls]) => `${name} ${calls}`);
  table.push(`| ${what} | ${cost.total} | ${parts.join(", ")} |`);
}

Deno.test("rate limit cost: commands per acquire, release, barrier step, and @upstash/ratelimit's limit()", async () => {
  const token = "cost";
  const url = new URL(testRedisUrl());
  url.pathname = `/${DB}`;
  const server = await startLocalServer({ redis: url, token, port: 0, log: () => {} });
  const counter = await CommandCounter.open(testRedisUrl(), DB);
  const redis = new Redis({ url: server.url, token, enableTelemetry: false });
  const namespace = `cost-rl-${crypto.randomUUID().slice(0, 8)}`;
  const backend = new UpstashRateLimiterBackend({ redis, namespace });
  const tokens = Array.from({ length: RUNS }, () => crypto.randomUUID());
  const expect = async (
    what: string,
    total: number,
    warm: () => Promise<unknown>,
    op: (run: number) => Promise<unknown>,
  ) => {
    const cost = await measure(counter, warm, op);
    record(what, cost);
    assert.equal(cost.total, total, `${what}: ${JSON.stringify(cost.commands)}`);
  };
  try {
    const slot = (run: number, limit: number) => ({ token: tokens[run], limit, ttl: 60_000 });

    // Concurrent: admitted, refused, released; then a whole acquire(fn).
    await expect(
      "ConcurrentRateLimiter acquire, admitted",
      4,
      () => backend.acquireConcurrent("c", { token: "warm", limit: 100, ttl: 60_000 }),
      (run) => backend.acquireConcurrent("c", slot(run, 100)),
    );
    await expect(
      "ConcurrentRateLimiter acquire, refused",
      4,
      () => backend.acquireConcurrent("c1", { token: "holder", limit: 1, ttl: 60_000 }),
      (run) => backend.acquireConcurrent("c1", slot(run, 1)),
    );
    await expect(
      "ConcurrentRateLimiter release",
      2,
      () => backend.releaseConcurrent("c", "warm"),
      (run) => backend.releaseConcurrent("c", tokens[run]),
    );
    const mutex = new ConcurrentRateLimiter(backend, "m", { limit: 1 });
    await expect(
      "ConcurrentRateLimiter `acquire(fn)` (acquire + release)",
      6,
      () => mutex.acquire(() => {}),
      () => mutex.acquire(() => {}),
    );

    // Sliding window.
    const request = (run: number, limit: number) => ({ id: tokens[run], limit, window: 60_000 });
    await expect(
      "WindowRateLimiter acquire, admitted",
      4,
      () => backend.acquireWindow("w", { id: "warm", limit: 100, window: 60_000 }),
      (run) => backend.acquireWindow("w", request(run, 100)),
    );
    await expect(
      "WindowRateLimiter acquire, refused",
      4,
      () => backend.acquireWindow("w1", { id: "warm", limit: 1, window: 60_000 }),
      (run) => backend.acquireWindow("w1", request(run, 1)),
    );

    // Full of expired entries: the acquire prunes first (time moves a window per run).
    const clock = { time: Date.now() };
    const moving = new UpstashRateLimiterBackend({ redis, namespace, now: () => clock.time });
    await expect(
      "WindowRateLimiter acquire, admitted after pruning a full log",
      5,
      () => moving.acquireWindow("w2", { id: "warm", limit: 1, window: 1_000 }),
      (run) => {
        clock.time += 1_000;
        return moving.acquireWindow("w2", { id: tokens[run], limit: 1, window: 1_000 });
      },
    );
    await expect(
      "ConcurrentRateLimiter acquire, admitted after dropping an expired hold",
      5,
      () => moving.acquireConcurrent("c2", { token: "warm", limit: 1, ttl: 1_000 }),
      (run) => {
        clock.time += 1_000;
        return moving.acquireConcurrent("c2", { token: tokens[run], limit: 1, ttl: 1_000 });
      },
    );

    // Buckets, with a bucket long enough that the runs share one; a fresh id per acquire.
    const day = (run: number, limit = 100) => ({ id: tokens[run], limit, bucket: 86_400_000 });
    const warm = (limit = 100) => ({ id: crypto.randomUUID(), limit, bucket: 86_400_000 });
    await expect(
      "BucketRateLimiter (fixed) acquire, admitted",
      3,
      () => backend.acquireFixedBucket("f", warm()),
      (run) => backend.acquireFixedBucket("f", day(run)),
    );
    await expect(
      "BucketRateLimiter (fixed) acquire, refused",
      3,
      () => backend.acquireFixedBucket("f1", warm(1)),
      (run) => backend.acquireFixedBucket("f1", day(run, 1)),
    );
    await expect(
      "BucketRateLimiter (token) acquire, admitted",
      5,
      () => backend.acquireTokenBucket("t", warm()),
      (run) => backend.acquireTokenBucket("t", day(run)),
    );
    await expect(
      "BucketRateLimiter (token) acquire, refused",
      3,
      () => backend.acquireTokenBucket("t1", warm(1)),
      (run) => backend.acquireTokenBucket("t1", day(run, 1)),
    );

    // Barrier: creation, arrival, one poll of a blocking wait.
    await expect(
      "Barrier create",
      4,
      () => new Barrier(backend, "b-warm").create(2),
      (run) => new Barrier(backend, `b${run}`).create(RUNS + 1),
    );
    await expect(
      "Barrier wait, the arrival",
      4,
      () => new Barrier(backend, "b0").wait({ block: false, party: "warm" }),
      (run) => new Barrier(backend, "b0").wait({ block: false, party: tokens[run] }),
    );
    await expect(
      "Barrier wait, each poll while blocked",
      2,
      () => backend.barrierArrivals("b0"),
      () => backend.barrierArrivals("b0"),
    );

    // @upstash/ratelimit 2.2.0, without its in-process cache, analytics or deny lists.
    const upstash = (limiter: ConstructorParameters<typeof Ratelimit>[0]["limiter"]) =>
      new Ratelimit({
        redis,
        limiter,
        prefix: `${namespace}:upstash`,
        analytics: false,
        ephemeralCache: false,
      });
    const compare = [
      ["fixedWindow", Ratelimit.fixedWindow, 2],
      ["slidingWindow", Ratelimit.slidingWindow, 4],
      [
        "tokenBucket",
        (limit: number, window: "1 d") => Ratelimit.tokenBucket(limit, window, limit),
        4,
      ],
    ] as const;
    for (const [name, make, admittedCost] of compare) {
      const roomy = upstash(make(100, "1 d"));
      await expect(
        `@upstash/ratelimit ${name} limit(), admitted`,
        admittedCost,
        () => roomy.limit(`${name}-roomy`),
        () => roomy.limit(`${name}-roomy`),
      );
      const full = upstash(make(1, "1 d"));
      await expect(
        `@upstash/ratelimit ${name} limit(), refused`,
        name === "slidingWindow" ? 3 : 2,
        () => full.limit(`${name}-full`),
        () => full.limit(`${name}-full`),
      );
    }
    if (process.env.SKIFF_PRINT_COST) console.log(table.join("\n"));
  } finally {
    const [, keys] = await redis.scan(0, { match: `${namespace}:*`, count: 10_000 });
    if (keys.length) await redis.del(...keys);
    await counter.close();
    await server.close();
  }
});
