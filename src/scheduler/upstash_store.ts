/**
 * The Redis schedule store: exactly once among every tick of every instance and region
 * that shares the Redis, through the Upstash REST protocol.
 *
 * @module
 */
import type { Broker, EncodedMessage } from "../broker.ts";
import { readyScore } from "../brokers/_score.ts";
import { delayedScore, NAMESPACE_PATTERN, queueKeys } from "../brokers/upstash/_keys.ts";
import { UpstashBroker } from "../brokers/upstash.ts";
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
  /**
   * The clock a message is delayed by (its `readyAt` later than now), in milliseconds
   * since the epoch (default `Date.now`): the broker's, when the store is made for one.
   */
  now?: () => number;
}

/** Swaps per script call: a bound on the work one script does while Redis waits. */
const MAX_SWAPS = 1000;
/** Messages per script call, and their bytes (one swap's messages are never split). */
const MAX_MESSAGES = 1000;
const MAX_BYTES = 4 * 1024 * 1024;
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
 * It writes the slots' messages of an `UpstashBroker` on the same client and namespace (the
 * broker's own store, what a `Scheduler` makes by default) in the same script as their
 * records, as the broker's enqueue stores them: a slot won is a message in its queue, with
 * no send after it that could fail. That script spans two hash tags (`{schedules}` and each
 * queue's): fine on Upstash and on a single Redis, not on Redis Cluster.
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
  readonly #now: () => number;

  /**
   * Creates an UpstashScheduleStore; it sends nothing until used.
   *
   * @param options The client, the namespace and the clock.
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
    this.#now = options.now ?? Date.now;
  }

  /**
   * Whether the swaps may carry `broker`'s messages: an `UpstashBroker` on the same client
   * and namespace, whose queues this store's scripts can write.
   *
   * @param broker The broker of a schedule's messages.
   * @returns Whether the store writes its messages with the records.
   */
  canWrite(broker: Broker): boolean {
    return broker instanceof UpstashBroker && broker.redis === this.redis &&
      broker.namespace === this.namespace;
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
   * Compares and sets records, and stores the messages of the sets it makes: one request
   * per 1000 swaps (or 1000 messages, or 4 MiB of them). Safe to repeat: a call retried
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
    const now = this.#now();
    for (const [n, chunk] of chunks(swaps).entries()) {
      const keys = chunk.map((s) => this.key(s.name));
      const writes = chunk.some((swap) => swap.next !== undefined);
      // A call that only reads changes nothing: it needs no call record.
      if (writes) keys.push(`${this.namespace}:{schedules}:call:${callId}:${n}`);
      const args: ScriptArg[] = [writes ? CALL_TTL_MS : 0, chunk.length];
      for (const swap of chunk) {
        args.push(
          swap.next === undefined ? "r" : swap.next === null ? "d" : "s",
          swap.expect,
          swap.next ? encodeRecord(swap.next) : "",
          Math.max(1, Math.ceil(swap.ttl)),
        );
      }
      const queues = new Map<string, number>();
      chunk.forEach((swap, i) => {
        for (const message of swap.next ? swap.messages ?? [] : []) {
          let q = queues.get(message.queue);
          if (q === undefined) {
            queues.set(message.queue, q = queues.size + 1);
            keys.push(...queueKeys(this.namespace, message.queue).slice(0, 3));
          }
          args.push(i + 1, q, ...messageArgs(message, now));
        }
      });
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

/** A message as the script stores it: id, `r` or `d`, score (as the broker's), body. */
function messageArgs(message: EncodedMessage, now: number): ScriptArg[] {
  const delayed = message.readyAt > now;
  const score = delayed
    ? delayedScore(message.priority, message.readyAt)
    : readyScore(message.priority, message.readyAt);
  return [message.id, delayed ? "d" : "r", score, message.body];
}

/**
 * The swaps in script calls: at most 1000 swaps, and 1000 messages or 4 MiB of them, a
 * call (but a swap's messages are never split: one swap may go over on its own).
 */
function chunks(swaps: readonly RecordSwap[]): RecordSwap[][] {
  const out: RecordSwap[][] = [];
  let chunk: RecordSwap[] = [];
  let messages = 0;
  let bytes = 0;
  for (const swap of swaps) {
    const own = swap.messages ?? [];
    const size = own.reduce((sum, m) => sum + m.body.length, 0);
    const full = chunk.length >= MAX_SWAPS || messages + own.length > MAX_MESSAGES ||
      bytes + size > MAX_BYTES;
    if (chunk.length > 0 && full) {
      out.push(chunk);
      chunk = [];
      messages = bytes = 0;
    }
    chunk.push(swap);
    messages += own.length;
    bytes += size;
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}
