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

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
