/**
 * What the local server lets through, and how: the commands Upstash REST refuses are
 * refused here too (so nothing passes locally that fails on Upstash), and Lua scripts
 * lose the Upstash-only `allow-key-locking` flag that stock Redis rejects.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { RespValue } from "./resp.ts";

const REFUSED = new Set([
  "BLPOP",
  "BRPOP",
  "BRPOPLPUSH",
  "BLMOVE",
  "BLMPOP",
  "BZPOPMIN",
  "BZPOPMAX",
  "BZMPOP",
  "WATCH",
  "UNWATCH",
  "DISCARD",
  "MULTI",
  "EXEC",
  "SUBSCRIBE",
  "UNSUBSCRIBE",
  "PSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SSUBSCRIBE",
  "SUNSUBSCRIBE",
  "SELECT",
  "AUTH",
  "HELLO",
  "CLIENT",
  "QUIT",
  "RESET",
  "MONITOR",
  "WAIT",
  "WAITAOF",
  "SYNC",
  "PSYNC",
]);

/**
 * Says why Upstash REST would refuse a command, if it would.
 *
 * @param args The command name and arguments.
 * @returns The error text, or `undefined` when the command may run.
 */
export function refusal(args: readonly string[]): string | undefined {
  const name = args[0].toUpperCase();
  const blockingRead = (name === "XREAD" || name === "XREADGROUP") &&
    args.some((arg, i) => i > 0 && arg.toUpperCase() === "BLOCK");
  if (REFUSED.has(name) || blockingRead) {
    return `ERR Command is not available over REST: '${name}'${blockingRead ? " with BLOCK" : ""}`;
  }
  return undefined;
}

const SHEBANG = /^#!lua([^\n]*)/;

/**
 * Removes `allow-key-locking` from a script's `#!lua flags=` line.
 *
 * @param source The Lua source.
 * @returns The source stock Redis accepts, unchanged when there was nothing to remove.
 */
export function stripKeyLocking(source: string): string {
  const match = SHEBANG.exec(source);
  if (!match) return source;
  const line = match[1].replace(/flags=(\S*)/, (_all, list: string) => {
    const kept = list.split(",").filter((flag) => flag && flag !== "allow-key-locking");
    return kept.length ? `flags=${kept.join(",")}` : "";
  }).trimEnd();
  return `#!lua${line}${source.slice(match[0].length)}`;
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/** A command ready for Redis, and what to do with its reply before the client sees it. */
export interface Prepared {
  args: string[];
  reply?: (value: RespValue) => RespValue;
}

/**
 * Rewrites script commands so that clients keep using the SHA of the script they sent,
 * while Redis runs (and names) the rewritten script.
 */
export class ScriptTable {
  #redisSha = new Map<string, string>();

  /**
   * Prepares a command for Redis.
   *
   * @param args The command as the client sent it.
   * @returns The command to send, and a reply fix-up for SCRIPT LOAD.
   */
  prepare(args: string[]): Prepared {
    const name = args[0].toUpperCase();
    if ((name === "EVAL" || name === "EVAL_RO") && args.length > 1) {
      return { args: [args[0], this.#register(args[1]), ...args.slice(2)] };
    }
    if ((name === "EVALSHA" || name === "EVALSHA_RO") && args.length > 1) {
      return { args: [args[0], this.#lookup(args[1]), ...args.slice(2)] };
    }
    if (name === "SCRIPT" && args.length > 2) {
      const sub = args[1].toUpperCase();
      if (sub === "LOAD") {
        const clientSha = sha1(args[2]);
        return {
          args: [args[0], args[1], this.#register(args[2])],
          reply: (value) =>
            value instanceof Uint8Array ? new TextEncoder().encode(clientSha) : value,
        };
      }
      if (sub === "EXISTS") {
        return { args: [args[0], args[1], ...args.slice(2).map((sha) => this.#lookup(sha))] };
      }
    }
    return { args };
  }

  #register(source: string): string {
    const stripped = stripKeyLocking(source);
    if (stripped !== source) this.#redisSha.set(sha1(source), sha1(stripped));
    return stripped;
  }

  #lookup(sha: string): string {
    return this.#redisSha.get(sha.toLowerCase()) ?? sha;
  }
}
