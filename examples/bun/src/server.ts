/**
 * A Hono app on Bun (`Bun.serve`) with skiff's endpoint mounted under `/skiff`:
 *
 * - `POST /api/signup` sends a message; the `Push` middleware pushes it to the server's own
 *   `/skiff/messages`, where `workerApp()` runs it.
 * - A timer ticks every `TICK_EVERY_MS` (default a minute): fires the schedules declared
 *   below, promotes delayed messages, recovers expired leases and drains what no push
 *   delivered. Several servers may tick at once: each slot of a schedule fires once.
 * - `GET /skiff/tick` with `Authorization: Bearer $CRON_SECRET` ticks too (optional).
 *
 * @module
 */
import { Hono } from "hono";
import { Push, Scheduler, setBroker, tick, UpstashBroker } from "skiff";
import { workerApp } from "skiff/hono";
import { Redis } from "@upstash/redis";
import { purgeExpired, sendWelcome } from "./tasks.ts";

/** Reads a required environment variable; the error names it, never a value. */
function required(name: string): string {
  const value = Bun.env[name];
  if (!value) throw new Error(`Cannot start: set the environment variable ${name}`);
  return value;
}

const QUEUES = ["signup", "maintenance"];
const signingKey = required("SKIFF_SIGNING_KEY");

const broker = new UpstashBroker({
  redis: Redis.fromEnv({ enableTelemetry: false }),
  namespace: Bun.env.SKIFF_NAMESPACE,
});
broker.addMiddleware(new Push({ url: required("SKIFF_PUSH_URL"), signingKey }));
setBroker(broker);

const scheduler = new Scheduler();
scheduler.schedule("purge-expired", "* * * * *", purgeExpired.message());

const app = new Hono();
app.post("/api/signup", async (c) => {
  const { userId } = await c.req.json<{ userId: number }>();
  const message = await sendWelcome.send(userId);
  return c.json({ queued: message.id }, 202);
});
app.route(
  "/skiff",
  workerApp({
    signingKeys: [signingKey],
    cronSecret: Bun.env.CRON_SECRET,
    tick: { queues: QUEUES },
    scheduler,
  }),
);

const server = Bun.serve({ port: Number(Bun.env.PORT ?? 3000), fetch: app.fetch });
console.log(`listening on ${server.url}`);

setInterval(async () => {
  try {
    await tick(broker, { queues: QUEUES, scheduler });
  } catch (error) {
    console.error(`tick failed: ${error instanceof Error ? error.name : "error"}`);
  }
}, Number(Bun.env.TICK_EVERY_MS ?? 60_000));
