/**
 * A Cloudflare Worker for the workerd smoke suite: skiff from source and the Workers
 * build of `@upstash/redis`, bundled by esbuild as wrangler would, run by Miniflare with
 * no compatibility flags. The worker does the Redis work itself, by `fetch` to the local
 * server; each route answers JSON (`{ ok: true, ... }` or `{ ok: false, error }`).
 *
 * @module
 */
import { Redis } from "@upstash/redis/cloudflare";
import * as skiff from "../../../mod.ts";
import { checkActors, checkRoundTrip, checkScript, cleanup } from "../smoke.mjs";

/** The worker's bindings. */
export interface Env {
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
}

type Check = (redis: Redis, prefix: string) => Promise<unknown>;

const ROUTES: Record<string, Check> = {
  "/ping": (redis) => redis.ping(),
  "/version": () => Promise.resolve(skiff.VERSION),
  "/round-trip": checkRoundTrip,
  "/script": (redis, prefix) => checkScript(skiff, redis, prefix),
  "/actors": (_redis, prefix) => checkActors(skiff, new skiff.MemoryBroker(), prefix),
  "/actors-redis": (redis, prefix) =>
    checkActors(
      skiff,
      new skiff.UpstashBroker({ redis, namespace: `${prefix}ns` }),
      `${prefix}redis:`,
    ),
  "/cleanup": cleanup,
};

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const check = ROUTES[url.pathname];
    if (!check) return Response.json({ ok: false, error: "no such route" }, { status: 404 });
    try {
      const redis = Redis.fromEnv(env, { enableTelemetry: false });
      const result = await check(redis, url.searchParams.get("prefix") ?? "");
      return Response.json({ ok: true, result });
    } catch (error) {
      return Response.json({ ok: false, error: String(error) }, { status: 500 });
    }
  },
};
