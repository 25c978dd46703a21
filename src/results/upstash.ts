/**
 * The Redis result backend, through the Upstash REST protocol: usually the broker's own
 * Redis.
 *
 * @module
 */
import type { RedisCommands } from "../redis/client.ts";
import { errorName } from "../_util.ts";
import { NAMESPACE_PATTERN } from "../brokers/upstash/_keys.ts";
import { retryTransient } from "../brokers/upstash/_retry.ts";
import { ResultBackend, type ResultBackendOptions, type ResultEntry } from "./backend.ts";

/** What the backend needs of a client: any `@upstash/redis` instance fits. */
export type UpstashResultClient = Pick<RedisCommands, "set" | "mget" | "pipeline">;

/** Options of {@linkcode UpstashResultBackend}. */
export interface UpstashResultBackendOptions extends ResultBackendOptions {
  /** The client, e.g. `Redis.fromEnv()`. */
  redis: UpstashResultClient;
  /** The prefix of every key (default `"skiff"`); no braces. */
  namespace?: string;
}

/**
 * Keeps each result in a string key, `<namespace>:result:<message id>`, with a time to live
 * (`SET ... PX`): storing one costs 1 command, a read of any number of results 1 `MGET`.
 * Blocking reads poll with growing pauses, from `pollMin` to `pollMax`.
 *
 * @example
 * ```ts ignore
 * import { Redis } from "@upstash/redis";
 * import { Results, UpstashBroker, UpstashResultBackend } from "@skiff/skiff";
 *
 * const redis = Redis.fromEnv();
 * const broker = new UpstashBroker({ redis });
 * broker.addMiddleware(new Results({ backend: new UpstashResultBackend({ redis }) }));
 * ```
 */
export class UpstashResultBackend extends ResultBackend {
  /** The prefix of every key. */
  readonly namespace: string;
  readonly #redis: UpstashResultClient;

  /**
   * Creates an UpstashResultBackend; it sends nothing to Redis until used.
   *
   * @param options The client, the namespace, the clock and the polling pauses.
   * @throws {TypeError} When `redis` is missing or `namespace` is invalid.
   * @throws {RangeError} When a pause is not a positive number.
   */
  constructor(options: UpstashResultBackendOptions) {
    super(options);
    if (typeof options?.redis?.mget !== "function") {
      throw new TypeError(
        "Cannot create result backend: 'redis' must be an @upstash/redis client",
      );
    }
    const namespace = options.namespace ?? "skiff";
    if (typeof namespace !== "string" || !NAMESPACE_PATTERN.test(namespace)) {
      throw new TypeError(
        "Cannot create result backend: 'namespace' must be 1-100 of A-Z a-z 0-9 _.:@/-",
      );
    }
    this.namespace = namespace;
    this.#redis = options.redis;
  }

  /**
   * The key of a message's result.
   *
   * @param id The message id.
   * @returns The key.
   */
  key(id: string): string {
    return `${this.namespace}:result:${id}`;
  }

  /**
   * Stores values with `SET ... PX`: one command, or a pipeline of them. A transient
   * failure (5xx, network) is retried for up to 15 s, the same commands again.
   *
   * @param entries The values.
   * @throws {Error} When Redis fails.
   */
  protected async write(entries: readonly ResultEntry[]): Promise<void> {
    const once = async () => {
      if (entries.length === 1) {
        const [{ id, value, ttl }] = entries;
        await this.#redis.set(this.key(id), value, { px: ttl });
        return;
      }
      const pipeline = this.#redis.pipeline();
      for (const { id, value, ttl } of entries) pipeline.set(this.key(id), value, { px: ttl });
      await pipeline.exec();
    };
    try {
      // Results are written just before the ack or nack, while the lease is held: a 503 here
      // would lose the result of a message that is then acked. A `SET` of the same value is
      // safe to repeat, so transient failures are retried as the ack's are.
      await retryTransient(once, { action: "store results" });
    } catch (error) {
      throw new Error(`Cannot store results: ${errorName(error)}`);
    }
  }

  /**
   * Reads values with one `MGET`.
   *
   * @param ids The message ids.
   * @returns What Redis holds per id, or `null`.
   * @throws {Error} When Redis fails.
   */
  protected async read(ids: readonly string[]): Promise<unknown[]> {
    try {
      return await this.#redis.mget<unknown[]>(...ids.map((id) => this.key(id)));
    } catch (error) {
      throw new Error(`Cannot read results: ${errorName(error)}`);
    }
  }
}
