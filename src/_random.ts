/**
 * Random bytes for ids; private to skiff. Drawn from a pool refilled 4 KiB at a time: one
 * `crypto.getRandomValues` call per ~250 ids in place of one each, which cost about 9 µs a
 * call under Node (5% of a worker's CPU on no-op messages). The pool fills on first use,
 * never at module load (Cloudflare Workers refuse randomness at global scope).
 *
 * @module
 */

const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let at = 0;

/**
 * `n` fresh random bytes (at most 4,096), for the caller to use at once: the view is into
 * the pool, and the pool is not reused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomBytes } from "./_random.ts";
 *
 * const a = randomBytes(16);
 * const b = randomBytes(16);
 * assert.equal(a.length, 16);
 * assert.notDeepEqual(a, b);
 * ```
 */
export function randomBytes(n: number): Uint8Array {
  if (at + n > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(Math.max(POOL_BYTES, n)));
    at = 0;
  }
  return pool.subarray(at, at += n);
}
