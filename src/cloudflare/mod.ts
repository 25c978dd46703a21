/**
 * `skiff/cloudflare`: glue for Cloudflare Workers, where secrets arrive per request in
 * `env` rather than at import time, and cron triggers call the `scheduled` handler.
 *
 * ```ts ignore
 * import { redisFromEnv, scheduledHandler } from "skiff/cloudflare";
 * ```
 *
 * @example A Worker that takes pushes and ticks every minute (wrangler: `crons = ["* * * * *"]`)
 * ```ts ignore
 * import { UpstashBroker } from "skiff";
 * import { redisFromEnv, scheduledHandler } from "skiff/cloudflare";
 * import { workerApp } from "skiff/hono";
 *
 * type Env = { SKIFF_SIGNING_KEY: string; UPSTASH_REDIS_REST_URL: string; UPSTASH_REDIS_REST_TOKEN: string };
 * const brokerFor = (env: Env) => new UpstashBroker({ redis: redisFromEnv(env) });
 * const app = workerApp<{ Bindings: Env }>({
 *   signingKeys: (c) => [c.env.SKIFF_SIGNING_KEY],
 *   broker: (c) => brokerFor(c.env),
 * });
 * export default { fetch: app.fetch, scheduled: scheduledHandler({ broker: brokerFor }) };
 * ```
 *
 * @module
 */
import { Redis } from "@upstash/redis/cloudflare";
import type { Broker } from "../broker.ts";
import { getBroker } from "../global_broker.ts";
import { Push } from "../push/push.ts";
import { restCredentials, type RestEnv } from "../redis/from_env.ts";

export type { RestEnv };
import { tick, type TickOptions, type TickReport } from "../tick.ts";

/**
 * Creates an `@upstash/redis/cloudflare` client from the Worker's `env` bindings
 * `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN`.
 *
 * @example Inside a Worker's fetch handler
 * ```ts
 * import { redisFromEnv } from "@skiff/skiff/cloudflare";
 *
 * const env = { UPSTASH_REDIS_REST_URL: "https://example.upstash.io", UPSTASH_REDIS_REST_TOKEN: "t" };
 * const redis = redisFromEnv(env);
 * console.assert(typeof redis.get === "function");
 * ```
 *
 * @param env The Worker's bindings, typed as a record or as an `interface Bindings`.
 * @returns A client for the REST endpoint.
 * @throws {TypeError} When a binding is missing; the message names it, never its value.
 */
export function redisFromEnv(env: RestEnv): Redis {
  const { url, token } = restCredentials(env, "skiff/cloudflare");
  return new Redis({ url, token, enableTelemetry: false });
}

/** The part of Cloudflare's `ScheduledController` a tick reads. */
export interface ScheduledControllerLike {
  /** The cron expression that fired. */
  readonly cron: string;
  /** When the event was due, in milliseconds since the epoch. */
  readonly scheduledTime: number;
}

/** The part of Cloudflare's `ExecutionContext` a tick uses. */
export interface ExecutionContextLike {
  /** Keeps the Worker alive until a promise settles. */
  waitUntil(promise: Promise<unknown>): void;
}

/** Options of {@linkcode scheduledHandler}. */
export interface ScheduledHandlerOptions<Env> extends Omit<TickOptions, "push" | "waitUntil"> {
  /** The broker, made from the Worker's bindings (default: `getBroker()`). */
  broker?: (env: Env) => Broker | Promise<Broker>;
  /** Fan out through this `Push`, made from the bindings, instead of processing inline. */
  push?: (env: Env) => Push;
  /** Called with each tick's report (to log it, say). */
  onTick?: (report: TickReport, controller: ScheduledControllerLike) => void;
}

/**
 * Makes a Cloudflare `scheduled` handler that runs `tick()` on each cron trigger: fires
 * schedules, promotes due delays, recovers expired leases and drains ready messages within
 * the budget. Pushes started meanwhile (by actors that send) are handed to `waitUntil`. A
 * failed tick (Redis unreachable) rejects, so the event shows as failed; nothing is lost.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 *
 * const broker = new MemoryBroker();
 * const queue = `q-${crypto.randomUUID()}`;
 * const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
 * await task.send();
 * const scheduled = scheduledHandler({ broker: () => broker, queues: [queue] });
 * await scheduled({ cron: "* * * * *", scheduledTime: Date.now() }, {}, { waitUntil() {} });
 * assert.equal((await broker.stats(queue)).ready, 0);
 * ```
 *
 * @param options The broker from `env`, and the tick's options.
 * @returns A handler for the Worker's `scheduled` export.
 * @throws {TypeError} On an invalid queue name (when the handler runs).
 * @throws {RangeError} On a limit that is not a positive integer (when the handler runs).
 */
export function scheduledHandler<Env = Record<string, unknown>>(
  options: ScheduledHandlerOptions<Env> = {},
): (controller: ScheduledControllerLike, env: Env, ctx: ExecutionContextLike) => Promise<void> {
  const { broker: brokerFor, push, onTick, ...tickOptions } = options;
  return async (controller, env, ctx) => {
    const broker = brokerFor ? await brokerFor(env) : getBroker();
    try {
      const report = await tick(broker, {
        ...tickOptions,
        push: push?.(env),
        waitUntil: (promise) => ctx.waitUntil(promise),
      });
      onTick?.(report, controller);
    } finally {
      for (const middleware of broker.middleware) {
        if (middleware instanceof Push) ctx.waitUntil(middleware.flush());
      }
    }
  };
}
