/**
 * A Cloudflare Worker that is both the app and its skiff worker:
 *
 * - `POST /signup` sends a message from a request handler. Bindings (secrets) arrive with
 *   each request in `env`, so a middleware builds the broker from `env` and the handler
 *   sends through it; the `Push` middleware pushes the new message to `/skiff/messages`
 *   through the `SELF` service binding, so it runs in an invocation of its own.
 * - `/skiff/*` is the worker endpoint, `workerApp()` from `skiff/hono`.
 * - `scheduled` (the cron trigger of wrangler.jsonc) ticks: it fires the schedules declared
 *   below, promotes delayed messages, recovers expired leases and drains what no push
 *   delivered.
 *
 * @module
 */
import { Hono } from "hono";
import { Push, Scheduler, UpstashBroker } from "skiff";
import { type ExecutionContextLike, redisFromEnv, scheduledHandler } from "skiff/cloudflare";
import { workerApp } from "skiff/hono";
import { purgeExpired, sendWelcome } from "./tasks.ts";

/** The Worker's bindings: secrets set with `wrangler secret put`, and the service binding. */
export type Bindings = {
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  SKIFF_SIGNING_KEY: string;
  /** Optional: keeps this app's keys apart from other apps on the same Redis. */
  SKIFF_NAMESPACE?: string;
  /** This Worker itself (`services` in wrangler.jsonc): pushes go through it. */
  SELF: { fetch(request: Request): Promise<Response> };
};

/** The queues this Worker runs. */
const QUEUES = ["signup", "maintenance"];

/**
 * Builds the broker from one request's bindings (cheap: nothing is sent to Redis). With
 * `ctx`, pushes are handed to its `waitUntil`, so they outlive the response; `workerApp()`
 * and `scheduledHandler()` do that themselves.
 */
function brokerFor(env: Bindings, ctx?: ExecutionContextLike): UpstashBroker {
  const broker = new UpstashBroker({
    redis: redisFromEnv(env),
    namespace: env.SKIFF_NAMESPACE,
  });
  broker.addMiddleware(
    new Push({
      // The host is not used: the service binding delivers to this Worker.
      url: "https://self/skiff/messages",
      signingKey: env.SKIFF_SIGNING_KEY,
      fetch: (request) => env.SELF.fetch(request),
      waitUntil: ctx && ((promise) => ctx.waitUntil(promise)),
    }),
  );
  return broker;
}

/** Declared once, at top level; each tick passes the broker it ticks. */
const scheduler = new Scheduler();
scheduler.schedule("purge-expired", "* * * * *", purgeExpired.message());

const app = new Hono<
  { Bindings: Bindings; Variables: { broker: UpstashBroker } }
>();

app.use("/api/*", async (c, next) => {
  c.set("broker", brokerFor(c.env, c.executionCtx));
  await next();
});

app.post("/api/signup", async (c) => {
  const { userId } = await c.req.json<{ userId: number }>();
  const [message] = await c.var.broker.enqueue([sendWelcome.message(userId)]);
  return c.json({ queued: message.id }, 202);
});

app.route(
  "/skiff",
  workerApp<{ Bindings: Bindings }>({
    signingKeys: (c) => [c.env.SKIFF_SIGNING_KEY],
    broker: (c) => brokerFor(c.env),
    tick: { queues: QUEUES },
  }),
);

export default {
  fetch: app.fetch,
  scheduled: scheduledHandler<Bindings>({
    broker: brokerFor,
    queues: QUEUES,
    scheduler,
  }),
};
