/**
 * What one dashboard page shows, read with a bounded number of Redis commands: per queue
 * `stats()` (4), a page of dead letters (1 script call, 4 commands inside) and a page of
 * leased messages (1 script call, 2 inside), and, when the broker counts finished messages
 * (its `throughput` option), 1 `MGET` of the last minutes' counts; for the schedules, 1
 * script call and 1 `GET` per schedule. Private to skiff.
 *
 * @module
 */
import type { Broker, DeadLetter, QueueStats, ThroughputMinute } from "../broker.ts";
import { Message } from "../message.ts";
import type { ScheduleStore } from "../scheduler/store.ts";
import type { Schedule } from "../scheduler/types.ts";
import { type InFlight, inFlight } from "./_in_flight.ts";
import { type ScheduleSlots, scheduleSlots } from "./_schedule_slots.ts";

/** One queue as the page shows it. */
export interface QueueView {
  /** The queue's name. */
  name: string;
  /** Its counts. */
  stats: QueueStats;
  /** The first dead letters, oldest first. */
  dead: (DeadLetter & { message: Message | undefined })[];
  /** The leased messages, expiring soonest first; `undefined` when the broker cannot list them. */
  inFlight: (InFlight & { message: Message | undefined })[] | undefined;
  /** The finished messages of the last minutes, oldest first; `undefined` when not counted. */
  throughput: ThroughputMinute[] | undefined;
}

/** Everything one page shows. */
export interface DashboardView {
  /** When it was read, in milliseconds since the epoch. */
  now: number;
  /** The queues. */
  queues: QueueView[];
  /** The schedules. */
  schedules: ScheduleSlots[];
}

/**
 * Reads what a page shows, every queue at once.
 *
 * @param broker The broker.
 * @param queues The queues.
 * @param schedules The schedules.
 * @param options How many rows per list, how many minutes of throughput, the clock and the
 *   schedulers' own store.
 * @returns The view.
 */
export async function readView(
  broker: Broker,
  queues: readonly string[],
  schedules: readonly Schedule[],
  options: { limit: number; minutes: number; now: number; store?: ScheduleStore },
): Promise<DashboardView> {
  const { limit, minutes, now, store } = options;
  const [views, slots] = await Promise.all([
    Promise.all(queues.map(async (name): Promise<QueueView> => {
      const [stats, dead, leased, throughput] = await Promise.all([
        broker.stats(name),
        broker.deadLetters(name, { limit }),
        inFlight(broker, name, limit),
        broker.throughput(name, { minutes }),
      ]);
      return {
        name,
        stats,
        dead: dead.map((letter) => ({ ...letter, message: decoded(letter.body) })),
        inFlight: leased?.map((lease) => ({ ...lease, message: decoded(lease.body) })),
        throughput,
      };
    })),
    scheduleSlots(schedules, broker, now, store),
  ]);
  return { now, queues: views, schedules: slots };
}

function decoded(body: string): Message | undefined {
  try {
    return body === "" ? undefined : Message.decode(body);
  } catch {
    return undefined;
  }
}
