/**
 * Micro-batches of `UpstashBroker` calls; private to skiff. The push endpoint and the pull
 * worker finish messages concurrently and each acks its own: calls that arrive before the
 * pending microtasks run out share one script call per queue (a batch of 10 acks costs 5
 * commands, the call record included; ten single acks 40), and each caller gets its own
 * answers back. A quiet batch may linger a few milliseconds for a request of its key (a
 * claim of the queue) to take it along.
 */
import { settled } from "../../_util.ts";

interface Waiter<R> {
  from: number;
  count: number;
  resolve: (answers: R[]) => void;
  reject: (error: unknown) => void;
}

interface Batch<T, R> {
  items: T[];
  waiters: Waiter<R>[];
  /** Whether its flush is queued. */
  scheduled: boolean;
  /** Whether it was sent. */
  sent: boolean;
  /** Its linger timer, while it waits for a request of its key to ride along with. */
  linger?: ReturnType<typeof setTimeout>;
}

/**
 * Microtask turns without a new call after which a batch is sent: a message's processing
 * takes about as many from its actor's end to its ack.
 */
const QUIET_TURNS = 8;

/**
 * Collects items per key until the microtasks queued with the first item have run, then
 * runs them as one batch. At most `limit` batches of a key are in flight: the next one
 * waits for a free place and grows meanwhile (so under load batches grow on their own, and
 * an idle caller waits for no timer). Two in flight let a worker's acks flow while the
 * previous ones travel: with one, its acks came one batch per round trip. Messages
 * processed together finish in the same chain of microtasks, so their acks meet there; a
 * timer turn (`setTimeout(0)`) added one to two milliseconds to every ack. A failure
 * rejects every caller of that batch; a call after the flush starts goes into the next
 * one.
 */
export class Coalescer<T, R> {
  readonly #run: (key: string, items: T[]) => Promise<R[]>;
  readonly #limit: number;
  readonly #lingerMs: (key: string) => number;
  readonly #pending = new Map<string, Batch<T, R>>();
  readonly #inFlight = new Map<string, number>();

  /**
   * @param run Runs one batch: one answer per item, in order.
   * @param options `limit`: how many batches of one key may be in flight at once (2).
   *   `lingerMs`: how long a quiet batch still waits for a request of its key to take it
   *   along ({@linkcode flush}) before it goes alone (0: it goes at once), or a function of
   *   the key that answers it when the batch is ready.
   */
  constructor(
    run: (key: string, items: T[]) => Promise<R[]>,
    options: { limit?: number; lingerMs?: number | ((key: string) => number) } = {},
  ) {
    this.#run = run;
    this.#limit = options.limit ?? 2;
    const linger = options.lingerMs ?? 0;
    this.#lingerMs = typeof linger === "function" ? linger : () => linger;
  }

  /** Adds items to the key's pending batch; resolves with their answers, in order. */
  add(key: string, items: readonly T[]): Promise<R[]> {
    let batch = this.#pending.get(key);
    if (!batch) {
      this.#pending.set(key, batch = { items: [], waiters: [], scheduled: false, sent: false });
      if ((this.#inFlight.get(key) ?? 0) < this.#limit) void this.#schedule(key, batch);
    }
    const from = batch.items.length;
    batch.items.push(...items);
    const waiters = batch.waiters;
    return new Promise((resolve, reject) => {
      waiters.push({ from, count: items.length, resolve, reject });
    });
  }

  /**
   * Sends the key's pending batch now, if a place is free: a caller about to send a request
   * of its own for the key (a claim of the same queue) takes the batch along, as
   * `@upstash/redis` pipelines calls made together into one request.
   */
  flush(key: string): void {
    const batch = this.#pending.get(key);
    if (batch && (this.#inFlight.get(key) ?? 0) < this.#limit) void this.#flush(key);
  }

  async #schedule(key: string, batch: Batch<T, R>): Promise<void> {
    batch.scheduled = true;
    // Wait while the batch still grows: calls of actors that finish a few microtask turns
    // apart (a second wave of messages, started as the first finished) join it.
    await settled(() => batch.items.length, QUIET_TURNS, () => batch.sent);
    if (batch.sent) return;
    const linger = this.#lingerMs(key);
    if (linger > 0) batch.linger = setTimeout(() => this.#flush(key), linger);
    else void this.#flush(key);
  }

  async #flush(key: string): Promise<void> {
    const batch = this.#pending.get(key);
    if (!batch) return;
    clearTimeout(batch.linger);
    batch.sent = true;
    this.#pending.delete(key);
    this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
    try {
      let answers: R[];
      try {
        answers = await this.#run(key, batch.items);
      } catch (error) {
        for (const waiter of batch.waiters) waiter.reject(error);
        return;
      }
      for (const { from, count, resolve } of batch.waiters) {
        resolve(answers.slice(from, from + count));
      }
    } finally {
      const left = this.#inFlight.get(key)! - 1;
      if (left === 0) this.#inFlight.delete(key);
      else this.#inFlight.set(key, left);
      const next = this.#pending.get(key);
      if (next && !next.scheduled) void this.#schedule(key, next);
    }
  }
}
