/**
 * `skiff/dashboard`: a page to see and steer the queues, as a Hono app mountable beside
 * `workerApp()` on any platform (and served locally by `skiff dashboard`).
 *
 * ```ts ignore
 * // Deno
 * import { dashboardApp } from "@skiff/skiff/dashboard";
 * // Node and Bun
 * import { dashboardApp } from "skiff/dashboard";
 * ```
 *
 * @example Beside the worker endpoint, credentials from the environment (Cloudflare)
 * ```ts ignore
 * import { Hono } from "hono";
 * import { UpstashBroker } from "skiff";
 * import { redisFromEnv } from "skiff/cloudflare";
 * import { dashboardApp } from "skiff/dashboard";
 * import { workerApp } from "skiff/hono";
 *
 * type Bindings = { DASHBOARD_PASSWORD: string; UPSTASH_REDIS_REST_URL: string; UPSTASH_REDIS_REST_TOKEN: string };
 * const broker = (c: { env: Bindings }) => new UpstashBroker({ redis: redisFromEnv(c.env) });
 * const app = new Hono<{ Bindings: Bindings }>();
 * app.route("/skiff", workerApp<{ Bindings: Bindings }>({ broker }));
 * app.route("/ops", dashboardApp<{ Bindings: Bindings }>({
 *   broker,
 *   queues: ["default", "emails"],
 *   auth: (c) => ({ basic: { username: "ops", password: c.env.DASHBOARD_PASSWORD } }),
 * }));
 * export default app;
 * ```
 *
 * @module
 */
export { dashboardApp } from "./app.ts";
export type { DashboardAuth, DashboardOptions, PerRequest } from "./options.ts";
