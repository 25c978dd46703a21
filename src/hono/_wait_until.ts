/** The platform's `waitUntil` as Hono sees it; private to skiff. */
import type { Context } from "hono";
import type { Broker } from "../broker.ts";
import { Push } from "../push/push.ts";
import { vercelWaitUntil, type WaitUntil } from "../push/_wait_until.ts";

/**
 * The request's `waitUntil`: Hono's execution context where there is one (Cloudflare; its
 * getter throws elsewhere), else Vercel's, else `undefined` (long-lived servers need none).
 */
export function platformWaitUntil(c: Context): WaitUntil | undefined {
  try {
    const ctx = c.executionCtx;
    if (typeof ctx?.waitUntil === "function") return (promise) => ctx.waitUntil(promise);
  } catch {
    // No ExecutionContext: not Cloudflare.
  }
  return vercelWaitUntil();
}

/**
 * Hands the pushes that a broker's `Push` middleware has in flight (messages sent while
 * handling this request) to the request's `waitUntil`, so that the platform does not stop
 * them when the response is sent.
 */
export function keepPushesAlive(c: Context, broker: Broker): void {
  const pushes = broker.middleware.filter((middleware) => middleware instanceof Push);
  // Looked up only when needed: off Cloudflare, Hono's getter throws (an Error per request).
  const waitUntil = pushes.length === 0 ? undefined : platformWaitUntil(c);
  if (!waitUntil) return;
  for (const push of pushes) waitUntil(push.flush());
}
