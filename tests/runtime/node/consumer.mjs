/**
 * A Node TypeScript consumer of the built declarations, type-checked (never run) by
 * scripts/runtime_tests.sh with `tsc --checkJs --module nodenext --moduleResolution nodenext
 * --skipLibCheck false`: every `.d.ts` it reaches in `dist/` must resolve and check.
 *
 * JavaScript with JSDoc rather than `.ts`, and `@ts-types` sending `deno check` to the
 * source (tsc ignores that directive): `deno check tests/` must not wander into dist/,
 * whose `.js` specifiers Deno does not map to `.d.ts`.
 *
 * @module
 */
import { Redis } from "@upstash/redis";
// @ts-types="../../../mod.ts"
import { Script, VERSION } from "skiff";
// @ts-types="../../../src/cli/mod.ts"
import { main } from "skiff/cli";
// @ts-types="../../../src/local/mod.ts"
import { startLocalServer } from "skiff/local";

/** @type {string} */
export const version = VERSION;

// An `@upstash/redis` instance fits `RedisClient` (checked where `run` receives it). No
// JSDoc `import("skiff")` types: Deno would follow them into dist/.
const redis = new Redis({ url: "http://127.0.0.1:8079", token: "dev" });

/** @type {Script<number>} */
const incrBy = new Script("incr-by", `return redis.call("INCRBY", KEYS[1], ARGV[1])`);

/** @type {Promise<number>} */
export const counted = incrBy.run(redis, ["counter"], [5]);

/** @type {Promise<string>} */
export const sha = incrBy.sha();

// @ts-expect-error: keys and args are required.
incrBy.run(redis);

// @ts-expect-error: a script argument is a string or a number.
incrBy.run(redis, [], [{}]);

/** @type {Promise<number>} */
export const code = main(["version"], { out: () => {} });

/** @type {Promise<{ url: string, port: number, close(): Promise<void> }>} */
export const server = startLocalServer({ redis: "redis://127.0.0.1:6379", token: "dev", port: 0 });
