/**
 * Rate limiter state in process: for tests, scripts and single-process deployments.
 *
 * @module
 */
import type {
  BarrierCreateOptions,
  BarrierState,
  BucketSlotOptions,
  ConcurrentSlotOptions,
  RateLimiterBackend,
  ReleaseSlotOptions,
  WindowSlotOptions,
} from "./backend.ts";
import { checkClock } from "./_checks.ts";

/** Options of {@linkcode MemoryRateLimiterBackend}. */
export interface MemoryRateLimiterBackendOptions {
  /** The clock (default `Date.now`); inject one in tests to move time. */
  now?: () => number;
}

interface Barrier {
  parties: number;
  creator: string;
  arrived: Set<string>;
  expiresAt: number;
}

interface Entry {
  value: unknown;
  expiresAt: number;
}

/** Operations between two sweeps of expired keys. */
const SWEEP_EVERY = 1_024;

/**
 * Keeps rate limiter and barrier state in a map, with the same semantics as the Redis
 * backend: keys expire like Redis keys (a sweep every thousand operations drops the
 * expired ones), and every operation is atomic because it never awaits.
 *
 * @example A mutex in memory
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConcurrentRateLimiter } from "./concurrent.ts";
 *
 * const backend = new MemoryRateLimiterBackend();
 * const mutex = new ConcurrentRateLimiter(backend, "mutex", { limit: 1 });
 * assert(await mutex.acquire(() => "held") === "held");
 * ```
 */
export class MemoryRateLimiterBackend implements RateLimiterBackend {
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #operations = 0;

  /**
   * Creates an empty backend.
   *
   * @param options The clock.
   * @throws {TypeError} When `now` is not a function.
   */
  constructor(options: MemoryRateLimiterBackendOptions = {}) {
    this.#now = checkClock(options.now, "MemoryRateLimiterBackend");
  }

  /**
   * The backend's clock.
   *
   * @returns Milliseconds since the epoch.
   */
  now(): number {
    return this.#now();
  }

  /**
   * Takes a concurrency slot: see {@linkcode RateLimiterBackend.acquireConcurrent}.
   *
   * @param key The limiter's key.
   * @param options The token, the limit and the ttl.
   * @returns Whether `token` holds a slot.
   */
  acquireConcurrent(key: string, options: ConcurrentSlotOptions): Promise<boolean> {
    const now = this.#tick();
    const name = `concurrent:${key}`;
    const holders = this.#get<Map<string, number>>(name, now) ?? new Map();
    // As in Redis, expired holds are dropped only when the set is full.
    if (holders.size >= options.limit) {
      for (const [token, expiresAt] of holders) if (expiresAt <= now) holders.delete(token);
    }
    if (holders.size < options.limit) {
      holders.set(options.token, now + options.ttl);
      this.#set(name, holders, now + options.ttl);
      return Promise.resolve(true);
    }
    return Promise.resolve(holders.has(options.token));
  }

  /**
   * Frees a concurrency slot: see {@linkcode RateLimiterBackend.releaseConcurrent}.
   *
   * @param key The limiter's key.
   * @param token The holder's token.
   * @returns Whether a slot was freed.
   */
  releaseConcurrent(
    key: string,
    token: string,
    options: ReleaseSlotOptions = {},
  ): Promise<boolean> {
    const now = this.#tick();
    const name = `concurrent:${key}`;
    const holders = this.#get<Map<string, number>>(name, now);
    const freed = holders?.delete(token) ?? false;
    if (holders?.size === 0) this.#entries.delete(name);
    // Gone before its expiry: only its holder frees a hold early, so it was freed already.
    return Promise.resolve(freed || now < (options.expiresAt ?? 0));
  }

  /**
   * Admits a request in a sliding window: see {@linkcode RateLimiterBackend.acquireWindow}.
   *
   * @param key The limiter's key.
   * @param options The request id, the limit and the window.
   * @returns Whether the request is admitted.
   */
  acquireWindow(key: string, options: WindowSlotOptions): Promise<boolean> {
    const now = this.#tick();
    const name = `window:${key}`;
    const admitted = this.#get<Map<string, number>>(name, now) ?? new Map();
    if (admitted.size >= options.limit) {
      for (const [id, at] of admitted) if (at <= now - options.window) admitted.delete(id);
    }
    if (admitted.size < options.limit) {
      admitted.set(options.id, now);
      this.#set(name, admitted, now + options.window);
      return Promise.resolve(true);
    }
    return Promise.resolve(admitted.has(options.id));
  }

