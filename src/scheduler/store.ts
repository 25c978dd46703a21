/**
 * Where a `Scheduler` remembers, per schedule, the last slot fired: one record per
 * schedule, changed only by compare-and-set, so that however many ticks race for a slot,
 * one wins. `MemoryScheduleStore` keeps records in process, `UpstashScheduleStore` in Redis.
 * A store that sits beside a broker also writes the slot's messages into that broker's
 * queues in the same transition as the record (see {@linkcode ScheduleStore.canWrite}).
 *
 * @module
 */
import type { Broker, EncodedMessage } from "../broker.ts";

/** What a store keeps per schedule. */
export interface ScheduleRecord {
  /** The latest slot handled (fired or skipped), in milliseconds since the epoch. */
  slot: number;
  /** The token of the tick that wrote the record: what the next write compares. */
  token: string;
  /** The id of the last message sent for the schedule (`""`: none yet), for `overlap`. */
  id: string;
}

/** One compare-and-set of a schedule's record. */
export interface RecordSwap {
  /** The schedule's name. */
  name: string;
  /** The token of the record the caller saw; `""` when it saw none. */
  expect: string;
  /**
   * What to write if the record still has the `expect`ed token: a record, or `null` to
   * delete it. Left out, the swap only reads.
   */
  next?: ScheduleRecord | null;
  /** How long a written record is kept, in milliseconds. */
  ttl: number;
  /**
   * The slot's messages, encoded by the broker the store can write for (see
   * {@linkcode ScheduleStore.canWrite}): stored in their queues in the same transition as
   * the record, only by the call that writes it (a retry of that call stores nothing more).
   */
  messages?: readonly EncodedMessage[];
}

/** Options of {@linkcode ScheduleStore.swap}. */
export interface SwapOptions {
  /**
   * The call's id: a call made again with the same id (its first answer lost) answers
   * what its first run did and changes nothing more. Default: a fresh id per call.
   */
  callId?: string;
}

/** What one swap answers. */
export type SwapResult =
  /** The write was made (or had been made by this very request, retried). */
  | { written: true }
  /** Nothing written: the current record (`null`: none). */
  | { written: false; current: ScheduleRecord | null };

/**
 * A store of schedule records. Each swap in a call is atomic on its own; an
 * implementation answers them in order, in one round trip.
 *
 * @example A store that answers from a map (see `MemoryScheduleStore` for a real one)
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const records = new Map<string, ScheduleRecord>();
 * const store: ScheduleStore = {
 *   swap: (swaps) =>
 *     Promise.resolve(swaps.map((swap): SwapResult => {
 *       const current = records.get(swap.name) ?? null;
 *       if (swap.next === undefined || (current?.token ?? "") !== swap.expect) {
 *         return { written: false, current };
 *       }
 *       if (swap.next === null) records.delete(swap.name);
 *       else records.set(swap.name, swap.next);
 *       return { written: true };
 *     })),
 * };
 * const [first] = await store.swap([
 *   { name: "report", expect: "", next: { slot: 0, token: "a", id: "" }, ttl: 1_000 },
 * ]);
 * assert.deepEqual(first, { written: true });
 * ```
 */
export interface ScheduleStore {
  /**
   * Compares and sets records, each atomically. Safe to repeat: a call made again with the
   * same `callId` (its first answer lost) answers what its first run did; a swap its first
   * run wrote is answered written even if another tick has moved the record on since.
   *
   * @param swaps The swaps, at most one per schedule.
   * @param options The call id.
   * @returns For each swap, in order, whether it was written, else the current record.
   */
  swap(swaps: readonly RecordSwap[], options?: SwapOptions): Promise<SwapResult[]>;
  /**
   * Whether the store can write `broker`'s messages itself, with the records
   * ({@linkcode RecordSwap.messages}): then a slot won is a message stored, with no send
   * after it that could fail. Left out, or `false`: the scheduler sends after the swap.
   *
   * @param broker The broker of a schedule's messages.
   * @returns Whether the swaps may carry that broker's messages.
   */
  canWrite?(broker: Broker): boolean;
}
