import { randomBytes } from "../_random.ts";
import { hex } from "../_util.ts";
import type { RedisClient } from "./client.ts";

/** What a script's arguments may be: Redis receives each as a string. */
export type ScriptArg = string | number;

/**
 * A Lua script run with EVALSHA, falling back to EVAL the first time Redis has not seen
 * it: one round trip in the common case, two after a Redis restart or a `SCRIPT FLUSH`.
 *
 * Every key a script touches must be passed in `keys`, never built inside Lua, so that
 * the script works on Redis Cluster and under Upstash's `allow-key-locking` flag.
 *
 * @example Run a script through any `@upstash/redis` client
 * ```ts
 * import { Script } from "@skiff/skiff";
 *
 * const incrBy = new Script<number>("incr-by", `return redis.call("INCRBY", KEYS[1], ARGV[1])`);
 * console.assert(incrBy.name === "incr-by");
 * // await incrBy.run(redis, ["counter"], [5]);
 * ```
 */
export class Script<T = unknown> {
  /** A short name for logs and errors. */
  readonly name: string;
  /** The Lua source, as sent to Redis. */
  readonly source: string;
  #sha?: Promise<string>;

  /**
   * Names a script; nothing is sent to Redis until `run`.
   *
   * @param name A short name for logs and errors.
   * @param source The Lua source.
   */
  constructor(name: string, source: string) {
    this.name = name;
    this.source = source;
  }

  /**
   * The hex SHA-1 of the source, as Redis names the script.
   *
   * @returns A promise of 40 lowercase hex digits.
   */
  sha(): Promise<string> {
    return this.#sha ??= sha1Hex(this.source);
  }

  /**
   * Runs the script.
   *
   * @param redis The client to run it with.
   * @param keys Every key the script touches.
   * @param args The script's ARGV.
   * @returns What the script returns, as `@upstash/redis` decodes it.
   * @throws {Error} What Redis answered, when the script fails.
   */
  async run(redis: RedisClient, keys: string[], args: ScriptArg[]): Promise<T> {
    try {
      return await redis.evalsha<ScriptArg[], T>(await this.sha(), keys, args);
    } catch (error) {
      if (!String(error).includes("NOSCRIPT")) throw error;
      return await redis.eval<ScriptArg[], T>(this.source, keys, args);
    }
  }
}

/**
 * How long a call record is kept, in milliseconds: longer than any retry of one call takes
 * (`@upstash/redis` retries a lost response within seconds; skiff's own retries of an ack
 * or a nack stop after 15 s), short enough that records cost little memory.
 */
export const CALL_TTL_MS = 60_000;

/**
 * A fresh call id: 96 random bits, URL-safe, 16 characters. Made once per script call on
 * the client and sent with every retry of that call, so that a retry is recognised.
 *
 * @returns The id.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newCallId } from "./script.ts";
 *
 * assert.match(newCallId(), /^[A-Za-z0-9_-]{16}$/);
 * assert.notEqual(newCallId(), newCallId());
 * ```
 */
export function newCallId(): string {
  const bytes = randomBytes(12);
  let id = "";
  // base64url, 3 bytes to 4 characters; 12 bytes need no padding.
  for (let i = 0; i < 12; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    id += BASE64URL[n >> 18] + BASE64URL[(n >> 12) & 63] + BASE64URL[(n >> 6) & 63] +
      BASE64URL[n & 63];
  }
  return id;
}

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * Lua for scripts that are safe to repeat with the same outcome: a **call record**, one
 * short-lived string key per call (its name carries the call id, and the caller passes it
 * in `KEYS` under the hash tag of the keys it changes). The script binds it to a local
 * `call` before this snippet. A first run writes the record with its answer; a retry of
 * the same call (its first answer lost) finds it and answers it again, changing nothing.
 *
 * - `once(answer)`: for scripts that cannot tell a retry from their other keys (a send
 *   after its message was acked): `SET NX` of the expected answer first, 1 command. Returns
 *   nil on the first run, else the recorded answer (1 more command).
 * - `remember(answer)`: records the answer at the end of a first run (1 command); returns it.
 * - `replay()`: the recorded answer or nil, for scripts whose own check already failed (a
 *   lease token no longer held), so that a first run pays for it only on that rare path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CALL_RECORD_LUA } from "./script.ts";
 *
 * assert(CALL_RECORD_LUA.includes("local function once("));
 * ```
 */
export const CALL_RECORD_LUA: string = `
local function remember(answer)
  redis.call("SET", call, answer, "PX", ${CALL_TTL_MS})
  return answer
end
local function replay() return redis.call("GET", call) end
local function once(answer)
  if redis.call("SET", call, answer, "NX", "PX", ${CALL_TTL_MS}) then return nil end
  return redis.call("GET", call)
end
`;

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return hex(new Uint8Array(digest));
}
