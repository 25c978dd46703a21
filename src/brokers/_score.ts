/** Ready-queue order shared by every broker; private to skiff. */

/** 2^44 ms reaches the year 2527; with priorities in [-255, 255] scores stay exact doubles. */
const PRIORITY_WEIGHT = 2 ** 44;

/**
 * The ready score: lower runs first. Priority first, then the time the message became
 * ready; brokers break ties by id (ids are time-sortable), which gives FIFO.
 */
export function readyScore(priority: number, readyAt: number): number {
  return priority * PRIORITY_WEIGHT + readyAt;
}
