/**
 * The storage contract of rate limiters and barriers: one atomic operation per acquire,
 * release, creation or arrival. `MemoryRateLimiterBackend` keeps the state in process,
 * `UpstashRateLimiterBackend` in Redis with one Lua script per operation; both pass the
 * conformance suite in `tests/rate_limits_conformance.ts`.
 *
 * @module
 */

/** Options of `acquireConcurrent`. */
export interface ConcurrentSlotOptions {
  /** The holder's token: unique per acquire, and what releases the slot. */
  token: string;
  /** The most holders at once. */
  limit: number;
  /** How long a hold lasts unless released, in milliseconds. */
  ttl: number;
}

/** Options of `acquireWindow`. */
export interface WindowSlotOptions {
  /** The request's id: unique per acquire, so that running it twice admits it once. */
  id: string;
  /** The most requests admitted in any window. */
  limit: number;
  /** The length of the sliding window, in milliseconds. */
  window: number;
}

/** Options of `releaseConcurrent`. */
export interface ReleaseSlotOptions {
  /**
   * When the hold expires, by the backend's clock (ms since the epoch), as the holder
   * computed it when acquiring. With it, a token already gone before then answers `true`:
   * its own holder freed it (a retried release, whose first run freed the slot).
   */
  expiresAt?: number;
}

/** Options of `acquireFixedBucket` and `acquireTokenBucket`. */
export interface BucketSlotOptions {
  /** The request's id: unique per acquire, so that running it twice admits it once. */
  id: string;
  /** The most requests per bucket (fixed), or the bucket's capacity (token). */
  limit: number;
  /** The length of a bucket, or the time to refill an empty token bucket, in milliseconds. */
  bucket: number;
}

/** Options of `createBarrier`. */
export interface BarrierCreateOptions {
  /** The creator's token: running the creation twice answers `true` both times. */
  token: string;
  /** How many parties must arrive. */
  parties: number;
  /** How long the barrier lives after its creation, in milliseconds. */
  ttl: number;
}

/** A barrier as an arrival leaves it. */
export interface BarrierState {
  /** How many parties must arrive. */
  parties: number;
  /** How many distinct parties have arrived. */
  arrived: number;
  /** When the barrier expires, by the backend's clock (ms since the epoch). */
  expiresAt: number;
}

/**
 * Where rate limiters and barriers keep their state. Each method is one atomic step,
 * safe to run twice with the same token or id, with the same outcome (a REST client sends
 * a request again when its response was lost): a repeated acquire takes no second slot, a
 * repeated release frees nobody else's and answers as the first, a repeated creation or
 * arrival counts once. A refused acquire changes nothing, so its repeat is decided afresh. Keys are the limiters' own keys: a backend namespaces them and keeps
 * the kinds apart, so a window and a bucket with the same key do not share state.
 *
 * @example A backend is handed to limiters, which call it
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryRateLimiterBackend } from "./memory_backend.ts";
 *
 * const backend: RateLimiterBackend = new MemoryRateLimiterBackend();
 * const token = crypto.randomUUID();
 * assert(await backend.acquireConcurrent("mutex", { token, limit: 1, ttl: 1_000 }));
 * assert(await backend.releaseConcurrent("mutex", token));
 * ```
 */
export interface RateLimiterBackend {
  /**
   * The backend's clock: what its operations take as now.
   *
   * @returns Milliseconds since the epoch.
   */
  now(): number;

  /**
   * Drops expired holds, then takes a slot for `token` unless `limit` holders hold one.
   *
   * @param key The limiter's key.
   * @param options The token, the limit and the hold's ttl.
   * @returns Whether `token` holds a slot (also when it held one already).
   */
  acquireConcurrent(key: string, options: ConcurrentSlotOptions): Promise<boolean>;

  /**
   * Frees the slot `token` holds, if it still holds one. Never frees another holder's.
   *
   * @param key The limiter's key.
   * @param token The holder's token.
   * @param options When the hold expires, so that a repeated release answers as the first.
   * @returns Whether the slot was freed, by this call or an earlier release of the same
   *   token before its hold expired (`false`: the hold expired and was dropped).
   */
  releaseConcurrent(key: string, token: string, options?: ReleaseSlotOptions): Promise<boolean>;

  /**
   * Admits request `id` if fewer than `limit` requests were admitted in the last `window`
   * milliseconds, `(now - window, now]`.
   *
   * @param key The limiter's key.
   * @param options The request id, the limit and the window.
   * @returns Whether the request is admitted (also when it was already).
   */
  acquireWindow(key: string, options: WindowSlotOptions): Promise<boolean>;

  /**
   * Admits request `id` in the current fixed bucket (`floor(now / bucket)`) if it is one
   * of the first `limit`.
   *
   * @param key The limiter's key.
   * @param options The request id, the limit and the bucket's length.
   * @returns Whether the request is admitted (also when it was already).
   */
  acquireFixedBucket(key: string, options: BucketSlotOptions): Promise<boolean>;

  /**
   * Takes a token for request `id` from a bucket of `limit` tokens that refills
   * continuously, `limit` tokens every `bucket` milliseconds.
   *
   * @param key The limiter's key.
   * @param options The request id, the capacity and the refill time.
   * @returns Whether a token was taken (also when request `id` took it already).
   */
  acquireTokenBucket(key: string, options: BucketSlotOptions): Promise<boolean>;

  /**
   * Creates a barrier unless it exists.
   *
   * @param key The barrier's key.
   * @param options The creator's token, the parties and the ttl.
   * @returns Whether this token created it.
   */
  createBarrier(key: string, options: BarrierCreateOptions): Promise<boolean>;

  /**
   * Records the arrival of `party` (once, however often it arrives).
   *
   * @param key The barrier's key.
   * @param party The party's id.
   * @returns The barrier after the arrival, or `undefined` when it does not exist.
   */
  arriveAtBarrier(key: string, party: string): Promise<BarrierState | undefined>;

  /**
   * Reads how many parties have arrived, without arriving. A barrier past its `expiresAt`
   * may still answer a count (Redis drops the key on its own clock): callers compare
   * `expiresAt` with `now()`.
   *
   * @param key The barrier's key.
   * @returns The count, or `undefined` when the barrier does not exist (any more).
   */
  barrierArrivals(key: string): Promise<number | undefined>;
}
