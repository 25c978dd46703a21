/**
 * The actor errors per broker and queue that `join()` raises, kept until a join takes
 * them; private to skiff. A WeakMap, so that brokers carry no public field for it.
 */
import type { Broker } from "./broker.ts";

/** The first actor error of a queue, and the first of a message that died of it. */
interface Failures {
  any?: { error: unknown };
  dead?: { error: unknown };
}

const failures = new WeakMap<Broker, Map<string, Failures>>();

/**
 * Records an actor error unless one of its kind is already waiting for this queue:
 * `dead` when the message was dead-lettered, else it will be retried.
 */
export function recordFailure(broker: Broker, queue: string, error: unknown, dead: boolean): void {
  let byQueue = failures.get(broker);
  if (!byQueue) failures.set(broker, byQueue = new Map());
  let waiting = byQueue.get(queue);
  if (!waiting) byQueue.set(queue, waiting = {});
  waiting.any ??= { error };
  if (dead) waiting.dead ??= { error };
}

/**
 * Removes the waiting errors of a queue and returns the one asked for: the first of a
 * dead-lettered message (`dead`) or the first of any (`any`), if there is one.
 */
export function takeFailure(
  broker: Broker,
  queue: string,
  kind: "any" | "dead",
): { error: unknown } | undefined {
  const byQueue = failures.get(broker);
  const waiting = byQueue?.get(queue);
  byQueue?.delete(queue);
  return waiting?.[kind];
}

/** Whether an error of any kind is waiting for this queue. */
export function hasFailure(broker: Broker, queue: string): boolean {
  return failures.get(broker)?.get(queue)?.any !== undefined;
}
