/**
 * Each schedule's last slot (from its record) and next slot (from its cron expression),
 * for the dashboard and `skiff schedules`. Private to skiff.
 *
 * @module
 */
import type { Broker } from "../broker.ts";
import { UpstashBroker } from "../brokers/upstash.ts";
import { parseCron } from "../scheduler/_cron.ts";
import type { ScheduleStore } from "../scheduler/store.ts";
import type { Schedule } from "../scheduler/types.ts";
import { UpstashScheduleStore } from "../scheduler/upstash_store.ts";

/** What an operator sees of a schedule. */
export interface ScheduleSlots {
  /** The schedule's name. */
  name: string;
  /** Its cron expression. */
  cron: string;
  /** Its time zone (`"UTC"` when none). */
  timezone: string;
  /** The actor its messages go to. */
  actor: string;
  /** Their queue. */
  queue: string;
  /**
   * The latest slot handled (fired or skipped), in milliseconds since the epoch; `null`
   * when none is recorded, `undefined` when the records cannot be read (not in Redis).
   */
  last: number | null | undefined;
  /** The id of the last message sent, when known. */
  lastId: string | undefined;
  /** The next slot after now, in milliseconds since the epoch (`undefined`: never). */
  next: number | undefined;
}

/**
 * Reads the slots of schedules: one store request for all (on Redis, 1 `EVALSHA` and 1
 * `GET` per schedule), none when the store is not known.
 *
 * @param schedules The schedules.
 * @param broker The broker: on an `UpstashBroker`, the records are read beside it, where
 *   a `Scheduler` keeps them by default.
 * @param now The time, in milliseconds since the epoch.
 * @param store The store, when the schedulers were given one of their own.
 * @returns One entry per schedule, in order.
 */
export async function scheduleSlots(
  schedules: readonly Schedule[],
  broker: Broker,
  now: number,
  store?: ScheduleStore,
): Promise<ScheduleSlots[]> {
  const records = store ??
    (broker instanceof UpstashBroker
      ? new UpstashScheduleStore({ redis: broker.redis, namespace: broker.namespace })
      : undefined);
  const read = records && schedules.length > 0
    ? await records.swap(schedules.map((s) => ({ name: s.name, expect: "", ttl: 1 })))
    : undefined;
  return schedules.map((schedule, i) => {
    const result = read?.[i];
    const current = result && !result.written ? result.current : undefined;
    const [next] = parseCron(schedule.cron, schedule.timezone, `Cannot read '${schedule.name}'`)
      .next(now, 1);
    return {
      name: schedule.name,
      cron: schedule.cron,
      timezone: schedule.timezone ?? "UTC",
      actor: schedule.message.actor,
      queue: schedule.message.queue,
      last: read === undefined ? undefined : current?.slot ?? null,
      lastId: current?.id || undefined,
      next,
    };
  });
}
