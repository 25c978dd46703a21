/**
 * `skiff/cloudflare`: glue for Cloudflare Workers, where secrets arrive per request in
 * `env` rather than at import time.
 *
 * ```ts ignore
 * import { redisFromEnv } from "skiff/cloudflare";
 * ```
 *
 * @module
 */
import { Redis } from "@upstash/redis/cloudflare";
import { restCredentials } from "../redis/from_env.ts";

/**
 * Creates an `@upstash/redis/cloudflare` client from the Worker's `env` bindings
 * `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN`.
 *
 * @example Inside a Worker's fetch handler
 * ```ts
 * import { redisFromEnv } from "@skiff/skiff/cloudflare";
 *
 * const env = { UPSTASH_REDIS_REST_URL: "https://example.upstash.io", UPSTASH_REDIS_REST_TOKEN: "t" };
 * const redis = redisFromEnv(env);
 * console.assert(typeof redis.get === "function");
 * ```
 *
 * @param env The Worker's bindings.
 * @returns A client for the REST endpoint.
 * @throws {TypeError} When a binding is missing; the message names it, never its value.
 */
export function redisFromEnv(env: Readonly<Record<string, unknown>>): Redis {
  const { url, token } = restCredentials(env, "skiff/cloudflare");
  return new Redis({ url, token, enableTelemetry: false });
}
