/**
 * The `Scheduler`: cron schedules that turn ticks (a platform's cron trigger, `POST /tick`,
 * a timer) into messages, each (schedule, slot) once, however many ticks arrive from
 * however many instances. See `docs/scheduling.md`.
 *
 * @module
 */
import { describe } from "../_util.ts";
import type { Broker, Logger } from "../broker.ts";
import type { RedisClient } from "../redis/client.ts";
import { MemoryBroker } from "../brokers/memory.ts";
import { redisOf } from "../brokers/_on_redis.ts";
import { getBroker } from "../global_broker.ts";
import type { Message } from "../message.ts";
import { getActor } from "../registry.ts";
import { declare, type Entry } from "./_declare.ts";
import { fireDue, type Unsettled } from "./_tick.ts";
import { MemoryScheduleStore } from "./memory_store.ts";
import type { ScheduleRecord, ScheduleStore } from "./store.ts";
import type {
  Schedule,
  ScheduleOptions,
  SchedulerOptions,
  SchedulerTickOptions,
  SchedulerTickReport,
} from "./types.ts";
import { UpstashScheduleStore } from "./upstash_store.ts";

export type {
  FiredSlot,
  MisfirePolicy,
  OverlapPolicy,
  Schedule,
  ScheduleOptions,
  SchedulerOptions,
  SchedulerTickOptions,
  SchedulerTickReport,
  SkippedSlot,
} from "./types.ts";

/**
 * Cron schedules, fired by ticks. Declare schedules at module top level (no broker, no
 * secrets needed), then call `tick(now)` from whatever fires: Cloudflare's `scheduled`,
 * `Deno.cron`, `POST /tick`, or `runScheduler()` in a long-running process. Each tick
 * fires every due (schedule, slot) once across all ticks that share the store: a
 * compare-and-set of one record per schedule decides. With nothing due, a tick issues no
 * Redis command once it has seen the records.
 *
 * @example The seed's `print_current_date`, every minute
 * ```ts
 * import assert from "node:assert/strict";
 * import { actor } from "../actor.ts";
 * import { MemoryBroker } from "../brokers/memory.ts";
 *
 * const broker = new MemoryBroker();
 * const printed: string[] = [];
 * const printCurrentDate = actor(`print-current-date-${crypto.randomUUID()}`, () => {
 *   printed.push(new Date().toISOString());
 * }, { broker });
 * const scheduler = new Scheduler();
 * scheduler.schedule("print-date", "* * * * *", printCurrentDate.message());
 *
 * const now = Date.UTC(2026, 0, 1, 12, 0, 0);
 * await Promise.all([scheduler.tick(new Date(now)), scheduler.tick(new Date(now + 500))]);
 * await broker.join("default");
 * assert.equal(printed.length, 1);
 * ```
 */
export class Scheduler {
  /** The clock of `tick()` without a time. */
  readonly now: () => number;
  readonly #broker: Broker | undefined;
  readonly #store: ScheduleStore | undefined;
  readonly #logger: Logger;
  readonly #entries = new Map<string, Entry>();
  /**
   * What this scheduler last saw of each record, per store (a Redis store made for a
   * broker is known by its namespace, as a new broker may come with each tick); `null` is
   * "none". Only a hint: every write compares, so a stale hint costs a read, never a slot.
   */
  readonly #seen = new Map<object | string, Map<string, ScheduleRecord | null>>();
  /**
   * Per store, what a failed tick left to the next: a swap whose answer never came (made
   * again, same id), messages not sent (sent again, same ids), slots fired but not reported.
   */
  readonly #unsettled = new Map<object | string, Unsettled>();

  /**
   * Creates a Scheduler.
   *
   * @param options The broker, the store, the clock and the logger.
   * @throws {TypeError} When `broker` or `store` has the wrong shape.
   */
  constructor(options: SchedulerOptions = {}) {
    const { broker, store, now = Date.now, logger = console } = options;
    if (broker !== undefined && typeof broker?.enqueue !== "function") {
      throw new TypeError(
        `Cannot create scheduler: 'broker' must be a Broker, received ${describe(broker)}`,
      );
    }
    if (store !== undefined && typeof store?.swap !== "function") {
      throw new TypeError(
        `Cannot create scheduler: 'store' must be a ScheduleStore, received ${describe(store)}`,
      );
    }
    if (typeof now !== "function") {
      throw new TypeError(
        `Cannot create scheduler: 'now' must be a function, received ${describe(now)}`,
      );
    }
    this.#broker = broker;
    this.#store = store;
    this.now = now;
    this.#logger = logger;
  }

