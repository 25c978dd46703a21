/**
 * Counts of finished messages per queue and minute (the broker option `throughput`): what
 * both brokers share. Private to skiff.
 *
 * @module
 */
import type { ThroughputMinute } from "../broker.ts";

/** One minute, in milliseconds: the width of a count. */
export const MINUTE_MS = 60_000;

/** How many past minutes can be read (the current one included). */
export const MAX_THROUGHPUT_MINUTES = 60;

/**
 * How long a minute's count is kept after its first write: a count written at the start
 * of its minute is still there when it is the oldest of the last 60.
 */
export const THROUGHPUT_TTL_MS = MAX_THROUGHPUT_MINUTES * MINUTE_MS;

/** What a finished message counts as: the counts of one minute. */
export type ThroughputKind = "acked" | "retried" | "dead";

/** The kinds, in the order a minute's counts are read. */
export const THROUGHPUT_KINDS: readonly ThroughputKind[] = ["acked", "retried", "dead"];

/** The minute a time falls in (minutes since the epoch). */
export function minuteOf(time: number): number {
  return Math.floor(time / MINUTE_MS);
}

/**
 * The minutes to read: the last `minutes` of them up to the one `now` falls in, oldest first.
 *
 * @throws {RangeError} When `minutes` is not an integer from 1 to 60.
 */
export function lastMinutes(now: number, minutes: unknown): number[] {
  if (
    !Number.isInteger(minutes) || (minutes as number) < 1 ||
    (minutes as number) > MAX_THROUGHPUT_MINUTES
  ) {
    throw new RangeError(
      `Cannot read throughput: 'minutes' must be an integer from 1 to ${MAX_THROUGHPUT_MINUTES} (counts are kept an hour), received ${minutes}`,
    );
  }
  const last = minuteOf(now);
  return Array.from({ length: minutes as number }, (_, i) => last - (minutes as number) + 1 + i);
}

/** A minute's row, from its counts by kind. */
export function throughputRow(
  minute: number,
  counts: Readonly<Record<ThroughputKind, number>>,
): ThroughputMinute {
  return { at: minute * MINUTE_MS, ...counts };
}
