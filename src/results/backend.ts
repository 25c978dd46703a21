/**
 * The result backend contract: storage of results and failures by message id, with the
 * reads, blocking and ordering that every backend shares.
 *
 * @module
 */
import { describe, isNonNegative } from "../_util.ts";
import { type FailureData, ResultFailure, ResultMissing, ResultTimeout } from "./errors.ts";
import { type ReadResultOptions, ResultStream } from "../result_stream.ts";

export type { ReadResultOptions };

/** Options of every result backend. */
export interface ResultBackendOptions {
  /** The clock for expiry and timeouts, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** The first pause between reads while blocking, in milliseconds (default 10). */
  pollMin?: number;
  /** The longest pause between reads while blocking, in milliseconds (default 1 000). */
  pollMax?: number;
}

/** One value to store. */
export interface ResultEntry {
  /** The message id. */
  id: string;
  /** The stored JSON text. */
  value: string;
  /** How long to keep it, in milliseconds. */
  ttl: number;
}

/** What is stored for a message: its result, or how it failed. */
export type StoredResult = { result: unknown } | { failure: FailureData };

/** What a read asks for: one message's result, or the list of several (a group). */
export type ResultSlot = string | readonly string[];

/** The most ids one `read()` asks for: larger reads take several. */
const READ_CHUNK = 500;

/** The default timeout of blocking reads, in milliseconds. */
export const DEFAULT_RESULT_TIMEOUT = 10_000;

/**
 * Stores results and failures by message id and reads them back. Implementations provide
 * `write()` and `read()`, each one round trip; blocking reads poll with growing pauses
 * (REST has no blocking commands) and wake at once when this backend instance stores one.
 *
 * @example A backend in a Map (what `MemoryResultBackend` does, without expiry)
 * ```ts
 * import assert from "node:assert/strict";
 *
 * class MapBackend extends ResultBackend {
 *   readonly values = new Map<string, string>();
 *   protected write(entries: readonly ResultEntry[]): Promise<void> {
 *     for (const entry of entries) this.values.set(entry.id, entry.value);
 *     return Promise.resolve();
 *   }
 *   protected read(ids: readonly string[]): Promise<unknown[]> {
 *     return Promise.resolve(ids.map((id) => this.values.get(id)));
 *   }
 * }
 * const backend = new MapBackend();
 * await backend.storeResult("m1", 42, 60_000);
 * assert(await backend.getResult("m1") === 42);
 * ```
 */
export abstract class ResultBackend {
  /** The clock, in milliseconds since the epoch. */
  readonly now: () => number;
  /** The first pause between reads while blocking, in milliseconds. */
  readonly pollMin: number;
  /** The longest pause between reads while blocking, in milliseconds. */
  readonly pollMax: number;
  readonly #waiters = new Set<() => void>();
  /** Counts stores, so a read can tell that one landed while it was in flight. */
  #stores = 0;

  /**
   * Sets up the clock and the polling pauses.
   *
   * @param options The clock and the pauses.
   * @throws {RangeError} When a pause is not a positive number.
   */
  constructor(options: ResultBackendOptions = {}) {
    this.now = options.now ?? Date.now;
    this.pollMin = positive(options.pollMin, 10, "pollMin");
    this.pollMax = Math.max(this.pollMin, positive(options.pollMax, 1_000, "pollMax"));
  }

  /**
   * Stores values, each with its time to live, in one round trip.
   *
   * @param entries The values.
   */
  protected abstract write(entries: readonly ResultEntry[]): Promise<void>;

  /**
   * Reads the stored values of messages in one round trip: the JSON text as written (or
   * already parsed, as `@upstash/redis` does), or `null`/`undefined` when missing or
   * expired.
   *
   * @param ids The message ids.
   * @returns One value per id, in order.
   */
  protected abstract read(ids: readonly string[]): Promise<unknown[]>;

  /**
   * Stores a message's result.
   *
   * @param id The message id.
   * @param result What the actor returned; `undefined` is stored as `null`.
   * @param ttl How long to keep it, in milliseconds.
   * @throws {TypeError} When the result cannot be encoded as JSON.
   */
  async storeResult(id: string, result: unknown, ttl: number): Promise<void> {
    let value: string;
    try {
      value = JSON.stringify({ result: result === undefined ? null : result });
    } catch {
      throw new TypeError(`Cannot store the result of message ${id}: it is not JSON-serializable`);
    }
    await this.#store([{ id, value, ttl }]);
  }

  /**
   * Stores a failure for messages: the one that failed, and the later steps of its
   * pipeline that will never run.
   *
   * @param ids The message ids.
   * @param failure What the actor threw.
   * @param ttl How long to keep it, in milliseconds.
   */
  async storeFailure(ids: readonly string[], failure: FailureData, ttl: number): Promise<void> {
    if (ids.length === 0) return;
    const value = JSON.stringify({ failure });
    await this.#store([...new Set(ids)].map((id) => ({ id, value, ttl })));
  }

