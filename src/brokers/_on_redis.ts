/**
 * Which brokers keep their state in Redis; private to skiff. One rule for every part that
 * derives its own state from the broker (`Results`, the rate limiters, the `Scheduler`):
 * a broker with a `redis` client and a `namespace`, as `UpstashBroker` has and wrappers of
 * it keep. Read by shape, so that wrappers count and no part imports `UpstashBroker`.
 *
 * @module
 */
import type { Broker } from "../broker.ts";

/**
 * The Redis client and namespace of a broker on Redis, else `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "./memory.ts";
 * import { redisOf } from "./_on_redis.ts";
 *
 * assert.equal(redisOf(new MemoryBroker()), undefined);
 * ```
 */
export function redisOf(broker: Broker): { redis: object; namespace: string } | undefined {
  const { redis, namespace } = broker as Broker & { redis?: unknown; namespace?: unknown };
  return typeof redis === "object" && redis !== null && typeof namespace === "string"
    ? { redis, namespace }
    : undefined;
}
