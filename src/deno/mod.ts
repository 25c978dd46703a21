/**
 * `skiff/deno`: glue for Deno and Deno Deploy.
 *
 * ```ts ignore
 * import { redisFromEnv } from "@skiff/skiff/deno";
 * ```
 *
 * @module
 */
import { Redis } from "@upstash/redis";
import { restCredentials } from "../redis/from_env.ts";

interface DenoEnv {
  env: { toObject(): Record<string, string> };
}

/**
 * Creates an `@upstash/redis` client from `UPSTASH_REDIS_REST_URL` and
 * `UPSTASH_REDIS_REST_TOKEN` in Deno's environment (needs `--allow-env`).
 *
 * @example
 * ```ts ignore
 * import { redisFromEnv } from "@skiff/skiff/deno";
 *
 * const redis = redisFromEnv();
 * await redis.ping();
 * ```
 *
 * @returns A client for the REST endpoint.
 * @throws {TypeError} When a variable is missing; the message names it.
 */
export function redisFromEnv(): Redis {
  const deno = (globalThis as { Deno?: DenoEnv }).Deno;
  if (!deno) throw new TypeError("Cannot create Redis client: skiff/deno runs on Deno only");
  const { url, token } = restCredentials(deno.env.toObject(), "skiff/deno");
  return new Redis({ url, token, enableTelemetry: false });
}
