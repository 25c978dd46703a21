import assert from "node:assert/strict";
import { redisFromEnv } from "../src/cloudflare/mod.ts";

// What a Worker's `env` looks like when the user types it as Cloudflare's docs do.
interface Bindings {
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  SKIFF_SIGNING_KEY: string;
  CACHE: { get(key: string): Promise<string | null> };
}

Deno.test("redisFromEnv: an env typed as an interface Bindings is accepted", () => {
  const env: Bindings = {
    UPSTASH_REDIS_REST_URL: "https://example.upstash.io",
    UPSTASH_REDIS_REST_TOKEN: "token-not-shown",
    SKIFF_SIGNING_KEY: "k",
    CACHE: { get: () => Promise.resolve(null) },
  };
  const redis = redisFromEnv(env);
  assert.equal(typeof redis.get, "function");
});

Deno.test("redisFromEnv: a missing binding is named, and no value is shown", () => {
  const env: Partial<Bindings> = { UPSTASH_REDIS_REST_TOKEN: "token-not-shown" };
  assert.throws(() => redisFromEnv(env), (error: Error) => {
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /UPSTASH_REDIS_REST_URL is not set/);
    assert.doesNotMatch(error.message, /token-not-shown/);
    return true;
  });
});
