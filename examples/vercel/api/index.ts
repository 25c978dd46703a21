/**
 * One Vercel Function for the whole API (vercel.json rewrites `/api/*` here): a Hono app
 * with skiff's endpoint mounted under `/api/skiff`.
 *
 * - `POST /api/signup` sends a message; the `Push` middleware pushes it to
 *   `/api/skiff/messages`, which runs it in an invocation of its own. The push is handed to
 *   `waitUntil` from `@vercel/functions`, so it outlives the response.
 * - Vercel Cron calls `GET /api/skiff/tick` with `Authorization: Bearer $CRON_SECRET`:
 *   fires the schedules declared below, promotes delayed messages, recovers expired leases
 *   and drains what no push delivered.
 *
 * @module
 */
import process from "node:process";
import { waitUntil } from "@vercel/functions";
import { Redis } from "@upstash/redis";
import { Hono } from "hono";
import { Push, Scheduler, setBroker, UpstashBroker } from "skiff";
import { workerApp } from "skiff/hono";
import { purgeExpired, sendWelcome } from "../lib/tasks.js";

/** Longest run of one invocation, in seconds (Vercel's `maxDuration`). */
export const maxDuration = 60;

/** Reads a required environment variable; the error names it, never a value. */
function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Cannot start: set the environment variable ${name}`);
  return value;
}

const QUEUES = ["signup", "maintenance"];
const signingKey = required("SKIFF_SIGNING_KEY");

const broker = new UpstashBroker({
  redis: Redis.fromEnv({ enableTelemetry: false }),
  namespace: process.env.SKIFF_NAMESPACE,
});
broker.addMiddleware(new Push({ url: required("SKIFF_PUSH_URL"), signingKey, waitUntil }));
setBroker(broker);

const scheduler = new Scheduler();
scheduler.schedule("purge-expired", "* * * * *", purgeExpired.message());

const app = new Hono().basePath("/api");
app.post("/signup", async (c) => {
  const { userId } = await c.req.json<{ userId: number }>();
  const message = await sendWelcome.send(userId);
  return c.json({ queued: message.id }, 202);
});
app.route(
  "/skiff",
  workerApp({
    signingKeys: [signingKey],
    cronSecret: process.env.CRON_SECRET,
    tick: { queues: QUEUES },
    scheduler,
    // Start no message after 45 s, well within maxDuration.
    budgetMs: 45_000,
  }),
);

/**
 * Vercel's Web handler. Hono is given `waitUntil` as its execution context, so that
 * `workerApp()` hands the pushes it starts (pipelines, fan-out) to it as well.
 */
function handler(request: Request): Promise<Response> {
  return Promise.resolve(
    app.fetch(request, undefined, { waitUntil, passThroughOnException() {}, props: {} }),
  );
}

export const GET = handler;
export const POST = handler;
