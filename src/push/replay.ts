/**
 * Replay protection for signed pushes: each signature is accepted once. A
 * {@linkcode ReplayStore} remembers a key for a while and says whether it had seen it;
 * {@linkcode MemoryReplayStore} keeps keys in process, {@linkcode RedisReplayStore} in Redis
 * with `SET key <check id> NX GET PX ttl` (one command per accepted push): the value is the id
 * of the check that first remembered the key, so that the same check sent again (its
 * response lost, `@upstash/redis` retries it) recognises itself instead of refusing its own
 * push as a replay.
 *
 * @module
 */
import type { RedisCommands } from "../redis/client.ts";
import type { Broker } from "../broker.ts";

/** Remembers keys for a while: "accept this signature once". */
export interface ReplayStore {
  /**
   * Remembers a key for `ttlMs` milliseconds.
   *
   * @param key What to remember (a signature's MAC).
   * @param ttlMs How long to remember it.
   * @returns `true` the first time, `false` while the key is remembered.
   */
  remember(key: string, ttlMs: number): Promise<boolean>;
}

/** Options of {@linkcode MemoryReplayStore}. */
export interface MemoryReplayStoreOptions {
  /** The clock, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** The most keys kept; the oldest are forgotten first (default 100 000). */
  maxKeys?: number;
}

/**
 * Keeps keys in process. Right for tests, for the `MemoryBroker`, and for a single
 * long-running process; deployments with several instances need {@linkcode RedisReplayStore}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const store = new MemoryReplayStore();
 * assert.equal(await store.remember("mac", 60_000), true);
 * assert.equal(await store.remember("mac", 60_000), false);
 * ```
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #now: () => number;
  readonly #maxKeys: number;
  /** Key → expiry; a Map keeps insertion order, so the oldest come first. */
  readonly #keys = new Map<string, number>();

  /**
   * Creates a MemoryReplayStore.
   *
   * @param options The clock and the most keys kept.
   * @throws {RangeError} When `maxKeys` is not a positive integer.
   */
  constructor(options: MemoryReplayStoreOptions = {}) {
    const { now = Date.now, maxKeys = 100_000 } = options;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new RangeError(
        `Cannot create replay store: 'maxKeys' must be a positive integer, received ${maxKeys}`,
      );
    }
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /**
   * Remembers a key for `ttlMs` milliseconds.
   *
   * @param key What to remember.
   * @param ttlMs How long to remember it.
   * @returns `true` the first time, `false` while the key is remembered.
   */
  remember(key: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const expiry = this.#keys.get(key);
    if (expiry !== undefined && expiry > now) return Promise.resolve(false);
    this.#keys.delete(key);
    for (const [old, until] of this.#keys) {
      if (until > now && this.#keys.size < this.#maxKeys) break;
      this.#keys.delete(old);
    }
    this.#keys.set(key, now + ttlMs);
    return Promise.resolve(true);
  }
}

/** What {@linkcode RedisReplayStore} needs of a client: `set`, or else `pipeline`. */
export type ReplayClient = Pick<RedisCommands, "set"> | Pick<RedisCommands, "pipeline">;

/** Options of {@linkcode RedisReplayStore}. */
export interface RedisReplayStoreOptions {
  /** Any `@upstash/redis` client; one with `pipeline` only (as a broker needs) fits too. */
  redis: ReplayClient;
  /** Prepended to every key (default `skiff:sig:`). */
  prefix?: string;
}

/**
 * Keeps keys in Redis: one `SET key <check id> NX GET PX ttl` per call, so every instance
 * of a deployment refuses a signature any of them has seen. Each call makes a check id of
 * its own; `@upstash/redis` sends the same request again when a response is lost, and that
 * retry finds its own id under the key and answers `true`, as the first run did. Any other
 * call, the same signature sent again by anyone, finds another id and answers `false`.
 *
 * @example
 * ```ts ignore
 * import { Redis } from "@upstash/redis";
 * const store = new RedisReplayStore({ redis: Redis.fromEnv() });
 * await store.remember("mac", 600_000); // true, then false for 10 minutes
 * ```
 */
