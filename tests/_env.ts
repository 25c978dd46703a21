/**
 * What every test that needs Redis shares: the private redis-server and local server
 * that `scripts/test.sh` started, and a fresh key prefix per test.
 *
 * @module
 */
import process from "node:process";
import { Redis } from "@upstash/redis";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the tests with scripts/test.sh, which starts Redis`);
  }
  return value;
}

/** The private redis-server the harness started (never a shared one). */
export function testRedisUrl(): string {
  return required("SKIFF_TEST_REDIS_URL");
}

/**
 * A second private redis-server that only the cost tests use, one test at a time, so that
 * `INFO commandstats` counts nothing but the operation measured.
 */
export function costRedisUrl(): string {
  return required("SKIFF_COST_REDIS_URL");
}

/** The local Upstash REST server the harness started through the CLI. */
export function restEnv(): { url: string; token: string } {
  return { url: required("UPSTASH_REDIS_REST_URL"), token: required("UPSTASH_REDIS_REST_TOKEN") };
}

/** An `@upstash/redis` client for the harness's local server. */
export function restClient(): Redis {
  const { url, token } = restEnv();
  return new Redis({ url, token, enableTelemetry: false });
}

/** A key prefix no other test uses. */
export function testPrefix(name: string): string {
  return `test:${name}:${crypto.randomUUID().slice(0, 8)}:`;
}

/** Deletes every key under a prefix (tests only: SCAN is never used on a hot path). */
export async function cleanup(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, { match: `${prefix}*`, count: 500 });
    if (keys.length) await redis.del(...keys);
    cursor = String(next);
  } while (cursor !== "0");
}
