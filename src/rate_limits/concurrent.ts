/**
 * Dramatiq's `ConcurrentRateLimiter`: at most `limit` holders at once.
 *
 * @module
 */
import type { RateLimiterBackend } from "./backend.ts";
import { checkPositive } from "./_checks.ts";
import { settingsOf } from "./_source.ts";
import { RateLimiter, type RateLimiterSourceOptions, type Release } from "./rate_limiter.ts";

/** Options of {@linkcode ConcurrentRateLimiter}. */
export interface ConcurrentRateLimiterOptions {
  /** The most holders at once (default 1: a distributed mutex). */
  limit?: number;
  /**
   * How long a hold lasts unless released, in milliseconds (default 15 minutes): the slot
   * of a holder that crashed frees itself then. Limiters sharing a key should share it.
   */
  ttl?: number;
}

/**
 * Lets at most `limit` holders run at once, across every process sharing the backend;
 * `limit: 1` is a distributed mutex. Each acquire takes a slot under a fresh token, and
 * only that token releases it: a holder whose hold expired cannot free someone else's
 * slot. A holder that crashes keeps its slot until its `ttl` passes, so set `ttl` above
 * the longest time `fn` may run (an actor's `timeLimit`, say).
 *
 * @example A distributed mutex on the broker's backend (Redis for an `UpstashBroker`)
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 *
 * const broker = new MemoryBroker();
 * const mutex = new ConcurrentRateLimiter({ key: "distributed-mutex", limit: 1, broker });
 * await mutex.acquire(async () => {
 *   assert(await mutex.acquire((got) => got, { raiseOnFailure: false }) === false);
 * });
 * ```
 * @example A distributed mutex on a backend given
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryRateLimiterBackend } from "./memory_backend.ts";
 *
 * const backend = new MemoryRateLimiterBackend();
 * const mutex = new ConcurrentRateLimiter(backend, "distributed-mutex", { limit: 1 });
 * await mutex.acquire(async (acquired) => {
 *   assert(acquired);
 *   const inner = await mutex.acquire((got) => got, { raiseOnFailure: false });
 *   assert(inner === false);
 * });
 * ```
 */
export class ConcurrentRateLimiter extends RateLimiter {
  /** The most holders at once. */
  readonly limit: number;
  /** How long a hold lasts unless released, in milliseconds. */
  readonly ttl: number;

  /**
   * Creates a concurrency limiter. Its state lives where the broker's does (the `broker`
   * option, else the global broker at each acquire) unless `backend` is given.
   *
   * @param options The key, `limit` and `ttl`, and `backend` or `broker`.
   * @throws {TypeError} On an invalid backend or key, or a setting that is not a number.
   * @throws {RangeError} When `limit` or `ttl` is not a positive integer.
   */
  constructor(options: ConcurrentRateLimiterOptions & RateLimiterSourceOptions);
  /**
   * Creates a ConcurrentRateLimiter on a backend (Dramatiq's form).
   *
   * @param backend Where the state lives.
   * @param key The key every process sharing the limit uses.
   * @param options The settings.
   * @throws {TypeError} On an invalid backend or key, or a setting that is not a number.
   * @throws {RangeError} When a setting is out of range.
   */
  constructor(backend: RateLimiterBackend, key: string, options?: ConcurrentRateLimiterOptions);
  constructor(
    first: RateLimiterBackend | (ConcurrentRateLimiterOptions & RateLimiterSourceOptions),
    key?: string,
    settings?: ConcurrentRateLimiterOptions,
  ) {
    super(first, key, "ConcurrentRateLimiter");
    const options = settingsOf<ConcurrentRateLimiterOptions>(first, key, settings);
    const context = `Cannot create ConcurrentRateLimiter '${this.key}'`;
    this.limit = checkPositive(options.limit, "limit", context, 1);
    this.ttl = checkPositive(options.ttl, "ttl", context, 15 * 60_000);
  }

  /**
   * Takes a slot under a fresh token.
   *
   * @returns The release of that token's slot, or `undefined` when `limit` holders hold one.
   */
  protected override async tryAcquire(): Promise<Release | undefined> {
    const token = crypto.randomUUID();
    const { backend, key, limit, ttl } = this;
    // The hold ends no sooner than this (the backend's clock, read before acquiring).
    const expiresAt = backend.now() + ttl;
    let acquired: boolean;
    try {
      acquired = await backend.acquireConcurrent(key, { token, limit, ttl });
    } catch (error) {
      // Its first run may have taken the slot though no answer came: give it back rather
      // than leave it held until the ttl (nothing happens if it took none).
      await backend.releaseConcurrent(key, token, { expiresAt }).catch(() => {});
      throw error;
    }
    if (!acquired) return undefined;
    return async () => {
      await backend.releaseConcurrent(key, token, { expiresAt });
    };
  }
}
