import process from "node:process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Redis } from "@upstash/redis";
import type { Broker } from "../broker.ts";
import { UpstashBroker } from "../brokers/upstash.ts";
import { restCredentials } from "../redis/from_env.ts";

/** A URL to import: specifiers with a scheme as they are, paths from the working directory. */
export function moduleUrl(specifier: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(specifier)
    ? specifier
    : pathToFileURL(resolve(process.cwd(), specifier)).href;
}

/**
 * An `UpstashBroker` when the environment names a REST endpoint, with a probe that fails
 * fast (no client retries) when Redis cannot be reached.
 *
 * @param command Who asks, for the error message.
 */
export function redisBroker(
  command: string,
): { broker: Broker; probe: () => Promise<unknown> } | undefined {
  if (!process.env.UPSTASH_REDIS_REST_URL) return undefined;
  const { url, token } = restCredentials(process.env, command);
  return {
    broker: new UpstashBroker({ redis: new Redis({ url, token, enableTelemetry: false }) }),
    probe: () => new Redis({ url, token, enableTelemetry: false, retry: false }).ping(),
  };
}
