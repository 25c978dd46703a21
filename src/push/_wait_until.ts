/** Finding the platform's `waitUntil` without importing anything; private to skiff. */

/** Keeps the platform alive until a promise settles, where the platform can. */
export type WaitUntil = (promise: Promise<unknown>) => void;

interface VercelRequestContext {
  get?: () => { waitUntil?: WaitUntil } | undefined;
}

/**
 * Vercel's `waitUntil` for the request being served, read from the request context Vercel
 * installs on `globalThis` (what `@vercel/functions` reads), or `undefined` elsewhere.
 */
export function vercelWaitUntil(): WaitUntil | undefined {
  const reader = (globalThis as Record<symbol, unknown>)[Symbol.for("@vercel/request-context")] as
    | VercelRequestContext
    | undefined;
  try {
    const waitUntil = reader?.get?.()?.waitUntil;
    return typeof waitUntil === "function" ? (p) => waitUntil(p) : undefined;
  } catch {
    return undefined;
  }
}
