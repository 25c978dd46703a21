/**
 * The rate limiter conformance suite: every `RateLimiterBackend` runs it, so that the
 * limiters and barriers behave the same in memory and in Redis. Call
 * `rateLimitsConformance()` from a test file with a factory; each test gets a fresh
 * backend on an injected clock, and its own keys.
 *
 * ```ts ignore
 * rateLimitsConformance("MemoryRateLimiterBackend", (options) => new MemoryRateLimiterBackend(options));
 * ```
 */
import assert from "node:assert/strict";
import { RateLimitExceeded } from "../src/errors.ts";
import type { RateLimiterBackend } from "../src/rate_limits/backend.ts";
import { Barrier } from "../src/rate_limits/barrier.ts";
import { BucketRateLimiter } from "../src/rate_limits/bucket.ts";
import { ConcurrentRateLimiter } from "../src/rate_limits/concurrent.ts";
import { WindowRateLimiter } from "../src/rate_limits/window.ts";

/** What the suite hands a factory: spread it into the backend's options. */
export interface ConformanceBackendOptions {
  /** The injected clock; tests move it. */
  now: () => number;
}

/** Makes a fresh backend for one test. */
export type BackendFactory = (
  options: ConformanceBackendOptions,
) => RateLimiterBackend | Promise<RateLimiterBackend>;

/** Options of {@linkcode rateLimitsConformance}. */
export interface RateLimitsConformanceOptions {
  /** Deletes what a test left behind (say, Redis keys). */
  cleanup?: (backend: RateLimiterBackend) => Promise<void>;
}

