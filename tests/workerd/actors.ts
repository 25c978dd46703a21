/**
 * The actor both sides of the workerd push suite declare: the sender (Node) sends it, the
 * worker (workerd) runs it. It counts its runs in a Redis key, through the client the
 * running side installs with `useRedis()`.
 *
 * @module
 */
import type { Redis } from "@upstash/redis";
import { actor } from "../../src/actor.ts";

/** The queue of the suite's messages. */
export const QUEUE = "workerd-push";

let redis: Pick<Redis, "incr" | "rpush" | "set"> | undefined;

/**
 * Installs the client the actor writes with.
 *
 * @param client Any `@upstash/redis` client.
 */
export function useRedis(client: Pick<Redis, "incr" | "rpush" | "set">): void {
  redis = client;
}

/** Counts one run under `key`. */
export const record = actor("workerd-push-record", async (key: string) => {
  if (!redis) throw new Error("No Redis client installed");
  await redis.incr(key);
}, { queue: QUEUE, maxRetries: 0 });

/** The list the scheduled actor appends to. */
export const DATES_KEY = "workerd-scheduled-dates";

/** The seed's `print_current_date`: prints the date, and keeps it for the test to see. */
export const printCurrentDate = actor("workerd-print-current-date", async () => {
  const now = new Date().toISOString();
  console.log(now);
  if (!redis) throw new Error("No Redis client installed");
  await redis.rpush(DATES_KEY, now);
}, { queue: QUEUE, maxRetries: 0 });

/** The first steps of the suite's pipeline: doubles a number. */
export const double = actor("workerd-double", (n: number) => n * 2, {
  queue: QUEUE,
  maxRetries: 0,
});

/** The last step of the suite's pipeline: stores the sum of the group's results. */
export const storeSum = actor("workerd-store-sum", async (key: string, values: number[]) => {
  if (!redis) throw new Error("No Redis client installed");
  await redis.set(key, values.reduce((a, b) => a + b, 0));
}, { queue: QUEUE, maxRetries: 0 });
