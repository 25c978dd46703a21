/**
 * Rate limiter state in Redis through the Upstash REST protocol: one Lua script, one round
 * trip, per acquire, release, creation or arrival.
 *
 * @module
 */
import type { RedisClient } from "../redis/client.ts";
import type { Script, ScriptArg } from "../redis/script.ts";
import type {
  BarrierCreateOptions,
  BarrierState,
  BucketSlotOptions,
  ConcurrentSlotOptions,
  RateLimiterBackend,
  ReleaseSlotOptions,
  WindowSlotOptions,
} from "./backend.ts";
import { checkClock, checkName } from "./_checks.ts";
import { retryTransient } from "../brokers/upstash/_retry.ts";
import {
  ACQUIRE_CONCURRENT,
  ACQUIRE_FIXED_BUCKET,
  ACQUIRE_TOKEN_BUCKET,
  ACQUIRE_WINDOW,
  ARRIVE_AT_BARRIER,
  BARRIER_FIELDS,
  CREATE_BARRIER,
  RELEASE_CONCURRENT,
} from "./_scripts.ts";

/**
 * How long a token bucket remembers that a request took a token: far longer than
 * `@upstash/redis` goes on sending a request whose response was lost.
 */
const TAKEN_TTL_MS = 60_000;

/** Options of {@linkcode UpstashRateLimiterBackend}. */
export interface UpstashRateLimiterBackendOptions {
  /** Any `@upstash/redis`-compatible client (it needs `eval` and `evalsha` only). */
  redis: RedisClient;
  /** Prefixes every key (default `"skiff"`), as the broker's namespace does. */
  namespace?: string;
  /** The clock (default `Date.now`), passed to the scripts; inject one in tests. */
  now?: () => number;
}

/**
 * Keeps rate limiter and barrier state in Redis, in keys such as
 * `skiff:rate:{mutex}:concurrent` (one hash tag per limiter, every key in `KEYS`).
 * Times come from this process's clock, so the processes sharing a limiter should keep
 * their clocks in sync (NTP); a skew of `s` ms shifts windows and expiries by up to `s`.
 *
 * @example Share a mutex between processes through Upstash
 * ```ts ignore
 * import { Redis } from "@upstash/redis";
 * import { ConcurrentRateLimiter, UpstashRateLimiterBackend } from "@skiff/skiff";
 *
 * const backend = new UpstashRateLimiterBackend({ redis: Redis.fromEnv() });
 * const mutex = new ConcurrentRateLimiter(backend, "distributed-mutex", { limit: 1 });
 * await mutex.acquire(async () => {});
 * ```
 * @example Construct one (no request is sent until a limiter acquires)
 * ```ts
 * import assert from "node:assert/strict";
 * import { Redis } from "@upstash/redis";
 *
 * const redis = new Redis({ url: "http://127.0.0.1:8079", token: "dev", enableTelemetry: false });
 * const backend = new UpstashRateLimiterBackend({ redis, namespace: "app" });
 * assert(backend.namespace === "app");
 * ```
 */
export class UpstashRateLimiterBackend implements RateLimiterBackend {
  /** The key prefix. */
  readonly namespace: string;
  readonly #redis: RedisClient;
  readonly #now: () => number;