  /**
   * Counts a request in a fixed bucket: see {@linkcode RateLimiterBackend.acquireFixedBucket}.
   *
   * @param key The limiter's key.
   * @param options The limit and the bucket's length.
   * @returns Whether the request is admitted.
   */
  acquireFixedBucket(key: string, options: BucketSlotOptions): Promise<boolean> {
    const now = this.#tick();
    const index = Math.floor(now / options.bucket);
    const name = `bucket:${key}:${index}`;
    const admitted = this.#get<Set<string>>(name, now) ?? new Set();
    if (admitted.size < options.limit) {
      admitted.add(options.id);
      this.#set(name, admitted, (index + 2) * options.bucket);
      return Promise.resolve(true);
    }
    return Promise.resolve(admitted.has(options.id));
  }

  /**
   * Takes a token from a token bucket: see {@linkcode RateLimiterBackend.acquireTokenBucket}.
   *
   * @param key The limiter's key.
   * @param options The capacity and the refill time.
   * @returns Whether a token was taken.
   */
  acquireTokenBucket(key: string, options: BucketSlotOptions): Promise<boolean> {
    const now = this.#tick();
    // In units of 1/bucket of a token, so that refills stay integers: `limit` units a ms.
    const { limit, bucket } = options;
    const capacity = limit * bucket;
    const state = this.#get<{ units: number; at: number }>(`tokens:${key}`, now);
    const units = state
      ? Math.min(capacity, state.units + Math.max(0, now - state.at) * limit)
      : capacity;
    const taken = `tokens:${key}:taken:${options.id}`;
    // As in Redis: a request that took a token is remembered a minute under its id.
    if (this.#get<true>(taken, now)) return Promise.resolve(true);
    if (units < bucket) return Promise.resolve(false);
    this.#set(taken, true, now + 60_000);
    const left = units - bucket;
    this.#set(
      `tokens:${key}`,
      { units: left, at: now },
      now + Math.ceil((capacity - left) / limit),
    );
    return Promise.resolve(true);
  }

  /**
   * Creates a barrier: see {@linkcode RateLimiterBackend.createBarrier}.
   *
   * @param key The barrier's key.
   * @param options The creator's token, the parties and the ttl.
   * @returns Whether this token created it.
   */
  createBarrier(key: string, options: BarrierCreateOptions): Promise<boolean> {
    const now = this.#tick();
    const barrier = this.#get<Barrier>(`barrier:${key}`, now);
    if (barrier) return Promise.resolve(barrier.creator === options.token);
    const { parties, token: creator, ttl } = options;
    const created: Barrier = { parties, creator, arrived: new Set(), expiresAt: now + ttl };
    this.#set(`barrier:${key}`, created, created.expiresAt);
    return Promise.resolve(true);
  }

  /**
   * Arrives at a barrier: see {@linkcode RateLimiterBackend.arriveAtBarrier}.
   *
   * @param key The barrier's key.
   * @param party The party's id.
   * @returns The barrier after the arrival, or `undefined` when it does not exist.
   */
  arriveAtBarrier(key: string, party: string): Promise<BarrierState | undefined> {
    const barrier = this.#get<Barrier>(`barrier:${key}`, this.#tick());
    barrier?.arrived.add(party);
    return Promise.resolve(
      barrier &&
        { parties: barrier.parties, arrived: barrier.arrived.size, expiresAt: barrier.expiresAt },
    );
  }

  /**
   * Counts a barrier's arrivals: see {@linkcode RateLimiterBackend.barrierArrivals}.
   *
   * @param key The barrier's key.
   * @returns The count, or `undefined` when the barrier does not exist.
   */
  barrierArrivals(key: string): Promise<number | undefined> {
    return Promise.resolve(this.#get<Barrier>(`barrier:${key}`, this.#tick())?.arrived.size);
  }

  /** Reads the clock, and now and then drops every expired key. */
  #tick(): number {
    const now = this.#now();
    if (++this.#operations % SWEEP_EVERY === 0) {
      for (const [name, entry] of this.#entries) {
        if (entry.expiresAt <= now) this.#entries.delete(name);
      }
    }
    return now;
  }

  #get<T>(name: string, now: number): T | undefined {
    const entry = this.#entries.get(name);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.#entries.delete(name);
      return undefined;
    }
    return entry.value as T;
  }

  #set(name: string, value: unknown, expiresAt: number): void {
    this.#entries.set(name, { value, expiresAt });
  }
}
