/**
 * The Redis schedule store: exactly once among every tick of every instance and region
 * that shares the Redis, through the Upstash REST protocol.
 *
 * @module
 */
import { NAMESPACE_PATTERN } from "../brokers/upstash/_keys.ts";
import type { RedisClient } from "../redis/client.ts";
import type { ScriptArg } from "../redis/script.ts";
import { decodeRecord, encodeRecord } from "./_record.ts";
import { SWAP_RECORDS } from "./_scripts.ts";
import { redisFailure } from "./_redis_error.ts";
import type { RecordSwap, ScheduleStore, SwapOptions, SwapResult } from "./store.ts";

/** Options of {@linkcode UpstashScheduleStore}. */
export interface UpstashScheduleStoreOptions {
  /** Any `@upstash/redis` client (only `eval` and `evalsha` are used). */
  redis: RedisClient;
  /** The prefix of every key (default `"skiff"`, as the broker's); no braces. */
  namespace?: string;
}

/** Swaps per script call: a bound on the work one script does while Redis waits. */
const MAX_SWAPS = 1000;
/**
 * How long a call record is kept: far longer than `@upstash/redis` retries a request, and
 * than the ticks a scheduler waits before it retries a call that failed.
 */
const CALL_TTL_MS = 15 * 60_000;

/**
 * Keeps one string per schedule, `<namespace>:{schedules}:slot:<name>` = `slot|token|id`,
 * all under one hash tag, so that one script swaps every due schedule of a tick in one
 * request: 1 EVALSHA plus 1 command per schedule (2 for a write that loses a race), plus
 * 1 for a call that writes: its call record, `<namespace>:{schedules}:call:<call id>`, kept
 * 15 minutes, by which a retried call (its first response lost) recognises what its first
 * run wrote. Records expire (at least 7 days after their last write), so removed schedules
 * leave nothing behind.
 *
 * @example Share the broker's Redis (what a `Scheduler` does by default on an `UpstashBroker`)
 * ```ts ignore
 * import { Redis } from "@upstash/redis";
 * import { Scheduler, UpstashScheduleStore } from "@skiff/skiff";
 *
 * const scheduler = new Scheduler({ store: new UpstashScheduleStore({ redis: Redis.fromEnv() }) });
 * ```
 * @example Keys
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const store = new UpstashScheduleStore({ redis: { eval: async () => "[]", evalsha: async () => "[]" } as never });
 * assert.equal(store.key("report"), "skiff:{schedules}:slot:report");
 * ```
 */
export class UpstashScheduleStore implements ScheduleStore {
  /** The client. */
  readonly redis: RedisClient;
  /** The prefix of every key. */
  readonly namespace: string;

  /**
   * Creates an UpstashScheduleStore; it sends nothing until used.
   *
   * @param options The client and the namespace.
   * @throws {TypeError} When `redis` is missing or `namespace` is invalid.
   */
  constructor(options: UpstashScheduleStoreOptions) {
    if (typeof options?.redis?.evalsha !== "function") {
      throw new TypeError(
        "Cannot create schedule store: 'redis' must be an @upstash/redis client",
      );
    }
    const namespace = options.namespace ?? "skiff";
    if (typeof namespace !== "string" || !NAMESPACE_PATTERN.test(namespace)) {
      throw new TypeError(
        "Cannot create schedule store: 'namespace' must be 1-100 of A-Z a-z 0-9 _.:@/-",
      );
    }
    this.redis = options.redis;
    this.namespace = namespace;
  }

  /**
   * The key of a schedule's record.
   *
   * @param name The schedule's name.
   * @returns The key.
   */
  key(name: string): string {
    return `${this.namespace}:{schedules}:slot:${name}`;
  }

  /**
   * Compares and sets records: one request per 1000 swaps. Safe to repeat: a call retried
   * with the same `callId` (and `@upstash/redis`'s own retry of a request whose response
   * was lost) answers what its first run did.
   *
   * @param swaps The swaps.
   * @param options The call id (default: a fresh one).
   * @returns For each swap, whether it was written, else the current record.
   * @throws {Error} When Redis fails; the message never quotes the request.
   */
  async swap(swaps: readonly RecordSwap[], options: SwapOptions = {}): Promise<SwapResult[]> {
    const callId = options.callId ?? crypto.randomUUID();
    const results: SwapResult[] = [];
    for (let i = 0; i < swaps.length; i += MAX_SWAPS) {
      const chunk = swaps.slice(i, i + MAX_SWAPS);
      const keys = chunk.map((s) => this.key(s.name));
      const writes = chunk.some((swap) => swap.next !== undefined);
      // A call that only reads changes nothing: it needs no call record.
      if (writes) keys.push(`${this.namespace}:{schedules}:call:${callId}:${i / MAX_SWAPS}`);
      const args: ScriptArg[] = [writes ? CALL_TTL_MS : 0];
      for (const swap of chunk) {
        args.push(
          swap.next === undefined ? "r" : swap.next === null ? "d" : "s",
          swap.expect,
          swap.next ? encodeRecord(swap.next) : "",
          Math.max(1, Math.ceil(swap.ttl)),
        );
      }
      let answer: unknown;
      try {
        answer = await SWAP_RECORDS.run(this.redis, keys, args);
      } catch (error) {
        throw redisFailure("swap schedule records", error);
      }
      const list = typeof answer === "string" ? JSON.parse(answer) : answer;
      chunk.forEach((_, j) => {
        const item = Array.isArray(list) ? list[j] : undefined;
        results.push(
          item === 1 || item === "1"
            ? { written: true }
            : { written: false, current: decodeRecord(item) },
        );
      });
    }
    return results;
  }
}
