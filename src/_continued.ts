/**
 * How a broker tells its middleware of messages that one of its own transitions enqueued,
 * which `afterEnqueue` never sees (the failure callbacks of a cancelled member's group): a
 * middleware registered with {@linkcode hearEnqueued} hears of them, and `Push` pushes
 * them. A registry, not a method, so that a bundle without `Push` keeps none of it. Private
 * to skiff.
 *
 * @module
 */
import type { Broker, EnqueuedMessage } from "./broker.ts";
import type { Middleware } from "./middleware/middleware.ts";

type Hear = (broker: Broker, enqueued: readonly EnqueuedMessage[]) => void;

const hearers = new WeakMap<Middleware, Hear>();

/**
 * Registers what a middleware does with the messages a transition enqueued.
 *
 * @param middleware The middleware.
 * @param hear Called with them; must not throw.
 */
export function hearEnqueued(middleware: Middleware, hear: Hear): void {
  hearers.set(middleware, hear);
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
  for (const middleware of broker.middleware) hearers.get(middleware)?.(broker, enqueued);
}
