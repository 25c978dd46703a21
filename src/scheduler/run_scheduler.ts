/**
 * A timer that ticks a `Scheduler` in a long-running process (Node, Deno, Bun), for where
 * no platform cron calls `tick()`: what `skiff scheduler` runs.
 *
 * @module
 */
import { errorName, MAX_TIMER_MS, sleep as realSleep } from "../_util.ts";
import type { Broker, Logger } from "../broker.ts";
import type { Scheduler, SchedulerTickReport } from "./scheduler.ts";

/** Options of {@linkcode runScheduler}. */
export interface RunSchedulerOptions {
  /** Stops the loop; the tick under way finishes first. */
  signal?: AbortSignal;
  /** The broker each tick passes on (see `SchedulerOptions.broker`). */
  broker?: Broker;
  /** The clock (default: the scheduler's). */
  now?: () => number;
  /** Waits `ms`, or less when `signal` aborts (inject one in tests; default `setTimeout`). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * The longest wait between ticks, in milliseconds (default 1 000): ticks come at each
   * whole second (slots are whole seconds), so a clock change or a new schedule is
   * noticed within a second. A tick with nothing due costs no Redis command.
   */
  maxSleep?: number;
  /** The wait after a failed tick, in milliseconds (default 1 000). */
  retryMs?: number;
  /** Called with each tick's report. */
  onTick?: (report: SchedulerTickReport) => void;
  /** Where to log failed ticks (default `console`): the first of a run of failures. */
  logger?: Logger;
}

/**
 * Ticks a scheduler at each slot boundary until `signal` aborts: tick, then sleep until
 * the next whole second (or the next slot, if sooner). A failed tick (Redis unreachable,
 * say) is logged and tried again after `retryMs`; slots within their `grace` still fire.
 *
 * @param scheduler The scheduler.
 * @param options The signal, the broker, the clock and sleep (for tests), the waits.
 * @returns When `signal` aborts and the last tick has finished.
 * @throws {RangeError} When `maxSleep` or `retryMs` is not a positive integer.
 * @example A minute of ticks on an injected clock, without waiting
 * ```ts
 * import assert from "node:assert/strict";
 * import { actor } from "../actor.ts";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { Scheduler } from "./scheduler.ts";
 *
 * const broker = new MemoryBroker();
 * const queue = `q-${crypto.randomUUID()}`;
 * const ping = actor(`ping-${crypto.randomUUID()}`, () => {}, { broker, queue });
 * const scheduler = new Scheduler().schedule("ping", "*\/10 * * * * *", ping.message());
 * let time = Date.UTC(2026, 0, 1, 12, 0, 0, 500);
 * const stop = new AbortController();
 * await runScheduler(scheduler, {
 *   signal: stop.signal,
 *   now: () => time,
 *   sleep: (ms) => {
 *     time += ms;
 *     if (time >= Date.UTC(2026, 0, 1, 12, 1)) stop.abort();
 *     return Promise.resolve();
 *   },
 * });
 * assert.equal((await broker.stats(queue)).ready, 6); // 12:00:00 to 12:00:50
 * ```
 */
export async function runScheduler(
  scheduler: Scheduler,
  options: RunSchedulerOptions = {},
): Promise<void> {
  const {
    signal,
    broker,
    now = scheduler.now,
    sleep = realSleep,
    maxSleep = 1_000,
    retryMs = 1_000,
    onTick,
    logger = console,
  } = options;
  for (const [name, value] of [["maxSleep", maxSleep], ["retryMs", retryMs]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) {
      throw new RangeError(
        `Cannot run scheduler: '${name}' must be a positive integer number of milliseconds, received ${value}`,
      );
    }
  }
  let failing = false;
  while (!signal?.aborted) {
    let wait = retryMs;
    try {
      const report = await scheduler.tick(now(), { broker });
      if (failing) logger.info("The scheduler ticks again");
      failing = false;
      onTick?.(report);
      const after = now();
      const next = scheduler.nextSlot(after) ?? Infinity;
      const boundary = maxSleep - (((after % maxSleep) + maxSleep) % maxSleep);
      wait = Math.max(1, Math.min(next - after, boundary));
    } catch (error) {
      if (!failing) {
        logger.error(`The scheduler failed to tick with ${errorName(error)}; retrying`, { error });
      }
      failing = true;
    }
    await sleep(wait, signal);
  }
}
