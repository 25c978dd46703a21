/**
 * The base of every rate limiter: `acquire(fn)` runs `fn` while holding a slot.
 *
 * @module
 */
import { describe } from "../_util.ts";
import type { Broker } from "../broker.ts";
import { RateLimitExceeded } from "../errors.ts";
import type { RateLimiterBackend } from "./backend.ts";
import { checkName } from "./_checks.ts";
import { backendOf, readSource } from "./_source.ts";

/**
 * The key of a limiter (or a barrier) and where its state lives, in the one-argument form
 * `new ConcurrentRateLimiter({ key, limit })`: the backend given, else the one the broker
 * implies (an `UpstashRateLimiterBackend` on an `UpstashBroker`'s Redis and namespace, a
 * memory backend beside any other broker), looked up at each acquire.
 */
export interface RateLimiterSourceOptions {
  /** The key every limiter sharing the limit uses. */
  key: string;
  /** Where the state lives (default: derived from the broker). */
  backend?: RateLimiterBackend;
  /** The broker whose backend to derive (default: the global broker, at each acquire). */
  broker?: Broker;
}

/** Options of `acquire()`. */
export interface AcquireOptions {
  /**
   * When the limiter cannot acquire: `true` (the default) throws `RateLimitExceeded`, which
   * the `Retries` middleware retries with backoff; `false` calls `fn(false)` instead.
   */
  raiseOnFailure?: boolean;
}

/** What a limiter's `tryAcquire` answers: a release, or `undefined` when it is full. */
export type Release = () => Promise<void>;

/**
 * A rate limiter on a backend, under a key that every limiter sharing the limit uses.
 * Subclasses say how to acquire (and release) one slot. The backend is the one given, or
 * the one the broker implies (see {@linkcode RateLimiterSourceOptions}).
 *
 * @example Any limiter runs a function while holding a slot
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryRateLimiterBackend } from "./memory_backend.ts";
 * import { WindowRateLimiter } from "./window.ts";
 *
 * const limiter: RateLimiter = new WindowRateLimiter(new MemoryRateLimiterBackend(), "api", {
 *   limit: 1,
 *   window: 1_000,
 * });
 * assert(await limiter.acquire((acquired) => acquired) === true);
 * assert(await limiter.acquire((acquired) => acquired, { raiseOnFailure: false }) === false);
 * ```
 */
export abstract class RateLimiter {
  /** The key every limiter sharing this limit uses. */
  readonly key: string;
  readonly #backend: RateLimiterBackend | undefined;
  readonly #broker: Broker | undefined;

  /**
   * Checks the backend and the key.
   *
   * @param backend Where the state lives, or the options form's object (its `key`,
   *   `backend` and `broker`).
   * @param key The shared key (`undefined` in the options form).
   * @param kind The class name, for error messages.
   * @throws {TypeError} When the backend, the broker or the key is invalid.
   */
  constructor(
    backend: RateLimiterBackend | RateLimiterSourceOptions,
    key: string | undefined,
    kind: string,
  ) {
    const context = `Cannot create ${kind}`;
    const source = readSource(backend, key, context);
    this.#backend = source.backend;
    this.#broker = source.broker;
    this.key = checkName(source.key, "key", context);
  }

  /**
   * Where the limiter's state lives: the backend given, else the one of the `broker`
   * option or of the global broker, looked up now.
   */
  get backend(): RateLimiterBackend {
    return this.#backend ?? backendOf(this.#broker);
  }

  /**
   * Tries to take one slot, in one backend operation.
   *
   * @returns How to give the slot back, or `undefined` when the limit is reached.
   */
  protected abstract tryAcquire(): Promise<Release | undefined>;

  /**
   * Runs `fn(true)` while holding a slot, then gives the slot back (when the limiter has
   * slots to give back: a concurrency limiter does, windows and buckets do not). When the
   * limit is reached, throws `RateLimitExceeded`, or with `raiseOnFailure: false` runs
   * `fn(false)`. A release that fails (say, on a network error) is left to the hold's
   * ttl; what `fn` returned or threw is what `acquire` answers.
   *
   * @typeParam T What `fn` returns.
   * @param fn The work; it receives whether the slot was acquired.
   * @param options Whether to throw when the limit is reached.
   * @returns What `fn` returned.
   * @throws {RateLimitExceeded} When the limit is reached and `raiseOnFailure` is not `false`.
   * @throws {TypeError} When `fn` is not a function.
   * @throws {unknown} What `fn` throws, and what the backend throws when acquiring.
   * @example A distributed mutex, and what happens when it is held
   * ```ts
   * import assert from "node:assert/strict";
   * import { RateLimitExceeded } from "../errors.ts";
   * import { ConcurrentRateLimiter } from "./concurrent.ts";
   * import { MemoryRateLimiterBackend } from "./memory_backend.ts";
   *
   * const mutex = new ConcurrentRateLimiter(new MemoryRateLimiterBackend(), "distributed-mutex", {
   *   limit: 1,
   * });
   * const lines: string[] = [];
   * await mutex.acquire(async () => {
   *   await assert.rejects(mutex.acquire(() => {}), RateLimitExceeded);
   *   await mutex.acquire(async (acquired) => {
   *     if (!acquired) lines.push("Lock could not be acquired.");
   *   }, { raiseOnFailure: false });
   * });
   * assert.deepEqual(lines, ["Lock could not be acquired."]);
   * ```
   */
  async acquire<T>(
    fn: (acquired: boolean) => T | Promise<T>,
    options: AcquireOptions = {},
  ): Promise<T> {
    if (typeof fn !== "function") {
      throw new TypeError(
        `Cannot acquire rate limiter '${this.key}': 'fn' must be a function, received ${
          describe(fn)
        }`,
      );
    }
    const release = await this.tryAcquire();
    if (!release) {
      if (options.raiseOnFailure ?? true) throw new RateLimitExceeded(this.key);
      return await fn(false);
    }
    try {
      return await fn(true);
    } finally {
      // The hold's ttl frees the slot if this fails; fn's outcome matters more.
      await release().catch(() => {});
    }
  }
}

/**
 * The release of limiters that hold nothing once admitted (windows, buckets).
 *
 * @returns A promise that is already resolved.
 */
export function nothingToRelease(): Promise<void> {
  return Promise.resolve();
}
