/**
 * The schedule soak: several tickers (each a `Scheduler` with its own client, as separate
 * processes would be) tick the same schedule through the faulty path, each at every slot
 * with its own skew, on a compressed clock: slot k of a `*\/30` seconds schedule is ticked
 * `k * stepMs` after the start. Every slot must fire exactly once. Private to
 * `scripts/soak.ts`.
 *
 * @module
 */
import { Redis } from "@upstash/redis";
import { actor, Scheduler, UpstashBroker } from "../mod.ts";
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
  /** Slots reported fired (once or more). */
  fired: number;
  /** Slots reported fired by more than one tick. */
  firedTwice: number;
  /** Slots reported skipped (misfire or overlap) and not fired. */
  skipped: number;
  /** Slots neither fired nor reported skipped. */
  lost: number;
  /** Ticks that threw (another ticker, or a later tick, should cover them). */
  tickErrors: number;
  /** Messages the schedule left in its queue, and how many more than slots fired. */
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
  const random = seeded(options.seed + 2);
  const began = Date.now();
  try {
    await Promise.all(Array.from({ length: options.tickers }, async () => {
      const redis = new Redis({
        url: services.faultyUrl,
        token: services.token,
        enableTelemetry: false,
      });
      const broker = new UpstashBroker({ redis, namespace, logger: silent });
      const scheduler = new Scheduler({ broker, logger: silent }).schedule(
        "soak",
        "*/30 * * * * *",
        ping.message(),
        { misfire: { catchUp: 5 } },
      );
      // One more slot than measured, so a tick can catch up the last measured one.
      for (let k = 0; k <= options.slots; k++) {
        const skew = Math.floor(random() * options.stepMs / 2);
        const wait = began + k * options.stepMs + skew - Date.now();
        if (wait > 0) await delay(wait);
        try {
          const report = await scheduler.tick(T0 + k * PERIOD_MS + skew);
          for (const { slot } of report.fired) fired.set(slot, (fired.get(slot) ?? 0) + 1);
          for (const { slot } of report.skipped) skipped.add(slot);
        } catch {
          tickErrors++;
        }
      }
    }));
    const stats = await new UpstashBroker({ redis: clean, namespace, logger: silent }).stats(queue);
    const messages = stats.ready + stats.delayed;
    let lost = 0;
    let firedOnce = 0;
    let firedTwice = 0;
    let skippedOnly = 0;
    for (let k = 0; k < options.slots; k++) {
      const count = fired.get(T0 + k * PERIOD_MS) ?? 0;
      if (count > 0) firedOnce++;
      if (count > 1) firedTwice++;
      if (count === 0 && skipped.has(T0 + k * PERIOD_MS)) skippedOnly++;
      else if (count === 0) lost++;
    }
    const firedAll = [...fired.values()].reduce((a, b) => a + b, 0);
    log(`schedule soak: ${options.slots} slots ticked by ${options.tickers} tickers`);
    return {
      slots: options.slots,
      fired: firedOnce,
      firedTwice,
      skipped: skippedOnly,
      lost,
      tickErrors,
      messages,
      extraMessages: messages - firedAll,
    };
  } finally {
    await deleteKeys(clean, `${namespace}:`);
  }
}
