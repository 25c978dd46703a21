/**
 * How results are read: the options of a read, and the stream of results in order that
 * `group.getResults()` and `pipeline.getResults()` answer. The core owns them, so that
 * `Message.getResult()` and the composition contract name no type of the results layer.
 *
 * @module
 */

/** Options of a read. */
export interface ReadResultOptions {
  /** Wait for results not stored yet (default `false`: `ResultMissing` at once). */
  block?: boolean;
  /** How long to wait in all, in milliseconds (default 10 000). */
  timeout?: number;
}

/**
 * Results in the order their messages were added, read as they land: iterate it with
 * `for await`, or collect it with `toArray()`. Each iteration reads afresh, with its own
 * timeout. It has no `then` method, so awaiting it by mistake does not start it.
 *
 * @typeParam R The type of each result.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stream = new ResultStream(async function* () {
 *   yield 1;
 *   yield 2;
 * });
 * const seen: number[] = [];
 * for await (const result of stream) seen.push(result);
 * assert.deepEqual(seen, [1, 2]);
 * assert.deepEqual(await stream.toArray(), [1, 2]);
 * ```
 */
export class ResultStream<R> implements AsyncIterable<R> {
  readonly #source: () => AsyncIterator<R>;

  /**
   * Creates a ResultStream.
   *
   * @param source Starts one iteration.
   */
  constructor(source: () => AsyncIterator<R>) {
    this.#source = source;
  }

  /**
   * Starts an iteration.
   *
   * @returns The iterator.
   */
  [Symbol.asyncIterator](): AsyncIterator<R> {
    return this.#source();
  }

  /**
   * Reads every result into an array, in order.
   *
   * @returns The results.
   * @throws {ResultMissing} When one is not stored and the read does not block.
   * @throws {ResultTimeout} When the timeout passes before every result is stored.
   * @throws {ResultFailure} At the first message, in order, that failed for good.
   */
  async toArray(): Promise<R[]> {
    const results: R[] = [];
    for await (const result of this) results.push(result);
    return results;
  }
}
