/**
 * Requeues every dead letter of a queue, a page of dead letters per call, for the operations
 * tools (`skiff dead requeue --all`, the dashboard's "requeue all"); private to skiff.
 *
 * @module
 */
import type { Broker } from "../broker.ts";

/** Dead letters read per call. */
const PAGE = 1000;

/**
 * Requeues every dead letter of `queue`, a page at a time, until none is left (or a page
 * requeues none: another process took them).
 *
 * @returns How many were requeued.
 */
export async function requeueAll(broker: Broker, queue: string): Promise<number> {
  let total = 0;
  while (true) {
    const page = await broker.deadLetters(queue, { limit: PAGE });
    if (page.length === 0) return total;
    const n = await broker.requeue(queue, page.map((letter) => letter.id));
    total += n;
    if (n === 0) return total;
  }
}