  /** The declared schedules, in declaration order. */
  get schedules(): readonly Schedule[] {
    return [...this.#entries.values()].map(({ slots: _, catchUp: __, ...schedule }) => schedule);
  }

  /**
   * Declares a schedule: at each slot of `cron`, a fresh copy of `message` (a new id) is
   * sent.
   *
   * @param name A unique name (1 to 200 of A-Z a-z 0-9 _ . : @ / -).
   * @param cron Five fields (minute hour day-of-month month day-of-week) or six (second
   *   first), or a nickname such as `@hourly`.
   * @param message An unsent message, from `actor.message(...)` or `messageWithOptions()`
   *   (a `delay` is kept; an `eta` is refused).
   * @param options Time zone, misfire and overlap policies, grace.
   * @returns The scheduler, to chain declarations.
   * @throws {TypeError} On an invalid or duplicate name, an invalid cron expression (the
   *   message quotes the field at fault), an unknown time zone, a message that is not an
   *   unsent `Message`, or an unknown option.
   * @throws {RangeError} On an expression that never matches, a `catchUp` outside 1 to
   *   1000, or a `grace` that is not a positive integer.
   * @example Daily at 02:30 in Berlin, catching up one missed day
   * ```ts
   * import assert from "node:assert/strict";
   * import { actor } from "../actor.ts";
   *
   * const report = actor(`report-${crypto.randomUUID()}`, (_kind: string) => {});
   * const scheduler = new Scheduler().schedule("nightly-report", "30 2 * * *", report.message("daily"), {
   *   timezone: "Europe/Berlin",
   *   misfire: { catchUp: 1 },
   * });
   * assert.equal(scheduler.schedules[0].timezone, "Europe/Berlin");
   * assert.throws(
   *   () => scheduler.schedule("broken", "61 * * * *", report.message("x")),
   *   /the minute field of the cron expression '61 \* \* \* \*' must be 0-59/,
   * );
   * ```
   */
  schedule(name: string, cron: string, message: Message, options: ScheduleOptions = {}): this {
    if (this.#entries.has(name)) {
      throw new TypeError(
        `Cannot schedule '${name}': a schedule with this name is already declared`,
      );
    }
    const entry = declare(name, cron, message, options);
    this.#entries.set(name, entry);
    return this;
  }

  /**
   * Removes a schedule; its record expires on its own.
   *
   * @param name The schedule's name.
   * @returns Whether there was such a schedule.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { actor } from "../actor.ts";
   *
   * const ping = actor(`ping-${crypto.randomUUID()}`, () => {});
   * const scheduler = new Scheduler().schedule("ping", "@hourly", ping.message());
   * assert(scheduler.unschedule("ping") && scheduler.schedules.length === 0);
   * ```
   */
  unschedule(name: string): boolean {
    return this.#entries.delete(name);
  }

  /**
   * The earliest slot of any schedule after a time: when a timer should tick next.
   *
   * @param after The time (default: the scheduler's clock now).
   * @returns The slot in milliseconds since the epoch, or `undefined` with no schedule.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { actor } from "../actor.ts";
   *
   * const ping = actor(`ping-${crypto.randomUUID()}`, () => {});
   * const scheduler = new Scheduler().schedule("ping", "* * * * *", ping.message());
   * assert.equal(scheduler.nextSlot(Date.UTC(2026, 0, 1, 12, 0, 30)), Date.UTC(2026, 0, 1, 12, 1));
   * ```
   */
  nextSlot(after: Date | number = this.now()): number | undefined {
    const at = millis(after, "Cannot compute the next slot");
    let next: number | undefined;
    for (const entry of this.#entries.values()) {
      const [slot] = entry.slots.next(at, 1);
      if (slot !== undefined && (next === undefined || slot < next)) next = slot;
    }
    return next;
  }

  /**
   * Fires what is due at `now`: for each schedule, the slots since the last one handled,
   * per its misfire and overlap policies, each (schedule, slot) once however many ticks
   * race. One store request when something is due (two when this scheduler has not seen
   * the record yet), then one `enqueue` per broker; none when nothing is due and the
   * records were seen. A tick that fails leaves what it could not finish to the next tick
   * of this scheduler: a store call whose answer never came is made again (same call id),
   * messages that could not be sent are sent again (same ids), and the slots the failed
   * tick did fire are in the next successful tick's report. A message's id carries its
   * slot: it is a UUIDv7 whose time is the slot's.
   *
   * @param now The tick's time (default: the scheduler's clock).
   * @param options The tick's broker.
   * @returns The slots fired and skipped.
   * @throws {TypeError} When `now` is not a valid time.
   * @throws {Error} What the store or the broker throws (Redis unreachable, say).
   * @example Two ticks for the same slot send one message
   * ```ts
   * import assert from "node:assert/strict";
   * import { actor } from "../actor.ts";
   * import { MemoryBroker } from "../brokers/memory.ts";
   *
   * const broker = new MemoryBroker();
   * const queue = `q-${crypto.randomUUID()}`;
   * const ping = actor(`ping-${crypto.randomUUID()}`, () => {}, { queue });
   * const scheduler = new Scheduler({ broker }).schedule("ping", "*\/5 * * * *", ping.message());
   * const slot = Date.UTC(2026, 0, 1, 12, 5);
   * const [a, b] = await Promise.all([scheduler.tick(slot + 100), scheduler.tick(slot + 900)]);
   * assert.equal(a.fired.length + b.fired.length, 1);
   * assert.equal((await broker.stats(queue)).ready, 1);
   * ```
   */
  async tick(
    now: Date | number = this.now(),
    options: SchedulerTickOptions = {},
  ): Promise<SchedulerTickReport> {
    const at = millis(now, "Cannot tick scheduler");
    if (this.#entries.size === 0) return { fired: [], skipped: [] };
    const { store, seen, unsettled } = this.#storeFor(
      this.#broker ?? options.broker ?? getBroker(),
    );
    return await fireDue([...this.#entries.values()], at, {
      store,
      seen,
      unsettled,
      logger: this.#logger,
      brokerFor: (entry) =>
        this.#broker ?? getActor(entry.message.actor)?.options.broker ?? options.broker ??
          getBroker(),
    });
  }

  /** The store, and what this scheduler saw in it. */
  #storeFor(broker: Broker): {
    store: ScheduleStore;
    seen: Map<string, ScheduleRecord | null>;
    unsettled: Unsettled;
  } {
    let store: ScheduleStore;
    let key: object | string;
    const onRedis = redisOf(broker);
    if (this.#store) {
      key = store = this.#store;
    } else if (onRedis) {
      // A broker on Redis (`redisOf`): the records beside it.
      store = new UpstashScheduleStore({
        redis: onRedis.redis as RedisClient,
        namespace: onRedis.namespace,
        now: broker.now,
      });
      key = `upstash:${onRedis.namespace}`;
    } else {
      // Beside the broker, as in Redis: schedulers on one broker share their records.
      let memory = MEMORY_STORES.get(broker);
      if (!memory) {
        // A memory broker's store writes its messages with the records, as Redis does.
        const own = broker instanceof MemoryBroker ? broker : undefined;
        MEMORY_STORES.set(broker, memory = new MemoryScheduleStore({ broker: own }));
      }
      key = store = memory;
    }
    let seen = this.#seen.get(key);
    if (!seen) this.#seen.set(key, seen = new Map());
    let unsettled = this.#unsettled.get(key);
    if (!unsettled) this.#unsettled.set(key, unsettled = {});
    return { store, seen, unsettled };
  }
}

/** The records of schedulers on a broker that is not in Redis, per broker. */
const MEMORY_STORES = new WeakMap<Broker, MemoryScheduleStore>();

function millis(value: Date | number, context: string): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== "number" || !Number.isFinite(ms)) {
    throw new TypeError(
      `${context}: the time must be a Date or milliseconds since the epoch, received ${
        describe(value)
      }`,
    );
  }
  return Math.floor(ms);
}
