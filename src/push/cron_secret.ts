/**
 * The bearer secret of cron services that cannot sign a request: Vercel Cron sends
 * `Authorization: Bearer $CRON_SECRET`, and so can Netlify, GitHub Actions, cron-job.org or a
 * Kubernetes CronJob.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Compares a request's `Authorization` header with `Bearer <secret>` in constant time, as
 * Vercel Cron and plain cron services send it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bearerMatches } from "./cron_secret.ts";
 *
 * assert.equal(await bearerMatches("Bearer a-cron-secret-value", "a-cron-secret-value"), true);
 * assert.equal(await bearerMatches("bearer a-cron-secret-value", "a-cron-secret-value"), true);
 * assert.equal(await bearerMatches("Bearer wrong", "a-cron-secret-value"), false);
 * assert.equal(await bearerMatches("a-cron-secret-value", "a-cron-secret-value"), false);
 * ```
 *
 * @param header The `Authorization` header's value.
 * @param secret The secret expected.
 * @returns Whether they match.
 */
export async function bearerMatches(header: string | undefined, secret: string): Promise<boolean> {
  // The scheme is case-insensitive (RFC 9110): some cron services send `bearer`.
  const given = header?.match(/^bearer +(.*)$/is)?.[1];
  if (given === undefined) return false;
  // Comparing digests keeps the time independent of where the strings first differ and of
  // the secret's length.
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(secret)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}
