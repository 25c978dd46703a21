/**
 * `skiff/hono`: the worker endpoint as a Hono app, mountable under any prefix and
 * deployable as is on Cloudflare Workers, Deno Deploy, Bun, Node (`@hono/node-server`) and
 * Vercel. Messages are pushed to it (`POST /messages`, signed), cron or any caller ticks it
 * (`POST /tick`, signed), and `GET /health` answers without touching Redis.
 *
 * ```ts ignore
 * // Deno
 * import { workerApp } from "@skiff/skiff/hono";
 * // Node and Bun
 * import { workerApp } from "skiff/hono";
 * ```
 *
 * @example Mount it under a prefix, with the broker made per request (Cloudflare)
 * ```ts ignore
 * import { Hono } from "hono";
 * import { UpstashBroker } from "skiff";
 * import { redisFromEnv } from "skiff/cloudflare";
 * import { workerApp } from "skiff/hono";
 *
 * type Bindings = { SKIFF_SIGNING_KEY: string; UPSTASH_REDIS_REST_URL: string; UPSTASH_REDIS_REST_TOKEN: string };
 * const app = new Hono<{ Bindings: Bindings }>();
 * app.route("/skiff", workerApp<{ Bindings: Bindings }>({
 *   signingKeys: (c) => [c.env.SKIFF_SIGNING_KEY],
 *   broker: (c) => new UpstashBroker({ redis: redisFromEnv(c.env) }),
 * }));
 * export default app;
 * ```
 *
 * @module
 */
export { workerApp } from "./app.ts";
export { type PerRequest, type WorkerAppOptions, type WorkerTickOptions } from "./options.ts";
export { keepPushes } from "./keep_pushes.ts";
