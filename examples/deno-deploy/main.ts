/**
 * An existing Hono app on Deno Deploy with skiff added:
 *
 * - `POST /api/signup` sends a message; the `Push` middleware pushes it to the app's own
 *   `/skiff/messages`, where `workerApp()` runs it.
 * - `Deno.cron` ticks every minute through `cronTick()`: fires the schedules declared below,
 *   promotes delayed messages, recovers expired leases and drains what no push delivered.
 * - `GET /skiff/tick` with `Authorization: Bearer $CRON_SECRET` ticks too, for an outside
 *   cron service (optional).
 *
 * Run locally: `deno task dev` (see README.md).
 *
 * @module
 */
import { Hono } from "hono";
import { Push, Scheduler, setBroker, UpstashBroker } from "@skiff/skiff";
import { cronTick, redisFromEnv } from "@skiff/skiff/deno";
import { workerApp } from "@skiff/skiff/hono";
import { purgeExpired, sendWelcome } from "./tasks.ts";

/** Reads a required environment variable; the error names it, never a value. */
function required(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`Cannot start: set the environment variable ${name}`);
  return value;
}

const QUEUES = ["signup", "maintenance"];
const signingKey = required("SKIFF_SIGNING_KEY");

// On Deno Deploy the environment is there at start, so one broker serves every request.
const broker = new UpstashBroker({
  redis: redisFromEnv(),
  namespace: Deno.env.get("SKIFF_NAMESPACE"),
});
broker.addMiddleware(new Push({ url: required("SKIFF_PUSH_URL"), signingKey }));
setBroker(broker);

const scheduler = new Scheduler();
scheduler.schedule("purge-expired", "* * * * *", purgeExpired.message());

/** The app as it was before skiff: its own routes. */
const app = new Hono();
app.get("/", (c) => c.text("ok"));
app.post("/api/signup", async (c) => {
  const { userId } = await c.req.json<{ userId: number }>();
  const message = await sendWelcome.send(userId);
  return c.json({ queued: message.id }, 202);
});

// skiff's endpoint, mounted into it.
app.route(
  "/skiff",
  workerApp({
    signingKeys: [signingKey],
    cronSecret: Deno.env.get("CRON_SECRET"),
    tick: { queues: QUEUES },
    scheduler,
  }),
);

// Deno Deploy picks up only the cron jobs registered at top level before any server starts.
cronTick({ name: "skiff-tick", schedule: "* * * * *", queues: QUEUES, scheduler });
Deno.serve({ port: Number(Deno.env.get("PORT") ?? 8000) }, app.fetch);