interface Setup {
  backend: RateLimiterBackend;
  clock: { time: number };
  /** A unique key. */
  key: (prefix: string) => string;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `acquire` got a slot, without throwing. */
function admitted(limiter: { acquire: ConcurrentRateLimiter["acquire"] }): Promise<boolean> {
  return limiter.acquire((acquired) => acquired, { raiseOnFailure: false });
}

/**
 * Runs `count` acquirers at once, each retrying after a short pause until it gets a slot;
 * reports the most that ever held a slot at the same time, and how many finished.
 */
async function crowd(
  limiter: ConcurrentRateLimiter,
  count: number,
): Promise<{ most: number; finished: number; refusals: number }> {
  let inside = 0;
  let most = 0;
  let finished = 0;
  let refusals = 0;
  await Promise.all(Array.from({ length: count }, async () => {
    for (let attempt = 1;; attempt++) {
      assert(attempt < 2_000, "an acquirer starved: a slot leaked");
      try {
        await limiter.acquire(async () => {
          most = Math.max(most, ++inside);
          await pause(2);
          inside--;
        });
        finished++;
        return;
      } catch (error) {
        if (!(error instanceof RateLimitExceeded)) throw error;
        refusals++;
        await pause(1 + Math.floor(Math.random() * 4));
      }
    }
  }));
  return { most, finished, refusals };
}

/**
 * Registers the suite's tests with `Deno.test`.
 *
 * @param label Prefixes every test name, as in "MemoryRateLimiterBackend".
 * @param factory Makes a fresh backend for each test.
 * @param options Cleanup after each test.
 */
export function rateLimitsConformance(
  label: string,
  factory: BackendFactory,
  options: RateLimitsConformanceOptions = {},
): void {
  const test = (name: string, fn: (setup: Setup) => Promise<void>) => {
    Deno.test(`${label}: ${name}`, async () => {
      const clock = { time: 1_700_000_000_000 };
      const backend = await factory({ now: () => clock.time });
      try {
        await fn({ backend, clock, key: (prefix) => `${prefix}-${crypto.randomUUID()}` });
      } finally {
        await options.cleanup?.(backend);
      }
    });
  };

  test("given a mutex held, then a second acquire is refused until the first releases", async ({ backend, key }) => {
    const mutex = new ConcurrentRateLimiter(backend, key("mutex"), { limit: 1 });
    const seen: boolean[] = [];
    await mutex.acquire(async (acquired) => {
      seen.push(acquired);
      await assert.rejects(mutex.acquire(() => seen.push(true)), RateLimitExceeded);
      seen.push(await admitted(mutex));
    });
    seen.push(await admitted(mutex));
    assert.deepEqual(seen, [true, false, true]);
  });

  for (const limit of [1, 4]) {
    test(`given 32 acquirers at once against limit ${limit}, then never more than ${limit} hold a slot and all finish`, async ({ backend, key }) => {
      const limiter = new ConcurrentRateLimiter(backend, key("crowd"), { limit, ttl: 60_000 });
      const { most, finished, refusals } = await crowd(limiter, 32);
      assert.equal(finished, 32);
      assert(most >= 1 && most <= limit, `at most ${limit} at once, saw ${most}`);
      assert(refusals > 0, "some acquirers had to retry");
      // Every slot came back: `limit` holders fit again, and no more.
      const token = () => crypto.randomUUID();
      const holds = await Promise.all(
        Array.from(
          { length: limit + 1 },
          () => backend.acquireConcurrent(limiter.key, { token: token(), limit, ttl: 60_000 }),
        ),
      );
      assert.equal(holds.filter(Boolean).length, limit);
    });
  }

  test("given a holder that crashed, then its slot frees when its ttl expires, not before", async ({ backend, clock, key }) => {
    const mutex = new ConcurrentRateLimiter(backend, key("crash"), { limit: 1, ttl: 1_000 });
    // A holder that never releases: the process died inside fn.
    const crashed = crypto.randomUUID();
    assert(await backend.acquireConcurrent(mutex.key, { token: crashed, limit: 1, ttl: 1_000 }));
    assert.equal(await admitted(mutex), false);
    clock.time += 999;
    assert.equal(await admitted(mutex), false);
    clock.time += 1;
    assert.equal(await admitted(mutex), true);
  });

  test("given a hold that expired and a new holder, then the late release cannot free the new slot", async ({ backend, clock, key }) => {
    const k = key("late");
    const old = crypto.randomUUID();
    const fresh = crypto.randomUUID();
    assert(await backend.acquireConcurrent(k, { token: old, limit: 1, ttl: 1_000 }));
    clock.time += 1_000;
    assert(await backend.acquireConcurrent(k, { token: fresh, limit: 1, ttl: 1_000 }));
    assert.equal(await backend.releaseConcurrent(k, old), false);
    const other = crypto.randomUUID();
    assert.equal(await backend.acquireConcurrent(k, { token: other, limit: 1, ttl: 1_000 }), false);
    assert.equal(await backend.releaseConcurrent(k, fresh), true);
    assert.equal(await backend.releaseConcurrent(k, fresh), false);
    assert(await backend.acquireConcurrent(k, { token: other, limit: 1, ttl: 1_000 }));
  });

  test("given an acquire run twice with one token (a retried request), then it holds one slot", async ({ backend, key }) => {
    const k = key("twice");
    const token = crypto.randomUUID();
    const slot = { token, limit: 2, ttl: 1_000 };
    assert(await backend.acquireConcurrent(k, slot));
    assert(await backend.acquireConcurrent(k, slot));
    const other = { token: crypto.randomUUID(), limit: 2, ttl: 1_000 };
    assert(await backend.acquireConcurrent(k, other), "the second slot is still free");
    // At the limit, a retry of an admitted acquire still answers that it holds a slot.
    assert(await backend.acquireConcurrent(k, slot));
    assert.equal(
      await backend.acquireConcurrent(k, { ...other, token: crypto.randomUUID() }),
      false,
    );
  });

  test("given a release run twice before its hold expires (a retried request), then both answer true and no other slot is freed", async ({ backend, clock, key }) => {
    const k = key("release-twice");
    const token = crypto.randomUUID();
    const expiresAt = clock.time + 1_000;
    assert(await backend.acquireConcurrent(k, { token, limit: 2, ttl: 1_000 }));
    const other = crypto.randomUUID();
    assert(await backend.acquireConcurrent(k, { token: other, limit: 2, ttl: 1_000 }));
    assert.equal(await backend.releaseConcurrent(k, token, { expiresAt }), true);
    assert.equal(await backend.releaseConcurrent(k, token, { expiresAt }), true);
    // The other holder still holds: one slot is free, not two
    assert(
      await backend.acquireConcurrent(k, { token: crypto.randomUUID(), limit: 2, ttl: 1_000 }),
    );
    assert.equal(
      await backend.acquireConcurrent(k, { token: crypto.randomUUID(), limit: 2, ttl: 1_000 }),
      false,
    );
    // After its expiry, a token that is gone is reported as expired
    clock.time = expiresAt;
    assert.equal(await backend.releaseConcurrent(k, token, { expiresAt }), false);
  });

  test("given an acquire that fails after its first run took the slot, then the limiter gives the slot back", async ({ backend, key }) => {
    const k = key("acquire-fails");
    // The backend runs the acquire, then its answer is lost for good
    const acquireConcurrent: RateLimiterBackend["acquireConcurrent"] = async (name, options) => {
      await backend.acquireConcurrent(name, options);
      throw new Error("fetch failed");
    };
    const losing = new Proxy(backend, {
      get: (target, property) => {
        if (property === "acquireConcurrent") return acquireConcurrent;
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const mutex = new ConcurrentRateLimiter(losing, k, { limit: 1, ttl: 60_000 });
    await assert.rejects(mutex.acquire(() => {}), /fetch failed/);
    assert(
      await backend.acquireConcurrent(k, { token: crypto.randomUUID(), limit: 1, ttl: 60_000 }),
    );
  });

  test("given fn throws while holding, then the error propagates and the slot is released", async ({ backend, key }) => {
    const mutex = new ConcurrentRateLimiter(backend, key("throws"), { limit: 1 });
    await assert.rejects(
      mutex.acquire(() => {
        throw new TypeError("boom");
      }),
      TypeError,
    );
    assert.equal(await admitted(mutex), true);
  });

  test("given a sliding window, then it admits exactly limit at its edges", async ({ backend, clock, key }) => {
    const limiter = new WindowRateLimiter(backend, key("edges"), { limit: 3, window: 1_000 });
    const start = clock.time;
    const at = async (offset: number) => {
      clock.time = start + offset;
      return await admitted(limiter);
    };
    assert.deepEqual([await at(0), await at(0), await at(0), await at(0)], [
      true,
      true,
      true,
      false,
    ]);
    assert.equal(await at(999), false);
    // All three leave the window (now - 1000, now] together.
    assert.deepEqual([await at(1_000), await at(1_000), await at(1_000), await at(1_000)], [
      true,
      true,
      true,
      false,
    ]);
    // Spread out: each slot frees exactly `window` after it was taken.
    assert.deepEqual([await at(3_000), await at(3_400), await at(3_800), await at(3_999)], [
      true,
      true,
      true,
      false,
    ]);
    assert.deepEqual([await at(4_000), await at(4_001), await at(4_399), await at(4_400)], [
      true,
      false,
      false,
      true,
    ]);
  });

  test("given attempts all along, then every window holds at most limit and none is refused with room", async ({ backend, clock, key }) => {
    const limit = 4;
    const window = 1_000;
    const limiter = new WindowRateLimiter(backend, key("sweep"), { limit, window });
    const start = clock.time;
    const admittedAt: number[] = [];
    for (let offset = 0; offset < 5_000; offset += 70) {
      for (let i = 0; i < (offset % 3) + 1; i++) {
        clock.time = start + offset;
        const ok = await admitted(limiter);
        const inWindow = admittedAt.filter((t) => t > clock.time - window).length;
        assert.equal(ok, inWindow < limit, `at +${offset}: ${inWindow} in the window`);
        if (ok) admittedAt.push(clock.time);
      }
    }
    assert(admittedAt.length >= 4 * limit);
  });

  test("given a window request run twice with one id, then it takes one slot", async ({ backend, key }) => {
    const k = key("window-twice");
    const request = { id: crypto.randomUUID(), limit: 2, window: 1_000 };
    assert(await backend.acquireWindow(k, request));
    assert(await backend.acquireWindow(k, request));
    assert(await backend.acquireWindow(k, { ...request, id: crypto.randomUUID() }));
    assert(await backend.acquireWindow(k, request), "a retry of an admitted request at the limit");
    assert.equal(await backend.acquireWindow(k, { ...request, id: crypto.randomUUID() }), false);
  });

  for (const strategy of ["fixed", "token"] as const) {
    test(`given a ${strategy} bucket request run twice with one id, then it takes one slot`, async ({ backend, key }) => {
      const k = key(`${strategy}-twice`);
      const acquire = (id: string) =>
        strategy === "fixed"
          ? backend.acquireFixedBucket(k, { id, limit: 2, bucket: 60_000 })
          : backend.acquireTokenBucket(k, { id, limit: 2, bucket: 60_000 });
      const id = crypto.randomUUID();
      assert(await acquire(id));
      assert(await acquire(id));
      assert(await acquire(crypto.randomUUID()), "the second slot is still free");
      assert(await acquire(id), "a retry of an admitted request at the limit");
      assert.equal(await acquire(crypto.randomUUID()), false);
    });
  }

  test("given fixed buckets, then each bucket admits limit, and the count resets at the edge", async ({ backend, clock, key }) => {
    const limiter = new BucketRateLimiter(backend, key("fixed"), { limit: 2, bucket: 1_000 });
    clock.time = 1_700_000_000_000; // the start of a bucket
    const at = async (offset: number) => {
      clock.time = 1_700_000_000_000 + offset;
      return await admitted(limiter);
    };
    assert.deepEqual([await at(0), await at(500), await at(999)], [true, true, false]);
    assert.deepEqual([await at(1_000), await at(1_999), await at(1_999)], [true, true, false]);
    assert.deepEqual([await at(5_500), await at(5_500), await at(5_500)], [true, true, false]);
  });

  test("given a token bucket, then it allows a burst of limit, then one token per bucket/limit", async ({ backend, clock, key }) => {
    const limiter = new BucketRateLimiter(backend, key("tokens"), {
      limit: 4,
      bucket: 1_000,
      strategy: "token",
    });
    const start = clock.time;
    const at = async (offset: number) => {
      clock.time = start + offset;
      return await admitted(limiter);
    };
    assert.deepEqual([await at(0), await at(0), await at(0), await at(0), await at(0)], [
      true,
      true,
      true,
      true,
      false,
    ]);
    assert.deepEqual([await at(249), await at(250), await at(250)], [false, true, false]);
    assert.deepEqual([await at(300), await at(500)], [false, true]);
    // A long pause refills up to the capacity, not beyond.
    const after = [];
    for (let i = 0; i < 5; i++) after.push(await at(60_000));
    assert.deepEqual(after, [true, true, true, true, false]);
  });

  test("given limiters of different kinds or keys, then they do not share state", async ({ backend, key }) => {
    const k = key("shared");
    const mutex = new ConcurrentRateLimiter(backend, k, { limit: 1 });
    const window = new WindowRateLimiter(backend, k, { limit: 1 });
    const fixed = new BucketRateLimiter(backend, k, { limit: 1 });
    const tokens = new BucketRateLimiter(backend, k, { limit: 1, strategy: "token" });
    const other = new ConcurrentRateLimiter(backend, key("other"), { limit: 1 });
    await mutex.acquire(async () => {
      assert.deepEqual(
        [
          await admitted(window),
          await admitted(fixed),
          await admitted(tokens),
          await admitted(other),
        ],
        [true, true, true, true],
      );
      assert.equal(await admitted(mutex), false);
    });
  });

  test("given a barrier for two, then it is created once and releases when both arrived", async ({ backend, key }) => {
    const barrier = new Barrier(backend, key("barrier"), { ttl: 60_000, pollMin: 1, pollMax: 4 });
    assert.equal(await barrier.create(2), true);
    assert.equal(await barrier.create(2), false);
    assert.equal(await new Barrier(backend, barrier.key).create(5), false);
    const first = barrier.wait();
    await pause(10);
    assert.equal(await barrier.wait({ block: false }), true);
    assert.equal(await first, true);
    // Latecomers find it released.
    assert.equal(await barrier.wait({ block: false }), true);
  });

  test("given a barrier, then one party arriving twice counts once", async ({ backend, key }) => {
    const barrier = new Barrier(backend, key("party"), { ttl: 60_000 });
    await barrier.create(2);
    assert.equal(await barrier.wait({ block: false, party: "message-1" }), false);
    assert.equal(await barrier.wait({ block: false, party: "message-1" }), false);
    assert.equal(await barrier.wait({ block: false, party: "message-2" }), true);
  });

  test("given a creation run twice with one token (a retried request), then both runs answer true", async ({ backend, key }) => {
    const k = key("create-twice");
    const token = crypto.randomUUID();
    assert(await backend.createBarrier(k, { token, parties: 2, ttl: 1_000 }));
    assert(await backend.createBarrier(k, { token, parties: 2, ttl: 1_000 }));
    const other = crypto.randomUUID();
    assert.equal(await backend.createBarrier(k, { token: other, parties: 2, ttl: 1_000 }), false);
    const state = await backend.arriveAtBarrier(k, "p");
    assert.deepEqual(state, { parties: 2, arrived: 1, expiresAt: backend.now() + 1_000 });
    assert.equal(await backend.barrierArrivals(k), 1);
  });

  test("given a blocking wait with a timeout, then it answers false once the clock passes it", async ({ backend, clock, key }) => {
    const barrier = new Barrier(backend, key("timeout"), { ttl: 60_000, pollMin: 1, pollMax: 2 });
    await barrier.create(2);
    const waiting = barrier.wait({ timeout: 1_000 });
    await pause(5);
    clock.time += 999;
    await pause(5);
    clock.time += 1;
    assert.equal(await waiting, false);
  });

  test("given a barrier that expires, then waits at it fail or give up", async ({ backend, clock, key }) => {
    const barrier = new Barrier(backend, key("expiry"), { ttl: 1_000, pollMin: 1, pollMax: 2 });
    await assert.rejects(barrier.wait(), {
      name: "Error",
      message:
        `Cannot wait at barrier '${barrier.key}': it does not exist (never created, or expired)`,
    });
    await barrier.create(3);
    const waiting = barrier.wait();
    await pause(5);
    clock.time += 1_000;
    assert.equal(await waiting, false);
    await assert.rejects(barrier.wait({ block: false }), Error);
    // Once expired, it can be created again, without the old arrivals.
    assert.equal(await barrier.create(2), true);
    assert.equal(await barrier.wait({ block: false }), false);
  });
}