export class RedisReplayStore implements ReplayStore {
  readonly #redis: ReplayClient;
  readonly #prefix: string;

  /**
   * Creates a RedisReplayStore.
   *
   * @param options The client and the key prefix.
   * @throws {TypeError} When `redis` has neither `set` nor `pipeline`.
   */
  constructor(options: RedisReplayStoreOptions) {
    if (!isReplayClient(options?.redis)) {
      throw new TypeError("Cannot create replay store: 'redis' must be an @upstash/redis client");
    }
    this.#redis = options.redis;
    this.#prefix = options.prefix ?? "skiff:sig:";
  }

  /**
   * Remembers a key for `ttlMs` milliseconds.
   *
   * @param key What to remember.
   * @param ttlMs How long to remember it (rounded up to a whole millisecond).
   * @returns `true` the first time (also when this call's request was sent again after
   *   its response was lost), `false` while the key is remembered.
   * @throws {Error} What the client throws (Redis unreachable, say).
   */
  async remember(key: string, ttlMs: number): Promise<boolean> {
    const name = `${this.#prefix}${key}`;
    // Made once per call: every retry of this call's request carries the same id.
    const check = `c:${crypto.randomUUID()}`;
    const options = { nx: true, get: true, px: Math.max(1, Math.ceil(ttlMs)) } as const;
    const redis = this.#redis;
    // A one-command pipeline is still one SET: the same cost, for clients narrowed to it.
    const [held] = "set" in redis && typeof redis.set === "function"
      ? [await redis.set(name, check, options)]
      : await (redis as Pick<RedisCommands, "pipeline">).pipeline().set(name, check, options)
        .exec();
    // GET answers what was there: nothing (remembered now), or the id of the check that
    // remembered it, which is this one when this is its request sent again.
    return held === null || held === undefined || String(held) === check;
  }
}

function isReplayClient(redis: unknown): redis is ReplayClient {
  const client = redis as { set?: unknown; pipeline?: unknown } | undefined;
  return typeof client?.set === "function" || typeof client?.pipeline === "function";
}

/**
 * What a Redis broker exposes for replay protection: its client (`redis`, public and
 * read-only) and its key namespace. Any broker with both gets a Redis store.
 */
interface RedisBacked {
  redis?: unknown;
  namespace?: unknown;
}

const stores = new WeakMap<Broker, ReplayStore>();
let warned = false;

/**
 * The replay store that goes with a broker: in Redis under `<namespace>:sig:` when the
 * broker exposes its client as `redis` (`UpstashBroker`); else in memory, one per broker.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * const broker = new MemoryBroker();
 * assert(replayStoreFor(broker) instanceof MemoryReplayStore);
 * assert(replayStoreFor(broker) === replayStoreFor(broker));
 * ```
 *
 * @param broker The broker.
 * @returns The broker's replay store, made once per broker.
 */
export function replayStoreFor(broker: Broker): ReplayStore {
  let store = stores.get(broker);
  if (!store) {
    const { redis, namespace } = broker as unknown as RedisBacked;
    if (isReplayClient(redis)) {
      const base = typeof namespace === "string" ? namespace : "skiff";
      store = new RedisReplayStore({ redis, prefix: `${base.replace(/:$/, "")}:sig:` });
    } else {
      if (typeof namespace === "string" && !warned) {
        // A Redis broker that does not expose its client: replays are refused only per
        // instance. Pass `replayStore: new RedisReplayStore(...)` to workerApp().
        warned = true;
        broker.logger.warn(
          "skiff: this broker does not expose its Redis client; remembering push signatures in memory",
        );
      }
      store = new MemoryReplayStore({ now: () => broker.now() });
    }
    stores.set(broker, store);
  }
  return store;
}
