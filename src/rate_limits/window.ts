/**
 * A true sliding window: at most `limit` acquires in any `window` milliseconds.
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

/** Options of {@linkcode WindowRateLimiter}. */
export interface WindowRateLimiterOptions {
  /** The most acquires in any window (default 1). */
  limit?: number;
  /** The window's length, in milliseconds (default 1 000). */
  window?: number;
}

/**
 * Admits at most `limit` acquires in any `window` milliseconds: a true sliding window
 * (a log of admitted acquires), not an estimate from fixed buckets, so there is no burst
 * of twice the limit across a bucket's edge. An acquire admitted at `t` counts until
 * `t + window`, when its slot frees. Refused acquires are not logged, so a crowd of
 * refused callers does not push the window out. The log holds up to `limit` entries per
 * key; for limits in the tens of thousands, prefer a `BucketRateLimiter`.
 *
 * @example Three calls a second
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryRateLimiterBackend } from "./memory_backend.ts";
 *
 * let time = 0;
 * const backend = new MemoryRateLimiterBackend({ now: () => time });
 * const limiter = new WindowRateLimiter(backend, "api", { limit: 3, window: 1_000 });
 * const call = () => limiter.acquire((acquired) => acquired, { raiseOnFailure: false });
 * assert.deepEqual([await call(), await call(), await call(), await call()], [true, true, true, false]);
 * time = 999;
 * assert(await call() === false);
 * time = 1_000;
 * assert(await call() === true);
 * ```
 */
export class WindowRateLimiter extends RateLimiter {
  /** The most acquires in any window. */
  readonly limit: number;
  /** The window's length, in milliseconds. */
  readonly window: number;

  /**
   * Creates a sliding-window limiter. Its state lives where the broker's does (the `broker`
   * option, else the global broker at each acquire) unless `backend` is given.
   *
   * @param options The key, `limit` and `window`, and `backend` or `broker`.
   * @throws {TypeError} On an invalid backend or key, or a setting that is not a number.
   * @throws {RangeError} When `limit` or `window` is not a positive integer.
   */
  constructor(options: WindowRateLimiterOptions & RateLimiterSourceOptions);
  /**
   * Creates a WindowRateLimiter on a backend (Dramatiq's form).
   *
   * @param backend Where the state lives.
   * @param key The key every process sharing the limit uses.
   * @param options The settings.
   * @throws {TypeError} On an invalid backend or key, or a setting that is not a number.
   * @throws {RangeError} When a setting is out of range.
   */
  constructor(backend: RateLimiterBackend, key: string, options?: WindowRateLimiterOptions);
  constructor(
    first: RateLimiterBackend | (WindowRateLimiterOptions & RateLimiterSourceOptions),
    key?: string,
    settings?: WindowRateLimiterOptions,
  ) {
    super(first, key, "WindowRateLimiter");
    const options = settingsOf<WindowRateLimiterOptions>(first, key, settings);
    const context = `Cannot create WindowRateLimiter '${this.key}'`;
    this.limit = checkPositive(options.limit, "limit", context, 1);
    this.window = checkPositive(options.window, "window", context, 1_000);
  }

  /**
   * Logs an acquire under a fresh id if the window has room.
   *
   * @returns A release that does nothing, or `undefined` when the window is full.
   */
  protected override async tryAcquire(): Promise<Release | undefined> {
    const { limit, window } = this;
    const id = crypto.randomUUID();
    return await this.backend.acquireWindow(this.key, { id, limit, window })
      ? nothingToRelease
      : undefined;
  }
}
