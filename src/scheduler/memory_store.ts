/**
 * The in-process schedule store: exactly once among the ticks of one process.
 *
 * @module
 */
import type { Broker } from "../broker.ts";
import type { MemoryBroker } from "../brokers/memory.ts";
import type { RecordSwap, ScheduleRecord, ScheduleStore, SwapResult } from "./store.ts";

/** Options of {@linkcode MemoryScheduleStore}. */
export interface MemoryScheduleStoreOptions {
  /** The clock records expire by, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /**
   * The broker whose messages the store writes with the records, in the same step (what a
   * `Scheduler` makes for a `MemoryBroker`). Without one, the scheduler sends them.
   */
  broker?: MemoryBroker;
}

/**
 * Keeps schedule records in a map, each swap atomic (JavaScript runs one at a time). The
 * default store of a `Scheduler` whose broker is not in Redis; made for a `MemoryBroker`,
 * a swap that wins stores its slot's messages in that broker in the same step.
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
  readonly #broker: MemoryBroker | undefined;
  readonly #records = new Map<string, { record: ScheduleRecord; expiresAt: number }>();

  /**
   * Creates a MemoryScheduleStore.
   *
   * @param options The clock, and the broker whose messages it writes.
   */
  constructor(options: MemoryScheduleStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#broker = options.broker;
  }

  /**
   * Whether the swaps may carry `broker`'s messages: the store's own broker.
   *
   * @param broker The broker of a schedule's messages.
   * @returns Whether the store writes its messages with the records.
   */
  canWrite(broker: Broker): boolean {
    return this.#broker !== undefined && broker === this.#broker;
  }

  /**
   * Compares and sets records, each atomically; a set that wins stores its messages in the
   * store's broker in the same step.
   *
   * @param swaps The swaps.
   * @returns For each swap, whether it was written, else the current record.
   */
  swap(swaps: readonly RecordSwap[]): Promise<SwapResult[]> {
    if (!this.#broker && swaps.some((swap) => swap.messages?.length)) {
      return Promise.reject(
        new TypeError(
          "Cannot swap schedule records: this store has no broker to write messages to",
        ),
      );
    }
    const now = this.#now();
    return Promise.resolve(swaps.map((swap): SwapResult => {
      const held = this.#records.get(swap.name);
      const current = held && held.expiresAt > now ? { ...held.record } : null;
      if (swap.next === undefined || (current?.token ?? "") !== swap.expect) {
        return { written: false, current };
      }
      if (swap.next === null) this.#records.delete(swap.name);
      else this.#records.set(swap.name, { record: { ...swap.next }, expiresAt: now + swap.ttl });
      if (swap.next && swap.messages?.length) this.#broker!.storeEncoded(swap.messages);
      return { written: true };
    }));
  }
}
