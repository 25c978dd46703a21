/**
 * skiff: an edge-first task queue for TypeScript, with Dramatiq's model (actors,
 * messages, retries, results, pipelines, groups, rate limiters, schedules) kept in Redis
 * through the Upstash REST protocol. The core uses Web APIs only, so it runs wherever
 * `fetch` runs.
 *
 * ```ts ignore
 * // Deno
 * import { VERSION } from "@skiff/skiff";
 * // Node and Bun
 * import { VERSION } from "skiff";
 * ```
 *
 * @module
 */
export { VERSION } from "./src/version.ts";
export type { RedisClient } from "./src/redis/client.ts";
export { Script, type ScriptArg } from "./src/redis/script.ts";
