/**
 * A Redis client for `UpstashBroker` that loses the answer of one script call at the exact
 * point: the first call of the script reaches Redis and runs, then `between` runs (another
 * consumer acts), then the retry arrives as `loss` says. For the "safe to repeat" tests.
 *
 * @module
 */
import type { Redis } from "@upstash/redis";
import type { UpstashBrokerClient } from "../src/brokers/upstash.ts";
import type { Script } from "../src/redis/script.ts";

/** How an intercepted script call's answer is lost. */
export type Loss =
  /** `@upstash/redis` retried it (a dropped connection): the same request runs again. */
  | "client retries"
  /** The error reached the broker (a network error after the client's own retries). */
  | "broker sees an error";

/** Wraps `redis`: the first call of `script` that Redis runs (not a NOSCRIPT) loses its answer. */
export function losing(
  redis: Redis,
  script: Script<unknown>,
  loss: Loss,
  between: () => Promise<void> = async () => {},
): { client: UpstashBrokerClient; lost: () => number } {
  let lost = 0;
  const intercept = async (mine: boolean, send: () => Promise<unknown>) => {
    const answer = await send();
    if (lost > 0 || !mine) return answer;
    lost++;
    await between();
    if (loss === "broker sees an error") throw new TypeError("fetch failed");
    return await send();
  };
  const client = {
    evalsha: async (...args: Parameters<Redis["evalsha"]>) =>
      intercept(args[0] === await script.sha(), () => redis.evalsha(...args)),
    eval: (...args: Parameters<Redis["eval"]>) =>
      intercept(args[0] === script.source, () => redis.eval(...args)),
    pipeline: () => redis.pipeline(),
  };
  return { client: client as unknown as UpstashBrokerClient, lost: () => lost };
}
