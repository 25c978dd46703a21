/**
 * The dashboard: a Hono app that shows the queues and lets an operator requeue or purge
 * dead letters. See `dashboardApp()`.
 *
 * @module
 */
import { type Context, type Env, Hono } from "hono";
import type { Broker } from "../broker.ts";
import { NAME_PATTERN } from "../_util.ts";
import { getBroker } from "../global_broker.ts";
import { actorNames, getActor } from "../registry.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { authorized, checkAuth, sameOrigin } from "./_auth.ts";
import { renderPage } from "./_html.ts";
import { readView } from "./_read.ts";
import type { DashboardAuth, DashboardOptions, PerRequest } from "./options.ts";
import { requeueAll } from "../brokers/_requeue_all.ts";

/** The headers of every answer: no caching, no framing, no script, forms only to itself. */
const HEADERS = {
  "cache-control": "no-store",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  // Not "no-referrer": under it Chromium sends "Origin: null" with the page's own form posts.
  "referrer-policy": "same-origin",
};

/** What the note after an action says (see the redirect of the actions). */
const NOTE = /^(Requeued|Purged) \d+ dead letters? of [A-Za-z0-9_.:@\/-]{1,200}$/;

/**
 * Creates the dashboard, a Hono app to mount beside `workerApp()` (`app.route("/ops",
 * dashboardApp(...))`) on any platform: the queues with their counts and recent throughput
 * (when the broker counts it: its `throughput` option), the messages in flight with their
 * lease and attempt, the dead letters with their reason (arguments
 * hidden unless `showArguments`), requeue and purge buttons, and the schedules with their
 * last and next slot. Server-rendered HTML without script.
 *
 * - `GET /`: the page. Its reads are bounded: per queue 4 commands for the counts, 1
 *   script call (4 commands) for a page of dead letters, 1 script call (2 commands) for
 *   the leased messages on an `UpstashBroker`, 1 `MGET` for the throughput when the
 *   broker counts it; 1 script call and 1 `GET` per schedule.
 * - `POST /requeue`, `POST /purge`, form fields `queue` and `id` (or `all=1`; purging all
 *   also needs `confirm=1`): then a redirect (303) back to the page.
 *
 * Every request must carry the credentials of `auth` (401 otherwise, with no Redis
 * command); the page never contains them. Actions must come from the page itself: a
 * POST whose `Origin` is another site's, or that has none, is refused (403).
 *
 * @example Basic auth, mounted under a prefix
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { MemoryBroker } from "@skiff/skiff";
 * import { dashboardApp } from "@skiff/skiff/dashboard";
 *
 * const auth = { basic: { username: "ops", password: "a-password-of-16+" } };
 * const app = new Hono().route("/ops", dashboardApp({ broker: new MemoryBroker(), auth, queues: ["emails"] }));
 * assert.equal((await app.request("/ops")).status, 401);
 * const page = await app.request("/ops", {
 *   headers: { authorization: `Basic ${btoa("ops:a-password-of-16+")}` },
 * });
 * assert.equal(page.status, 200);
 * assert.match(await page.text(), /emails/);
 * ```
 *
 * @param options The credentials (required), the broker, the schedulers and what to show.
 * @returns A Hono app.
 * @throws {TypeError} When `auth` is missing or malformed (secrets under 16 characters), or
 *   `queues` holds an invalid name.
 * @throws {RangeError} When `limit` is not an integer from 1 to 100, or `throughputMinutes`
 *   not one from 1 to 60.
 */