  /**
   * Creates a backend on a Redis client.
   *
   * @param options The client, the namespace and the clock.
   * @throws {TypeError} When `redis` lacks `eval`/`evalsha`, or `namespace` or `now` is
   *   invalid.
   */
  constructor(options: UpstashRateLimiterBackendOptions) {
    const context = "Cannot create UpstashRateLimiterBackend";
    const redis = options?.redis as Partial<RedisClient> | undefined;
    if (typeof redis?.eval !== "function" || typeof redis?.evalsha !== "function") {
      throw new TypeError(`${context}: 'redis' must be a client with eval and evalsha`);
    }
    this.#redis = options.redis;
    this.namespace = checkName(options.namespace ?? "skiff", "namespace", context);
    this.#now = checkClock(options.now, "UpstashRateLimiterBackend");
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
   * Takes a concurrency slot: see {@linkcode RateLimiterBackend.acquireConcurrent}. A
   * transient failure (5xx, network) is retried for up to 15 s with the same token, as
   * every acquire here is: a retry whose first run took the slot finds it taken by itself.
   *
   * @param key The limiter's key.
   * @param options The token, the limit and the ttl.
   * @returns Whether `token` holds a slot.
   * @throws {Error} What the client throws (a network error, say).
   */
  async acquireConcurrent(key: string, options: ConcurrentSlotOptions): Promise<boolean> {
    const { token, limit, ttl } = options;
    const now = this.#now();
    const args = [now, token, limit, ttl, now + ttl];
    const keys = [this.#key(key, "concurrent")];
    return await this.#answersYes(ACQUIRE_CONCURRENT, keys, args, "take a concurrency slot");
  }

  /**
   * Frees a concurrency slot: see {@linkcode RateLimiterBackend.releaseConcurrent}. A
   * transient failure (5xx, network) is retried for up to 15 s: a release that failed would
   * hold the slot until the hold's ttl (15 minutes by default), and a release is safe to
   * repeat (a retry whose first run freed the slot answers `true`, and frees nothing else).
   *
   * @param key The limiter's key.
   * @param token The holder's token.
   * @param options When the hold expires.
   * @returns Whether the slot was freed (by this call, or by its first run).
   * @throws {Error} What the client throws, when it still fails.
   */
  async releaseConcurrent(
    key: string,
    token: string,
    options: ReleaseSlotOptions = {},
  ): Promise<boolean> {
    const keys = [this.#key(key, "concurrent")];
    const args = [token, this.#now(), options.expiresAt ?? 0];
    return await this.#answersYes(RELEASE_CONCURRENT, keys, args, "release a concurrency slot");
  }

  /**
   * Admits a request in a sliding window: see {@linkcode RateLimiterBackend.acquireWindow}.
   *
   * @param key The limiter's key.
   * @param options The request id, the limit and the window.
   * @returns Whether the request is admitted.
   * @throws {Error} What the client throws.
   */
  async acquireWindow(key: string, options: WindowSlotOptions): Promise<boolean> {
    const { id, limit, window } = options;
    const now = this.#now();
    const args = [now, id, limit, window, now - window];
    const keys = [this.#key(key, "window")];
    return await this.#answersYes(ACQUIRE_WINDOW, keys, args, "admit a request in a window");
  }

  /**
   * Admits a request in a fixed bucket: see {@linkcode RateLimiterBackend.acquireFixedBucket}.
   *
   * @param key The limiter's key.
   * @param options The request id, the limit and the bucket's length.
   * @returns Whether the request is admitted.
   * @throws {Error} What the client throws.
   */
  async acquireFixedBucket(key: string, options: BucketSlotOptions): Promise<boolean> {
    const { id, limit, bucket } = options;
    const now = this.#now();
    const index = Math.floor(now / bucket);
    // A set of ids (`fixed:`), not the counter older versions kept under `bucket:`.
    const keys = [this.#key(key, `fixed:${index}`)];
    const keep = (index + 2) * bucket - now;
    const args = [limit, keep, id];
    return await this.#answersYes(ACQUIRE_FIXED_BUCKET, keys, args, "admit a request in a bucket");
  }

  /**
   * Takes a token from a token bucket: see {@linkcode RateLimiterBackend.acquireTokenBucket}.
   *
   * @param key The limiter's key.
   * @param options The request id, the capacity and the refill time.
   * @returns Whether a token was taken (by this call, or by its first run).
   * @throws {Error} What the client throws.
   */
  async acquireTokenBucket(key: string, options: BucketSlotOptions): Promise<boolean> {
    const { id, limit, bucket } = options;
    const args = [this.#now(), limit * bucket, limit, bucket, TAKEN_TTL_MS];
    const tokens = this.#key(key, "tokens");
    const keys = [tokens, `${tokens}:taken:${id}`];
    return await this.#answersYes(ACQUIRE_TOKEN_BUCKET, keys, args, "take a token from a bucket");
  }

  /**
   * Runs a slot script and reads its yes (1) or no: a transient failure (5xx, network) is
   * sent again, the same call, for up to 15 s; each such script is safe to repeat.
   */
  async #answersYes(
    script: Script<number>,
    keys: string[],
    args: ScriptArg[],
    action: string,
  ): Promise<boolean> {
    return await retryTransient(() => script.run(this.#redis, keys, args), { action }) === 1;
  }

  /**
   * Creates a barrier: see {@linkcode RateLimiterBackend.createBarrier}.
   *
   * @param key The barrier's key.
   * @param options The creator's token, the parties and the ttl.
   * @returns Whether this token created it.
   * @throws {Error} What the client throws.
   */
  async createBarrier(key: string, options: BarrierCreateOptions): Promise<boolean> {
    const { parties, token, ttl } = options;
    const now = this.#now();
    const args = [now, parties, token, ttl, now + ttl];
    return await CREATE_BARRIER.run(this.#redis, [this.#barrierKey(key)], args) === 1;
  }

  /**
   * Arrives at a barrier: see {@linkcode RateLimiterBackend.arriveAtBarrier}.
   *
   * @param key The barrier's key.
   * @param party The party's id.
   * @returns The barrier after the arrival, or `undefined` when it does not exist.
   * @throws {Error} What the client throws.
   */
  async arriveAtBarrier(key: string, party: string): Promise<BarrierState | undefined> {
    const [parties, arrived, expiresAt] = await ARRIVE_AT_BARRIER.run(
      this.#redis,
      [this.#barrierKey(key)],
      [this.#now(), party],
    );
    return parties === 0 ? undefined : { parties, arrived, expiresAt };
  }

  /**
   * Counts a barrier's arrivals: see {@linkcode RateLimiterBackend.barrierArrivals}.
   *
   * @param key The barrier's key.
   * @returns The count, or `undefined` when the barrier's key is gone.
   * @throws {Error} What the client throws.
   */
  async barrierArrivals(key: string): Promise<number | undefined> {
    const fields = await BARRIER_FIELDS.run(this.#redis, [this.#barrierKey(key)], []);
    return fields === 0 ? undefined : fields - 3;
  }

  #key(key: string, kind: string): string {
    return `${this.namespace}:rate:{${key}}:${kind}`;
  }

  #barrierKey(key: string): string {
    return `${this.namespace}:barrier:{${key}}`;
  }
}
