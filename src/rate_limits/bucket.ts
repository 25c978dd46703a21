/**
 * Dramatiq's `BucketRateLimiter` (fixed buckets), and a token bucket.
 *
 * @module
 */
import type { RateLimiterBackend } from "./backend.ts";
import { checkPositive } from "./_checks.ts";
import { settingsOf } from "./_source.ts";
import {
  nothingToRelease,
  RateLimiter,
  type RateLimiterSourceOptions,
  type Release,
} from "./rate_limiter.ts";

/** How a {@linkcode BucketRateLimiter} counts. */
export const BUCKET_STRATEGIES: readonly ["fixed", "token"] = ["fixed", "token"];

/** One of {@linkcode BUCKET_STRATEGIES}. */
export type BucketStrategy = typeof BUCKET_STRATEGIES[number];

/** Options of {@linkcode BucketRateLimiter}. */
export interface BucketRateLimiterOptions {
  /** The most acquires per bucket, or the token bucket's capacity (default 1). */
  limit?: number;
  /** A bucket's length, or the time to refill an empty token bucket, in ms (default 1 000). */
  bucket?: number;
  /**
   * `"fixed"` (the default, Dramatiq's): at most `limit` acquires in each bucket of time
   * `[k * bucket, (k + 1) * bucket)`; a burst of `2 * limit` can straddle an edge.
   * `"token"`: a bucket of `limit` tokens refilling smoothly, one every `bucket / limit` ms;
   * bursts up to `limit`, then a steady rate.
   */
  strategy?: BucketStrategy;
}

/**
 * Limits acquires per bucket of time, with a counter per bucket (`"fixed"`), or with a
 * token bucket (`"token"`). Both keep a constant amount of state per key, however large
 * the limit, and cost two or four Redis commands per acquire.
 *
 * A request retried after a lost response is counted twice: that can refuse one request
 * too many, never admit one too many.
 *
 * @example Two acquires per bucket of a second
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryRateLimiterBackend } from "./memory_backend.ts";
 *
 * let time = 0;
 * const backend = new MemoryRateLimiterBackend({ now: () => time });
 * const limiter = new BucketRateLimiter(backend, "emails", { limit: 2, bucket: 1_000 });
 * const call = () => limiter.acquire((acquired) => acquired, { raiseOnFailure: false });
 * assert.deepEqual([await call(), await call(), await call()], [true, true, false]);
 * time = 1_000; // the next bucket
 * assert(await call() === true);
 * ```
 * @example A token bucket: a burst of 2, then one every 500 ms
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryRateLimiterBackend } from "./memory_backend.ts";
 *
 * let time = 0;
 * const backend = new MemoryRateLimiterBackend({ now: () => time });
 * const limiter = new BucketRateLimiter(backend, "api", { limit: 2, bucket: 1_000, strategy: "token" });
 * const call = () => limiter.acquire((acquired) => acquired, { raiseOnFailure: false });
 * assert.deepEqual([await call(), await call(), await call()], [true, true, false]);
 * time = 500;
 * assert.deepEqual([await call(), await call()], [true, false]);
 * ```
 */
export class BucketRateLimiter extends RateLimiter {
  /** The most acquires per bucket, or the token bucket's capacity. */
  readonly limit: number;
  /** A bucket's length, or the refill time of an empty token bucket, in milliseconds. */
  readonly bucket: number;
  /** How it counts. */
  readonly strategy: BucketStrategy;

  /**
   * Creates a bucket limiter. Its state lives where the broker's does (the `broker`
   * option, else the global broker at each acquire) unless `backend` is given.
   *
   * @param options The key, `limit`, `bucket` and `strategy`, and `backend` or `broker`.
   * @throws {TypeError} On an invalid backend or key, a setting that is not a number, or an
   *   unknown strategy.
   * @throws {RangeError} When `limit` or `bucket` is not a positive integer, or (token
   *   bucket) their product exceeds `Number.MAX_SAFE_INTEGER`.
   */
  constructor(options: BucketRateLimiterOptions & RateLimiterSourceOptions);
  /**
   * Creates a BucketRateLimiter on a backend (Dramatiq's form).
   *
   * @param backend Where the state lives.
   * @param key The key every process sharing the limit uses.
   * @param options The settings.
   * @throws {TypeError} On an invalid backend or key, or a setting that is not a number.
   * @throws {RangeError} When a setting is out of range.
   */
  constructor(backend: RateLimiterBackend, key: string, options?: BucketRateLimiterOptions);
  constructor(
    first: RateLimiterBackend | (BucketRateLimiterOptions & RateLimiterSourceOptions),
    key?: string,
    settings?: BucketRateLimiterOptions,
  ) {
    super(first, key, "BucketRateLimiter");
    const options = settingsOf<BucketRateLimiterOptions>(first, key, settings);
    const context = `Cannot create BucketRateLimiter '${this.key}'`;
    this.limit = checkPositive(options.limit, "limit", context, 1);
    this.bucket = checkPositive(options.bucket, "bucket", context, 1_000);
    const strategy = options.strategy ?? "fixed";
    if (!BUCKET_STRATEGIES.includes(strategy)) {
      throw new TypeError(
        `${context}: 'strategy' must be "fixed" or "token", received ${
          typeof strategy === "string" ? JSON.stringify(strategy.slice(0, 40)) : typeof strategy
        }`,
      );
    }
    if (strategy === "token" && this.limit * this.bucket > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(
        `${context}: 'limit' times 'bucket' must be at most ${Number.MAX_SAFE_INTEGER} for a token bucket, received ${
          this.limit * this.bucket
        }`,
      );
    }
    this.strategy = strategy;
  }

  /**
   * Counts an acquire in the current bucket, or takes a token.
   *
   * @returns A release that does nothing, or `undefined` when the bucket is full or empty.
   */
  protected override async tryAcquire(): Promise<Release | undefined> {
    const { backend, key, limit, bucket } = this;
    // One id per acquire: every retry of its request carries it, so it is counted once.
    const id = crypto.randomUUID();
    const admitted = this.strategy === "token"
      ? await backend.acquireTokenBucket(key, { id, limit, bucket })
      : await backend.acquireFixedBucket(key, { id, limit, bucket });
    return admitted ? nothingToRelease : undefined;
  }
}
