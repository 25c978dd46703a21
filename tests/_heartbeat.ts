/**
 * Watching heartbeats: a broker that records how many leases each extension call carries,
 * and a count of the `setInterval` timers started while something runs.
 *
 * @module
 */
import type { Lease, LeaseOptions } from "../src/broker.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { silentLogger } from "./broker_conformance.ts";

/**
 * A `MemoryBroker` that records the leases of each extension call (1 for `extendLease`);
 * `extended` resolves once one call extends `n` leases at once, or a lease is extended
 * alone (as a timer per message would).
 */
export function leaseWatch(n: number): {
  broker: MemoryBroker;
  extendCalls: number[];
  extended: Promise<void>;
} {
  const extendCalls: number[] = [];
  const extended = Promise.withResolvers<void>();
  class Watched extends MemoryBroker {
    override async extendLeases(
      queue: string,
      leases: readonly Lease[],
      options?: LeaseOptions,
    ): Promise<boolean[]> {
      extendCalls.push(leases.length);
      if (leases.length === n) extended.resolve();
      return await super.extendLeases(queue, leases, options);
    }
    override async extendLease(
      queue: string,
      lease: Lease,
      options?: LeaseOptions,
    ): Promise<boolean> {
      extendCalls.push(1);
      extended.resolve();
      return await super.extendLease(queue, lease, options);
    }
  }
  return {
    broker: new Watched({ logger: silentLogger }),
    extendCalls,
    extended: extended.promise,
  };
}

/** Runs `run`, counting the `setInterval` timers started meanwhile. */
export async function countingIntervals<T>(
  run: () => Promise<T>,
): Promise<{ answer: T; intervals: number }> {
  const realSetInterval = globalThis.setInterval;
  let intervals = 0;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    intervals++;
    return realSetInterval(...args);
  }) as typeof setInterval;
  try {
    return { answer: await run(), intervals };
  } finally {
    globalThis.setInterval = realSetInterval;
  }
}
