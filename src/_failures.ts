/**
 * The first actor error per broker and queue, kept until a `join()` re-raises it; private
 * to skiff. A WeakMap, so that brokers carry no public field for it.
 */
import type { Broker } from "./broker.ts";

const failures = new WeakMap<Broker, Map<string, unknown>>();

/** Records an error unless one is already waiting for this queue. */
export function recordFailure(broker: Broker, queue: string, error: unknown): void {
  let byQueue = failures.get(broker);
  if (!byQueue) failures.set(broker, byQueue = new Map());
  if (!byQueue.has(queue)) byQueue.set(queue, error);
}

/** Removes and returns the waiting error of a queue, if any. */
export function takeFailure(broker: Broker, queue: string): { error: unknown } | undefined {
  const byQueue = failures.get(broker);
  if (!byQueue?.has(queue)) return undefined;
  const error = byQueue.get(queue);
  byQueue.delete(queue);
  return { error };
}
