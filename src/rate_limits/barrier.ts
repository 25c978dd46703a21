/**
 * Dramatiq's `Barrier`: parties wait until all of them have arrived.
 *
 * @module
 */
import { describe, isNonNegative, sleep } from "../_util.ts";
import type { Broker } from "../broker.ts";
import type { RateLimiterBackend } from "./backend.ts";
import { checkName, checkPositive } from "./_checks.ts";
import type { RateLimiterSourceOptions } from "./rate_limiter.ts";
import { backendOf, readSource, settingsOf } from "./_source.ts";

/** Options of {@linkcode Barrier}. */
export interface BarrierOptions {
  /** How long the barrier lives after `create()`, in milliseconds (default 15 minutes). */
  ttl?: number;
  /** The first pause between polls of a blocking `wait()`, in milliseconds (default 100). */
  pollMin?: number;
  /** The longest pause between polls, in milliseconds (default 2 000). */
  pollMax?: number;
}

/** Options of `barrier.wait()`. */
export interface BarrierWaitOptions {
  /** Wait until every party has arrived (default `true`); `false` answers at once. */
  block?: boolean;
  /** Give up after this many milliseconds (default: until the barrier expires). */
  timeout?: number;
  /**
   * This party's id (default: a fresh one per call). Arriving twice with the same id
   * counts once: pass the message id so a retried message does not count as a new party.
   */
  party?: string;
}

/**
 * A barrier for `parties` parties: create it once, then each party calls `wait()`, which
 * answers `true` once all of them have arrived. A blocking wait polls the backend (one
 * small script per poll over REST, which has no blocking commands), pausing twice as
 * long each time from `pollMin` to `pollMax`. The barrier, arrivals included, expires
 * `ttl` after its creation.
 *
 * @example Two parties
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryRateLimiterBackend } from "./memory_backend.ts";
 *
 * const backend = new MemoryRateLimiterBackend();
 * const barrier = new Barrier(backend, "batch-42", { ttl: 60_000, pollMin: 1 });
 * assert(await barrier.create(2));
 * assert(!await barrier.create(2)); // created once
 * const first = barrier.wait({ timeout: 5_000 });
 * assert(await barrier.wait({ block: false }));
 * assert(await first);
 * ```
 */
export class Barrier {
  /** The key every party uses. */
  readonly key: string;
  /** How long the barrier lives after `create()`, in milliseconds. */
  readonly ttl: number;
  /** The first pause between polls, in milliseconds. */
  readonly pollMin: number;
  /** The longest pause between polls, in milliseconds. */
  readonly pollMax: number;
  readonly #backend: RateLimiterBackend | undefined;
  readonly #broker: Broker | undefined;

  /**
   * Describes a barrier; nothing is stored until `create()`. Its state lives where the
   * broker's does (the `broker` option, else the global broker at each call) unless
   * `backend` is given.
   *
   * @param options The key, the ttl and the polling pauses, and `backend` or `broker`.
   * @throws {TypeError} On an invalid backend, broker or key, or a setting that is not a
   *   number.
   * @throws {RangeError} When a setting is not a positive integer, or `pollMin` exceeds
   *   `pollMax`.
   */
  constructor(options: BarrierOptions & RateLimiterSourceOptions);
  /**
   * Describes a barrier on a backend (Dramatiq's form); nothing is stored until `create()`.
   *
   * @param backend Where the barrier lives.
   * @param key The key every party uses.
   * @param options The ttl and the polling pauses.
   * @throws {TypeError} On an invalid backend or key, or a setting that is not a number.
   * @throws {RangeError} When a setting is not a positive integer, or `pollMin` exceeds
   *   `pollMax`.
   */
  constructor(backend: RateLimiterBackend, key: string, options?: BarrierOptions);
  constructor(
    first: RateLimiterBackend | (BarrierOptions & RateLimiterSourceOptions),
    key?: string,
    settings?: BarrierOptions,
  ) {
    const source = readSource(first, key, "Cannot create Barrier");
    this.#backend = source.backend;
    this.#broker = source.broker;
    this.key = checkName(source.key, "key", "Cannot create Barrier");
    const context = `Cannot create Barrier '${this.key}'`;
    const options = settingsOf<BarrierOptions>(first, key, settings);
    this.ttl = checkPositive(options.ttl, "ttl", context, 15 * 60_000);
    this.pollMin = checkPositive(options.pollMin, "pollMin", context, 100);
    this.pollMax = checkPositive(
      options.pollMax,
      "pollMax",
      context,
      Math.max(2_000, this.pollMin),
    );
    if (this.pollMin > this.pollMax) {
      throw new RangeError(
        `${context}: 'pollMin' must be at most 'pollMax' (${this.pollMax}), received ${this.pollMin}`,
      );
    }
  }

