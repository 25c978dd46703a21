/**
 * The dashboard as a Cloudflare Worker, for the workerd dashboard suite: `dashboardApp()`
 * with its broker, password and queue taken from the bindings at each request, as on
 * Cloudflare where secrets arrive with the request. Bundled by esbuild as wrangler would,
 * run by Miniflare with no compatibility flags.
 *
 * @module
 */
import { Redis } from "@upstash/redis/cloudflare";
import { UpstashBroker } from "../../src/brokers/upstash.ts";
import { dashboardApp } from "../../src/dashboard/mod.ts";

/** The worker's bindings. */
export interface Env {
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  DASHBOARD_PASSWORD: string;
  SKIFF_NAMESPACE: string;
  SKIFF_QUEUE: string;
}

export default dashboardApp<{ Bindings: Env }>({
  auth: (c) => ({ basic: { username: "ops", password: c.env.DASHBOARD_PASSWORD } }),
  broker: (c) =>
    new UpstashBroker({
      redis: Redis.fromEnv(c.env, { enableTelemetry: false }),
      namespace: c.env.SKIFF_NAMESPACE,
    }),
  queues: (c) => [c.env.SKIFF_QUEUE],
});
