/**
 * The in-process schedule store: exactly once among the ticks of one process.
 *
 * @module
 */
import type { RecordSwap, ScheduleRecord, ScheduleStore, SwapResult } from "./store.ts";

/** Options of {@linkcode MemoryScheduleStore}. */
export interface MemoryScheduleStoreOptions {
  /** The clock records expire by, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

/**
 * Keeps schedule records in a map, each swap atomic (JavaScript runs one at a time). The
 * default store of a `Scheduler` whose broker is not in Redis.
 *
 * @example Two swaps expecting the same record: one wins
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryScheduleStore();
 * const swap = (token: string) => ({ name: "report", expect: "", next: { slot: 0, token, id: "" }, ttl: 60_000 });
 * const [a, b] = await Promise.all([store.swap([swap("a")]), store.swap([swap("b")])]);
 * assert.deepEqual(a[0], { written: true });
 * assert.deepEqual(b[0], { written: false, current: { slot: 0, token: "a", id: "" } });
 * ```
 */
export class MemoryScheduleStore implements ScheduleStore {
  readonly #now: () => number;
  readonly #records = new Map<string, { record: ScheduleRecord; expiresAt: number }>();

  /**
   * Creates a MemoryScheduleStore.
   *
   * @param options The clock.
   */
  constructor(options: MemoryScheduleStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * Compares and sets records, each atomically.
   *
   * @param swaps The swaps.
   * @returns For each swap, whether it was written, else the current record.
   */
  swap(swaps: readonly RecordSwap[]): Promise<SwapResult[]> {
    const now = this.#now();
    return Promise.resolve(swaps.map((swap): SwapResult => {
      const held = this.#records.get(swap.name);
      const current = held && held.expiresAt > now ? { ...held.record } : null;
      if (swap.next === undefined || (current?.token ?? "") !== swap.expect) {
        return { written: false, current };
      }
      if (swap.next === null) this.#records.delete(swap.name);
      else this.#records.set(swap.name, { record: { ...swap.next }, expiresAt: now + swap.ttl });
      return { written: true };
    }));
  }
}
