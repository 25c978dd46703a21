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

let redis: Pick<Redis, "incr"> | undefined;

/**
 * Installs the client the actor writes with.
 *
 * @param client Any `@upstash/redis` client.
 */
export function useRedis(client: Pick<Redis, "incr">): void {
  redis = client;
}

/** Counts one run under `key`. */
export const record = actor("workerd-push-record", async (key: string) => {
  if (!redis) throw new Error("No Redis client installed");
  await redis.incr(key);
}, { queue: QUEUE, maxRetries: 0 });

/** The list the scheduled actor appends to. */
export const DATES_KEY = "workerd-scheduled-dates";

let dates: Pick<Redis, "rpush"> | undefined;

/**
 * Installs the client the scheduled actor writes with.
 *
 * @param client Any `@upstash/redis` client.
 */
export function useDatesRedis(client: Pick<Redis, "rpush">): void {
  dates = client;
}

/** The seed's `print_current_date`: prints the date, and keeps it for the test to see. */
export const printCurrentDate = actor("workerd-print-current-date", async () => {
  const now = new Date().toISOString();
  console.log(now);
  if (!dates) throw new Error("No Redis client installed");
  await dates.rpush(DATES_KEY, now);
}, { queue: QUEUE, maxRetries: 0 });