  /**
   * Where the barrier lives: the backend given, else the one of the `broker` option or of
   * the global broker, looked up now.
   */
  get backend(): RateLimiterBackend {
    return this.#backend ?? backendOf(this.#broker);
  }

  /**
   * Creates the barrier for `parties` parties, unless it exists (one process creates it;
   * the others' calls answer `false`).
   *
   * @param parties How many parties must arrive.
   * @returns Whether this call created it.
   * @throws {TypeError} When `parties` is not a number.
   * @throws {RangeError} When `parties` is not a positive integer.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryRateLimiterBackend } from "./memory_backend.ts";
   *
   * const barrier = new Barrier(new MemoryRateLimiterBackend(), "once");
   * assert.deepEqual([await barrier.create(3), await barrier.create(3)], [true, false]);
   * ```
   */
  async create(parties: number): Promise<boolean> {
    checkPositive(parties, "parties", `Cannot create barrier '${this.key}'`);
    const token = crypto.randomUUID();
    return await this.backend.createBarrier(this.key, { token, parties, ttl: this.ttl });
  }

  /**
   * Arrives at the barrier, then (unless `block` is `false`) waits until every party has
   * arrived, the timeout passes or the barrier expires.
   *
   * @param options Whether to block, for how long, and this party's id.
   * @returns Whether every party has arrived.
   * @throws {Error} When the barrier does not exist (never created, or expired).
   * @throws {TypeError} On an invalid `party`.
   * @throws {RangeError} On a negative or non-finite `timeout`.
   * @example Without blocking
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryRateLimiterBackend } from "./memory_backend.ts";
   *
   * const barrier = new Barrier(new MemoryRateLimiterBackend(), "pair");
   * await barrier.create(2);
   * assert(await barrier.wait({ block: false, party: "a" }) === false);
   * assert(await barrier.wait({ block: false, party: "a" }) === false); // still one party
   * assert(await barrier.wait({ block: false, party: "b" }) === true);
   * ```
   */
  async wait(options: BarrierWaitOptions = {}): Promise<boolean> {
    const { block = true, timeout, party = crypto.randomUUID() } = options;
    const context = `Cannot wait at barrier '${this.key}'`;
    if (timeout !== undefined && !isNonNegative(timeout)) {
      throw new RangeError(
        `${context}: 'timeout' must be a non-negative number of milliseconds, received ${
          describe(timeout)
        }`,
      );
    }
    checkName(party, "party", context);
    const deadline = timeout === undefined ? Infinity : this.backend.now() + timeout;
    const state = await this.backend.arriveAtBarrier(this.key, party);
    if (!state) throw new Error(`${context}: it does not exist (never created, or expired)`);
    if (state.arrived >= state.parties) return true;
    if (!block) return false;
    let pause = this.pollMin;
    const end = Math.min(deadline, state.expiresAt);
    while (true) {
      const left = end - this.backend.now();
      if (left <= 0) return false;
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, this.pollMax);
      const arrived = await this.backend.barrierArrivals(this.key);
      if (arrived === undefined) return false;
      if (arrived >= state.parties) return true;
    }
  }
}
