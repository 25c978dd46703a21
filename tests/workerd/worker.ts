/**
 * A Cloudflare Worker for the workerd push suite: `workerApp()` mounted under `/skiff`
 * with an `UpstashBroker` made from the request's `env`, and a `scheduled` handler that
 * ticks and fires the seed's `print_current_date` schedule. Bundled by esbuild as wrangler would, run by Miniflare with no compatibility flags.
 *
 * @module
 */
import { Hono } from "hono";
import { Redis } from "@upstash/redis/cloudflare";
import { UpstashBroker } from "../../src/brokers/upstash.ts";
import { scheduledHandler } from "../../src/cloudflare/mod.ts";
import { workerApp } from "../../src/hono/mod.ts";
import { RedisReplayStore } from "../../src/push/replay.ts";
import { Scheduler } from "../../src/scheduler/scheduler.ts";
import { Push } from "../../src/push/push.ts";
import { printCurrentDate, QUEUE, useRedis } from "./actors.ts";

/** The worker's bindings. */
export interface Env {
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  SKIFF_SIGNING_KEY: string;
  SKIFF_NAMESPACE: string;
}

function brokerFor(env: Env): UpstashBroker {
  const redis = Redis.fromEnv(env, { enableTelemetry: false });
  useRedis(redis);
  const broker = new UpstashBroker({ redis, namespace: env.SKIFF_NAMESPACE });
  // Pipeline steps continue by push; here the worker pushes to itself in process, where a
  // deployment would give its public URL.
  broker.addMiddleware(
    new Push({
      url: "https://worker.internal/skiff/messages",
      signingKey: env.SKIFF_SIGNING_KEY,
      fetch: (request) => Promise.resolve(app.fetch(request, env)),
    }),
  );
  return broker;
}

/** Declared at module top level, with no broker: each tick passes the one it ticks. */
const scheduler = new Scheduler();
scheduler.schedule("print-current-date", "* * * * *", printCurrentDate.message());

const app = new Hono<{ Bindings: Env }>();
app.route(
  "/skiff",
  workerApp<{ Bindings: Env }>({
    signingKeys: (c) => [c.env.SKIFF_SIGNING_KEY],
    broker: (c) => brokerFor(c.env),
    // UpstashBroker does not expose its client: remember signatures with a client of ours.
    replayStore: (_broker, c) =>
      new RedisReplayStore({
        redis: Redis.fromEnv(c.env, { enableTelemetry: false }),
        prefix: `${c.env.SKIFF_NAMESPACE}:sig:`,
      }),
    tick: { queues: [QUEUE] },
  }),
);

export default {
  fetch: app.fetch,
  scheduled: scheduledHandler<Env>({ broker: brokerFor, queues: [QUEUE], scheduler }),
};
