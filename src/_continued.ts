/**
 * How a broker tells its middleware of messages that one of its own transitions enqueued,
 * which `afterEnqueue` never sees (the failure callbacks of a cancelled member's group): a
 * middleware with a method under {@linkcode CONTINUED} hears of them, and `Push` pushes
 * them. Private to skiff.
 *
 * @module
 */
import type { Broker, EnqueuedMessage } from "./broker.ts";

/** The key of a middleware's method that hears of messages a transition enqueued. */
export const CONTINUED: unique symbol = Symbol("skiff.continued");

/** A middleware that hears of messages a transition enqueued. */
export interface Continued {
  /** Called with what a transition enqueued; must not throw. */
  [CONTINUED](broker: Broker, enqueued: readonly EnqueuedMessage[]): void;
}

/**
 * Hands messages a transition enqueued to every middleware of the broker that hears of
 * them (`Push`); nothing happens without one.
 *
 * @param broker The broker whose transition enqueued them.
 * @param enqueued The messages, if any.
 */
export function announceEnqueued(
  broker: Broker,
  enqueued: readonly EnqueuedMessage[] | undefined,
): void {
  if (!enqueued?.length) return;
  for (const middleware of broker.middleware) {
    (middleware as Partial<Continued>)[CONTINUED]?.(broker, enqueued);
  }
}
