/**
 * `skiff/hono`: the worker endpoint as a Hono app, mountable under any prefix and
 * deployable as is on Cloudflare Workers, Deno Deploy, Bun and Node. Today it answers
 * `GET /health`; push delivery (`POST /messages`) and ticks (`POST /tick`) build on it.
 *
 * ```ts ignore
 * // Deno
 * import { workerApp } from "@skiff/skiff/hono";
 * // Node and Bun
 * import { workerApp } from "skiff/hono";
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import { VERSION } from "../version.ts";

/**
 * Creates the worker endpoint.
 *
 * @example Ask it for its health
 * ```ts
 * import { workerApp } from "@skiff/skiff/hono";
 *
 * const res = await workerApp().request("/health");
 * console.assert(res.status === 200);
 * ```
 *
 * @returns A Hono app whose every answer is JSON.
 */
export function workerApp(): Hono {
  const app = new Hono();
  app.get("/health", (c) => c.json({ ok: true, version: VERSION }));
  app.notFound((c) => c.json({ error: `No route for ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