  /**
   * Reads a message's result.
   *
   * @param id The message id.
   * @param options Whether to wait, and how long.
   * @returns The result.
   * @throws {ResultMissing} When not stored and not blocking.
   * @throws {ResultTimeout} When blocking and the timeout passes first.
   * @throws {ResultFailure} When the message failed for good.
   * @throws {RangeError} When the timeout is not a non-negative number.
   */
  async getResult(id: string, options: ReadResultOptions = {}): Promise<unknown> {
    const [result] = await this.getResults([id], options).toArray();
    return result;
  }

  /**
   * Reads results in order: for each slot, one message's result, or the list of results
   * of several (a group). The first read covers every id (in reads of at most 500); while
   * blocking, later reads cover only a window of the ids still missing, from the first,
   * that grows while results land: bytes stay linear in the number of ids.
   *
   * @param slots The message ids, or lists of them.
   * @param options Whether to wait, and how long in all.
   * @returns The results, as they land, in order.
   * @throws {RangeError} When the timeout is not a non-negative number.
   */
  getResults(slots: readonly ResultSlot[], options: ReadResultOptions = {}): ResultStream<unknown> {
    const { block = false, timeout = DEFAULT_RESULT_TIMEOUT } = options;
    if (!isNonNegative(timeout)) {
      throw new RangeError(
        `Cannot get results: 'timeout' must be a non-negative number of milliseconds, received ${
          describe(timeout)
        }`,
      );
    }
    return new ResultStream(() => this.#iterate(slots, block, timeout));
  }

  async *#iterate(
    slots: readonly ResultSlot[],
    block: boolean,
    timeout: number,
  ): AsyncGenerator<unknown> {
    const deadline = this.now() + timeout;
    const all = [...new Set(slots.flatMap((slot) => typeof slot === "string" ? [slot] : slot))];
    const found = new Map<string, StoredResult>();
    let pause = this.pollMin;
    // The first read covers every id, in chunks; later reads only a window of the ids still
    // missing, from the first one: it doubles while reads find results and falls to one id
    // when one finds none, so that an id is asked for about as often as results land, and a
    // group of N costs O(N) bytes in all, not a re-read of every missing id on each wake.
    let first = 0;
    let window = all.length;
    const readSome = async (ids: string[]): Promise<number> => {
      const values = await this.read(ids);
      let hits = 0;
      ids.forEach((id, i) => {
        const stored = decodeStored(values[i]);
        if (stored) found.set(id, stored), hits++;
      });
      return hits;
    };
    for (const slot of slots) {
      const ids = typeof slot === "string" ? [slot] : slot;
      while (true) {
        let missing = ids.find((id) => !found.has(id));
        if (missing === undefined) break;
        while (found.has(all[first])) first++;
        const pending: string[] = [];
        for (let i = first; i < all.length && pending.length < window; i++) {
          if (!found.has(all[i])) pending.push(all[i]);
        }
        const stores = this.#stores;
        let hits = 0;
        for (let i = 0; i < pending.length; i += READ_CHUNK) {
          hits += await readSome(pending.slice(i, i + READ_CHUNK));
        }
        const full = hits === pending.length;
        window = Math.min(READ_CHUNK, Math.max(1, 2 * hits));
        missing = ids.find((id) => !found.has(id));
        if (missing === undefined) break;
        if (!block) throw new ResultMissing(missing);
        const left = deadline - this.now();
        if (left <= 0) throw new ResultTimeout(missing, timeout);
        // A read that found all it asked for may have more waiting behind its window; a store
        // that landed during the read woke nobody: read again at once.
        if (full || this.#stores !== stores) continue;
        await this.#pause(Math.min(pause, left));
        pause = Math.min(pause * 2, this.pollMax);
      }
      const results = ids.map((id) => {
        const stored = found.get(id)!;
        if ("failure" in stored) throw new ResultFailure(id, stored.failure);
        return stored.result;
      });
      yield typeof slot === "string" ? results[0] : results;
    }
  }

  async #store(entries: ResultEntry[]): Promise<void> {
    for (const { ttl } of entries) {
      if (!Number.isInteger(ttl) || ttl < 1) {
        throw new RangeError(
          `Cannot store a result: 'ttl' must be a positive integer number of milliseconds, received ${ttl}`,
        );
      }
    }
    await this.write(entries);
    this.#stores++;
    for (const wake of [...this.#waiters]) wake();
  }

  /** Sleeps `ms`, or less when this instance stores something meanwhile. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }
}

/** Reads a stored value: JSON text, or what `@upstash/redis` parsed already. */
function decodeStored(raw: unknown): StoredResult | undefined {
  if (raw === null || raw === undefined) return undefined;
  let value: unknown = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
  }
  if (typeof value === "object" && value !== null) {
    if ("failure" in value) return value as StoredResult;
    if ("result" in value) return value as StoredResult;
  }
  throw new TypeError("Cannot read a result: the stored value is not a skiff result");
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!isNonNegative(value) || value === 0) {
    throw new RangeError(
      `Cannot create result backend: '${name}' must be a positive number of milliseconds, received ${
        describe(value)
      }`,
    );
  }
  return value;
}
