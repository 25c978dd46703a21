/**
 * A round trip through `skiff local`: the same `@upstash/redis` calls you would make
 * against Upstash, served by a local redis-server. Run by `scripts/demo.sh`, or by hand:
 *
 * ```sh
 * UPSTASH_REDIS_REST_URL=http://127.0.0.1:8079 UPSTASH_REDIS_REST_TOKEN=dev \
 *   deno run -A examples/local_roundtrip.ts
 * ```
 *
 * @module
 */
import process from "node:process";
import { Redis } from "@upstash/redis";
import { Script, VERSION } from "../mod.ts";

const redis = new Redis({
  url: process.env.UPSTASH_REDIS_REST_URL ?? "http://127.0.0.1:8079",
  token: process.env.UPSTASH_REDIS_REST_TOKEN ?? "dev",
  enableTelemetry: false,
});
const prefix = `demo:${crypto.randomUUID().slice(0, 8)}:`;

console.log(`skiff ${VERSION}: talking to Redis over the Upstash REST protocol`);

await redis.set(`${prefix}greeting`, "hello from skiff");
console.log(`  SET + GET        -> ${await redis.get(`${prefix}greeting`)}`);

const batch = redis.pipeline();
batch.incr(`${prefix}count`).incr(`${prefix}count`).hset(`${prefix}job`, { state: "ready" });
console.log(`  one pipeline     -> ${JSON.stringify(await batch.exec())}`);

// A Lua script with the Upstash-only flag: the local server strips it for stock Redis.
const claim = new Script<[string, number]>(
  "claim",
  `#!lua flags=allow-key-locking
local n = redis.call("INCR", KEYS[1])
redis.call("HSET", KEYS[2], "state", "leased", "attempt", n)
return {redis.call("HGET", KEYS[2], "state"), n}`,
);
const [state, attempt] = await claim.run(redis, [`${prefix}attempts`, `${prefix}job`], []);
console.log(`  Lua (EVALSHA)    -> job is ${state}, attempt ${attempt}`);

await redis.del(`${prefix}greeting`, `${prefix}count`, `${prefix}job`, `${prefix}attempts`);
console.log("done: every call above was one HTTP request to the local server.");
