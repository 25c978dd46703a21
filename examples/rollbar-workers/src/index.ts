/**
 * A Cloudflare Worker whose actor failures are reported to Rollbar:
 *
 * - `POST /api/charge` sends a message from a request handler; the `Push` middleware pushes
 *   it to `/skiff/messages` through the `SELF` service binding, where `workerApp()` runs it.
 * - Each failed attempt is reported by the `RollbarMiddleware` of the broker, with the
 *   message id, actor, queue and attempt.
 * - `scheduled` (the cron trigger of wrangler.jsonc) ticks: it runs the retries that are due,
 *   recovers expired leases and drains what no push delivered.
 *
 * @module
 */
import { Hono } from "hono";
import Rollbar from "rollbar";
import { Push, UpstashBroker } from "skiff";
import { type ExecutionContextLike, redisFromEnv, scheduledHandler } from "skiff/cloudflare";
import { workerApp } from "skiff/hono";
import { RollbarMiddleware } from "./rollbar_middleware.ts";
import { chargeCard } from "./tasks.ts";

/** The Worker's bindings: secrets set with `wrangler secret put`, vars, the service binding. */
export type Bindings = {
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  SKIFF_SIGNING_KEY: string;
  /** The Rollbar project's `post_server_item` access token. */
  ROLLBAR_ACCESS_TOKEN: string;
  /** Optional: the environment the items are filed under (default `production`). */
  ROLLBAR_ENVIRONMENT?: string;
  /** Optional: where items are posted (default Rollbar's own API). */
  ROLLBAR_ENDPOINT?: string;
  /** Optional: keeps this app's keys apart from other apps on the same Redis. */
  SKIFF_NAMESPACE?: string;
  /** This Worker itself (`services` in wrangler.jsonc): pushes go through it. */
  SELF: { fetch(request: Request): Promise<Response> };
};

const QUEUES = ["payments"];

let rollbar: Rollbar | undefined;

/** The isolate's Rollbar client, made on first use: its settings arrive with `env`. */
function rollbarFor(env: Bindings): Rollbar {
  rollbar ??= new Rollbar({
    accessToken: env.ROLLBAR_ACCESS_TOKEN,
    environment: env.ROLLBAR_ENVIRONMENT ?? "production",
    ...(env.ROLLBAR_ENDPOINT ? { endpoint: env.ROLLBAR_ENDPOINT } : {}),
    // Workers run Rollbar's browser build, which posts items with fetch. Its automatic
    // capture adds event listeners that Workers refuse, and there are no globals to watch:
    // the middleware reports what fails.
    autoInstrument: false,
    captureUncaught: false,
    captureUnhandledRejections: false,
  });
  return rollbar;
}

/**
 * Builds the broker from one request's bindings (cheap: nothing is sent to Redis). With
 * `ctx`, pushes are handed to its `waitUntil`, so they outlive the response.
 */
function brokerFor(env: Bindings, ctx?: ExecutionContextLike): UpstashBroker {
  const broker = new UpstashBroker({ redis: redisFromEnv(env), namespace: env.SKIFF_NAMESPACE });
  broker.addMiddleware(new RollbarMiddleware(rollbarFor(env)));
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

const app = new Hono<{ Bindings: Bindings }>();

app.post("/api/charge", async (c) => {
  const { orderId, cardToken } = await c.req.json<{ orderId: number; cardToken: string }>();
  const broker = brokerFor(c.env, c.executionCtx);
  const [message] = await broker.enqueue([chargeCard.message(orderId, cardToken)]);
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
  scheduled: scheduledHandler<Bindings>({ broker: brokerFor, queues: QUEUES }),
};
