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
import type { LocalServer } from "../src/local/mod.ts";

/** How an intercepted script call's answer is lost. */
export type Loss =
  /** `@upstash/redis` retried it (a dropped connection): the same request runs again. */
  | "client retries"
  /** The error reached the broker (a network error after the client's own retries). */
  | "broker sees an error";

/**
 * Wraps `redis`: the first call of `script` that Redis runs (not a NOSCRIPT) loses its answer,
 * whether it went alone or in a pipeline (then the whole request is sent again, as
 * `@upstash/redis` sends again a request whose response was lost).
 */
export function losing(
  redis: Redis,
  script: Script<unknown>,
  loss: Loss,
  between: () => Promise<void> = async () => {},
): { client: UpstashBrokerClient; lost: () => number } {
  let lost = 0;
  const intercept = async <T>(mine: boolean, send: () => Promise<T>, ran = (_: T) => true) => {
    const answer = await send();
    if (lost > 0 || !mine || !ran(answer)) return answer;
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
    pipeline: () => {
      const pipeline = redis.pipeline();
      const scripts: string[] = [];
      const { evalsha, eval: evaluate, exec } = pipeline;
      Object.assign(pipeline, {
        evalsha: (...args: Parameters<typeof evalsha>) => {
          scripts.push(args[0]);
          return evalsha.apply(pipeline, args);
        },
        eval: (...args: Parameters<typeof evaluate>) => {
          scripts.push(args[0]);
          return evaluate.apply(pipeline, args);
        },
        exec: async (...args: Parameters<typeof exec>) => {
          const sha = await script.sha();
          const mine = scripts.some((first) => first === sha || first === script.source);
          const noScript = (answers: unknown) =>
            Array.isArray(answers) &&
            answers.some((a) => String((a as { error?: unknown })?.error).includes("NOSCRIPT"));
          return await intercept(mine, () => exec.apply(pipeline, args), (a) => !noScript(a));
        },
      });
      return pipeline;
    },
  };
  return { client: client as unknown as UpstashBrokerClient, lost: () => lost };
}

/**
 * Makes a local server answer its next request 503 without running it (`next()`), and
 * counts the requests so refused: a transient failure at the exact point, for the tests
 * of what retries it.
 */
export function refusing(server: LocalServer): { next(): void; readonly refused: number } {
  let refused = 0;
  return {
    next() {
      const draws = [0];
      server.faults = {
        errorRate: 0.5,
        random: () => {
          const draw = draws.shift() ?? 1;
          if (draw === 0) refused++;
          return draw;
        },
      };
    },
    get refused() {
      return refused;
    },
  };
}
