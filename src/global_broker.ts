/**
 * The global broker: actors declared without a `broker` option send through it, looked
 * up at each send, so that declaring an actor needs no broker and no secrets.
 *
 * @module
 */
import type { Broker } from "./broker.ts";
import { MemoryBroker } from "./brokers/memory.ts";

let current: Broker | undefined;

/**
 * Sets the global broker.
 *
 * @param broker The broker actors send through from now on.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "./brokers/memory.ts";
 * const broker = new MemoryBroker();
 * setBroker(broker);
 * assert(getBroker() === broker);
 * ```
 */
export function setBroker(broker: Broker): void {
  current = broker;
}

/**
 * Whether a broker was set, rather than the default about to be made (the CLI uses this to
 * fall back to Redis from the environment).
 *
 * @returns `true` after {@linkcode setBroker}.
 */
export function hasBroker(): boolean {
  return current !== undefined;
}

/**
 * Returns the global broker; the first call without a `setBroker()` before it creates a
 * `MemoryBroker`, the embedded default (messages then live only in this process).
 *
 * @returns The global broker.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert(typeof getBroker().enqueue === "function");
 * ```
 */
export function getBroker(): Broker {
  return current ??= new MemoryBroker();
}
