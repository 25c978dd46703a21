/**
 * The shapes of the `Scheduler`'s options and reports.
 *
 * @module
 */
import type { Broker, Logger } from "../broker.ts";
import type { Message } from "../message.ts";
import type { ScheduleStore } from "./store.ts";

/** What happens to slots a tick finds already past: skip them, or fire up to N late. */
export type MisfirePolicy = "skip" | { catchUp: number };

/** Whether a slot fires while the schedule's previous message is still unfinished. */
export type OverlapPolicy = "allow" | "skip";

/** Options of `Scheduler.schedule()`. */
export interface ScheduleOptions {
  /** The IANA time zone the expression is read in, such as `"Europe/Berlin"` (default UTC). */
  timezone?: string;
  /**
   * Slots missed (no tick came within `grace`) are skipped (`"skip"`, the default), or the
   * latest N of them fire late (`{ catchUp: N }`, N from 1 to 1000).
   */
  misfire?: MisfirePolicy;
  /**
   * `"skip"`: a slot does not fire while the message of the previous one is ready, delayed
   * (retrying) or leased; it fires again once that message is done or dead. Default
   * `"allow"`, as cron does (and it costs no broker query).
   */
  overlap?: OverlapPolicy;
  /** How late a tick may come for a slot to fire on time, in milliseconds (default 5 min). */
  grace?: number;
}

/** A declared schedule, as `Scheduler.schedules` lists it. */
export interface Schedule {
  /** Its name: unique in the namespace, and the key of its record. */
  readonly name: string;
  /** The cron expression. */
  readonly cron: string;
  /** The time zone; `undefined` is UTC. */
  readonly timezone: string | undefined;
  /** The message each slot sends a fresh copy of (a new id per slot). */
  readonly message: Message;
  /** The misfire policy. */
  readonly misfire: MisfirePolicy;
  /** The overlap policy. */
  readonly overlap: OverlapPolicy;
  /** How late a slot may fire as on time, in milliseconds. */
  readonly grace: number;
}

/** Options of `Scheduler`. */
export interface SchedulerOptions {
  /**
   * Where slots send their messages, and (on an `UpstashBroker`) where records live. By
   * default, per message: the actor's own `broker` option, else the broker the tick passes,
   * else the global broker, looked up at each tick.
   */
  broker?: Broker;
  /**
   * Where the last slot of each schedule is kept. By default, beside the broker: in its
   * Redis for an `UpstashBroker` (same client and namespace), else in memory, one store per
   * broker (exactly once within one process).
   */
  store?: ScheduleStore;
  /** The clock of `tick()` without a time, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** Where to log slots whose messages could not be sent yet (default `console`). */
  logger?: Logger;
}

/** Options of `Scheduler.tick()`. */
export interface SchedulerTickOptions {
  /** The broker of the tick (`tick()` of `src/tick.ts` passes its own): see `broker`. */
  broker?: Broker;
}

/** A slot a tick fired. */
export interface FiredSlot {
  /** The schedule's name. */
  schedule: string;
  /** The slot, in milliseconds since the epoch. */
  slot: number;
  /** The id of the message sent. */
  id: string;
}

/** A slot a tick saw and did not fire. */
export interface SkippedSlot {
  /** The schedule's name. */
  schedule: string;
  /** The slot, in milliseconds since the epoch. */
  slot: number;
  /** `misfire`: past `grace` and beyond `catchUp`; `overlap`: the previous run is unfinished. */
  reason: "misfire" | "overlap";
}

/** What `Scheduler.tick()` did: ids and times only, never a payload. */
export interface SchedulerTickReport {
  /**
   * The slots fired, by schedule then slot; with those that earlier ticks of this scheduler
   * fired before they failed.
   */
  fired: FiredSlot[];
  /** The slots skipped (of those the tick looked at: at most `catchUp + 1` per schedule). */
  skipped: SkippedSlot[];
}