export function dashboardApp<E extends Env = Env>(options: DashboardOptions<E>): Hono<E> {
  const what = "Cannot create dashboard";
  if (typeof options?.auth !== "function") checkAuth(options?.auth, what);
  const { limit = 20, showArguments = false, scheduleStore } = options;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new RangeError(`${what}: 'limit' must be an integer from 1 to 100, received ${limit}`);
  }
  const minutes = options.throughputMinutes ?? 15;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 60) {
    throw new RangeError(
      `${what}: 'throughputMinutes' must be an integer from 1 to 60, received ${minutes}`,
    );
  }
  if (Array.isArray(options.queues)) checkQueues(options.queues, what);
  const schedulers: readonly Scheduler[] = options.scheduler === undefined
    ? []
    : Array.isArray(options.scheduler)
    ? options.scheduler
    : [options.scheduler as Scheduler];

  const app = new Hono<E>();
  app.use(async (c, next) => {
    const auth = checkAuth(await resolve(options.auth, c), "Cannot serve dashboard");
    if (!(await authorized(c.req.raw, auth))) return refuse(c, auth);
    await next();
    for (const [name, value] of Object.entries(HEADERS)) c.res.headers.set(name, value);
  });

  // "/*" rather than "/": a parent app's strict routing would otherwise answer 404 for
  // the mount point with a trailing slash ("/ops/"), where the redirects lead.
  app.get("/*", async (c) => {
    if (!atMountPoint(c.req.routePath, c.req.path)) return c.text("Not Found", 404);
    const broker = await brokerOf(options.broker, c);
    const queues = await queuesOf(options.queues, schedulers, c);
    const schedules = schedulers.flatMap((s) => s.schedules);
    const view = await readView(broker, queues, schedules, {
      limit,
      minutes,
      now: broker.now(),
      store: scheduleStore,
    });
    const base = new URL(c.req.url).pathname.replace(/\/+$/, "");
    // Only the notes an action writes: a link cannot make the page say something else.
    const note = c.req.query("note");
    const shown = note && NOTE.test(note) ? note : undefined;
    return c.html(renderPage(view, { base, showArguments, note: shown }));
  });

  for (const action of ["requeue", "purge"] as const) {
    app.post(`/${action}`, async (c) => {
      if (!sameOrigin(c.req.raw)) {
        return c.text("Cannot change the queues: the request does not come from this page", 403);
      }
      const form = await c.req.parseBody();
      const queue = String(form.queue ?? "");
      const id = typeof form.id === "string" ? form.id : undefined;
      const all = form.all === "1";
      if (!NAME_PATTERN.test(queue) || (id === undefined) === !all || id === "") {
        return c.text(`Cannot ${action}: the form needs a valid 'queue' and an 'id' or all=1`, 400);
      }
      if (action === "purge" && all && form.confirm !== "1") {
        return c.text("Cannot purge: tick the box to confirm purging every dead letter", 400);
      }
      const queues = await queuesOf(options.queues, schedulers, c);
      if (!queues.includes(queue)) {
        return c.text(`Cannot ${action}: the dashboard does not show that queue`, 400);
      }
      const broker = await brokerOf(options.broker, c);
      const count = action === "purge"
        ? await broker.purgeDead(queue, all ? {} : { ids: [id!] })
        : all
        ? await requeueAll(broker, queue)
        : await broker.requeue(queue, [id!]);
      const verb = action === "purge" ? "Purged" : "Requeued";
      const note = `${verb} ${count} dead letter${count === 1 ? "" : "s"} of ${queue}`;
      const base = new URL(c.req.url).pathname.replace(new RegExp(`/${action}/*$`), "");
      return c.redirect(`${base}/?note=${encodeURIComponent(note)}`, 303);
    });
  }
  return app;
}

/** Whether a path is the mount point itself (what "*" of the route path matched is empty). */
function atMountPoint(routePath: string, path: string): boolean {
  const segments = (p: string) => p.split("/").filter(Boolean).length;
  return segments(path) === segments(routePath.replace(/\/?\*$/, ""));
}

async function resolve<T, E extends Env>(value: PerRequest<T, E>, c: Context<E>): Promise<T> {
  return typeof value === "function"
    ? await (value as (c: Context<E>) => T | Promise<T>)(c)
    : value;
}

async function brokerOf<E extends Env>(
  broker: PerRequest<Broker, E> | undefined,
  c: Context<E>,
): Promise<Broker> {
  return broker === undefined ? getBroker() : await resolve(broker, c);
}

async function queuesOf<E extends Env>(
  queues: PerRequest<readonly string[], E> | undefined,
  schedulers: readonly Scheduler[],
  c: Context<E>,
): Promise<string[]> {
  if (queues !== undefined) return checkQueues(await resolve(queues, c), "Cannot serve dashboard");
  const names = new Set(actorNames().map((name) => getActor(name)!.queue));
  for (const s of schedulers) for (const schedule of s.schedules) names.add(schedule.message.queue);
  return [...names].sort();
}

function checkQueues(queues: readonly unknown[], what: string): string[] {
  const bad = queues.find((q) => typeof q !== "string" || !NAME_PATTERN.test(q));
  if (!Array.isArray(queues) || bad !== undefined) {
    throw new TypeError(
      `${what}: 'queues' must be queue names (1 to 200 of A-Z a-z 0-9 _ . : @ / -)`,
    );
  }
  return [...queues] as string[];
}

function refuse(c: Context, auth: DashboardAuth): Response {
  const headers: Record<string, string> = { "cache-control": "no-store" };
  if ("basic" in auth) headers["www-authenticate"] = 'Basic realm="skiff", charset="UTF-8"';
  return c.text("Unauthorized", 401, headers);
}
