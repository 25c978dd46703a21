/**
 * The in-process result backend, for tests and local development.
 *
 * @module
 */
import { ResultBackend, type ResultBackendOptions, type ResultEntry } from "./backend.ts";

/**
 * Keeps results in a Map, each until its time to live passes on the backend's clock. A
 * blocking read in the same process wakes as soon as a result is stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResultMissing } from "./errors.ts";
 *
 * let time = 0;
 * const backend = new MemoryResultBackend({ now: () => time });
 * await backend.storeResult("m1", { total: 3 }, 1_000);
 * assert.deepEqual(await backend.getResult("m1"), { total: 3 });
 * time = 1_000;
 * await assert.rejects(backend.getResult("m1"), ResultMissing);
 * ```
 */
export class MemoryResultBackend extends ResultBackend {
  readonly #values = new Map<string, { value: string; expiresAt: number }>();

  /**
   * Creates a MemoryResultBackend.
   *
   * @param options The clock and the polling pauses.
   * @throws {RangeError} When a pause is not a positive number.
   */
  constructor(options: ResultBackendOptions = {}) {
    super(options);
  }

  /**
   * Stores values until their time to live passes.
   *
   * @param entries The values.
   */
  protected write(entries: readonly ResultEntry[]): Promise<void> {
    const now = this.now();
    for (const { id, value, ttl } of entries) this.#values.set(id, { value, expiresAt: now + ttl });
    return Promise.resolve();
  }

  /**
   * Reads the values that have not expired.
   *
   * @param ids The message ids.
   * @returns The stored JSON text, or `undefined`, per id.
   */
  protected read(ids: readonly string[]): Promise<unknown[]> {
    const now = this.now();
    return Promise.resolve(ids.map((id) => {
      const stored = this.#values.get(id);
      if (stored && stored.expiresAt <= now) this.#values.delete(id);
      return stored && stored.expiresAt > now ? stored.value : undefined;
    }));
  }
}
