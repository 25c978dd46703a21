/**
 * A Hono middleware for your own routes that send messages: it hands the pushes they
 * started to the platform's `waitUntil`, so that the platform does not cut them off when
 * the response is sent (Cloudflare's `executionCtx`, Vercel's request context).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { Broker } from "../broker.ts";
import { getBroker } from "../global_broker.ts";
import { keepPushesAlive } from "./_wait_until.ts";

/**
 * Makes a Hono middleware that, after each request, hands the in-flight pushes of the
 * broker's `Push` middleware to the request's `waitUntil`. Where there is no `waitUntil`
 * (long-lived servers), it does nothing: the pushes finish on their own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { MemoryBroker } from "../brokers/memory.ts";
 *
 * const broker = new MemoryBroker();
 * const app = new Hono();
 * app.use(keepPushes(() => broker));
 * app.post("/orders", (c) => c.json({ ok: true }));
 * const res = await app.request("/orders", { method: "POST" });
 * assert.equal(res.status, 200);
 * ```
 *
 * @param broker The broker whose pushes to keep (default `getBroker()` at each request).
 * @returns The middleware.
 */
export function keepPushes(broker: () => Broker = getBroker): MiddlewareHandler {
  return async (c, next) => {
    try {
      await next();
    } finally {
      keepPushesAlive(c, broker());
    }
  };
}
