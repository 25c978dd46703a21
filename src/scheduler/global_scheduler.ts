/**
 * The global scheduler: modules declare schedules on it at top level, and `skiff
 * scheduler` (or a tick source) finds it there, as `setBroker()` does for the broker.
 *
 * @module
 */
import { Scheduler } from "./scheduler.ts";

let current: Scheduler | undefined;

/**
 * Sets the global scheduler.
 *
 * @param scheduler The scheduler `getScheduler()` returns from now on.
 * @throws {TypeError} When `scheduler` is not a `Scheduler`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Scheduler } from "./scheduler.ts";
 *
 * const scheduler = new Scheduler();
 * setScheduler(scheduler);
 * assert(getScheduler() === scheduler && hasScheduler());
 * ```
 */
export function setScheduler(scheduler: Scheduler): void {
  if (!(scheduler instanceof Scheduler)) {
    throw new TypeError("Cannot set scheduler: expected a Scheduler");
  }
  current = scheduler;
}

/**
 * Whether a global scheduler exists (set, or made by a `getScheduler()` call).
 *
 * @returns `true` once there is one.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * getScheduler();
 * assert(hasScheduler());
 * ```
 */
export function hasScheduler(): boolean {
  return current !== undefined;
}

/**
 * Returns the global scheduler; the first call without a `setScheduler()` before it makes
 * one with the defaults (the global broker, its store).
 *
 * @returns The global scheduler.
 * @example Declare a schedule at module top level
 * ```ts
 * import assert from "node:assert/strict";
 * import { actor } from "../actor.ts";
 *
 * const cleanup = actor(`cleanup-${crypto.randomUUID()}`, () => {});
 * getScheduler().schedule(`cleanup-${crypto.randomUUID()}`, "0 * * * *", cleanup.message());
 * assert(getScheduler().schedules.length >= 1);
 * ```
 */
export function getScheduler(): Scheduler {
  return current ??= new Scheduler();
}
