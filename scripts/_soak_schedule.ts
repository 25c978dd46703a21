/**
 * The schedule soak: several tickers (each a `Scheduler` with its own client, as separate
 * processes would be) tick the same schedule through the faulty path, each at every slot
 * with its own skew, on a compressed clock: slot k of a `*\/30` seconds schedule is ticked
 * `k * stepMs` after the start. Every slot must fire exactly once. The slots are counted
 * from Redis through the clean path (a scheduled message's id is a UUIDv7 whose time is
 * its slot), and compared with what the ticks reported. Private to `scripts/soak.ts`.
 *
 * @module
 */
import { Redis } from "@upstash/redis";
import { actor, Scheduler, type SchedulerTickReport, UpstashBroker } from "../mod.ts";
import { slotOfId } from "../src/scheduler/_slot_id.ts";
import { delay, seeded, type SoakServices } from "./_soak_services.ts";
import { deleteKeys } from "./_soak_queue.ts";

/** Options of the schedule soak. */
export interface ScheduleSoakOptions {
  /** How many slots to measure. */
  slots: number;
  /** How many tickers tick the schedule. */
  tickers: number;
  /** Real milliseconds between two slots. */
  stepMs: number;
  /** The seed of the tickers' skews. */
  seed: number;
}

/** What the schedule soak measured. */
export interface ScheduleSoakReport {
  /** Slots measured. */
  slots: number;
  /** Slots with a message in Redis (once or more): the ground truth. */
  fired: number;
  /** Slots with more than one message in Redis. */
  firedTwice: number;
  /** Slots reported skipped (misfire or overlap) and without a message. */
  skipped: number;
  /** Slots without a message and not reported skipped: really lost. */
  lost: number;
  /** Slots reported fired (once or more) by the ticks. */
  reported: number;
  /** Slots reported fired by more than one tick. */
  reportedTwice: number;
  /** Slots with a message in Redis that no tick reported fired. */
  unreported: number;
  /** Ticks that threw (a later tick finishes and reports what they did). */
  tickErrors: number;
  /** Messages the schedule left in its queue, and those not for a measured slot. */
  messages: number;
  extraMessages: number;
}

const PERIOD_MS = 30_000;
/** A fixed start on the compressed clock, so slots are the same in every run. */
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

/**
 * Runs the schedule soak.
 *
 * @param services The faulty and clean paths.
 * @param options Slots, tickers and pace.
 * @param log Where progress lines go.
 * @returns What it measured.
 */
export async function scheduleSoak(
  services: SoakServices,
  options: ScheduleSoakOptions,
  log: (line: string) => void,
): Promise<ScheduleSoakReport> {
  const suffix = crypto.randomUUID().slice(0, 8);
  const namespace = `soak-schedule-${suffix}`;
  const queue = `schedule-${suffix}`;
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const clean = new Redis({
    url: services.cleanUrl,
    token: services.token,
    enableTelemetry: false,
  });
  const ping = actor(`soak.tick-${suffix}`, () => {}, { queue });
  const fired = new Map<number, number>();
  const skipped = new Set<number>();
  let tickErrors = 0;
  const count = (report: SchedulerTickReport) => {
    for (const { slot } of report.fired) fired.set(slot, (fired.get(slot) ?? 0) + 1);
    for (const { slot } of report.skipped) skipped.add(slot);
  };
  const schedulers: Scheduler[] = [];
  const random = seeded(options.seed + 2);
  const declare = (scheduler: Scheduler) =>
    scheduler.schedule("soak", "*/30 * * * * *", ping.message(), { misfire: { catchUp: 5 } });
  try {
    // The schedule's record is laid (slot -1, through the clean path) before the measured
    // slots: a schedule without a record fires only its newest slot (see
    // docs/scheduling.md, "Misfires"), so a slow first write would otherwise let another
    // ticker start the schedule at slot 1, and slot 0 would count as lost.
    const cleanBroker = new UpstashBroker({ redis: clean, namespace, logger: silent });
    await declare(new Scheduler({ broker: cleanBroker, logger: silent })).tick(T0 - PERIOD_MS);
    const began = Date.now();
    await Promise.all(Array.from({ length: options.tickers }, async () => {
      const redis = new Redis({
        url: services.faultyUrl,
        token: services.token,
        enableTelemetry: false,
      });
      const broker = new UpstashBroker({ redis, namespace, logger: silent });
      const scheduler = declare(new Scheduler({ broker, logger: silent }));
      schedulers.push(scheduler);
      // One more slot than measured, so a tick can catch up the last measured one.
      for (let k = 0; k <= options.slots; k++) {
        const skew = Math.floor(random() * options.stepMs / 2);
        const wait = began + k * options.stepMs + skew - Date.now();
        if (wait > 0) await delay(wait);
        try {
          count(await scheduler.tick(T0 + k * PERIOD_MS + skew));
        } catch {
          tickErrors++;
        }
      }
    }));
    // A tick that failed left its work to its ticker's next tick, as a timer ticks every
    // second: a few more ticks (nothing new due) after every other, until one succeeds, so
    // that nothing is still held in a scheduler when Redis is read.
    await Promise.all(schedulers.map(async (scheduler) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          return count(await scheduler.tick(T0 + (options.slots + 1) * PERIOD_MS - 1));
        } catch {
          tickErrors++;
        }
      }
    }));
    // The ground truth: every message in the queue, by the slot its id carries.
    const ids = await clean.hkeys(`${namespace}:{${queue}}:msg`);
    const stored = new Map<number, number>();
    for (const id of ids) {
      const slot = slotOfId(id);
      if (slot !== undefined) stored.set(slot, (stored.get(slot) ?? 0) + 1);
    }
    const report: ScheduleSoakReport = {
      slots: options.slots,
      fired: 0,
      firedTwice: 0,
      skipped: 0,
      lost: 0,
      reported: 0,
      reportedTwice: 0,
      unreported: 0,
      tickErrors,
      messages: ids.length,
      extraMessages: ids.length,
    };
    for (let k = 0; k < options.slots; k++) {
      const slot = T0 + k * PERIOD_MS;
      const inRedis = stored.get(slot) ?? 0;
      const reported = fired.get(slot) ?? 0;
      report.extraMessages -= inRedis;
      if (inRedis > 0) report.fired++;
      if (inRedis > 1) report.firedTwice++;
      if (reported > 0) report.reported++;
      if (reported > 1) report.reportedTwice++;
      if (inRedis > 0 && reported === 0) report.unreported++;
      if (inRedis === 0 && skipped.has(slot)) report.skipped++;
      else if (inRedis === 0) report.lost++;
    }
    log(`schedule soak: ${options.slots} slots ticked by ${options.tickers} tickers`);
    return report;
  } finally {
    await deleteKeys(clean, `${namespace}:`);
  }
}
