/**
 * Every Lua script of `UpstashBroker`, for loading ahead of time (`SCRIPT LOAD`) and for
 * the test that checks their SHAs.
 *
 * @module
 */
import type { Script } from "../../redis/script.ts";
import { CLAIM, CLAIM_BY_ID } from "./claim.ts";
import { DEAD_LETTERS, PURGE_DEAD, REQUEUE } from "./dead_letters.ts";
import { ACK, EXTEND_LEASE, RELEASE } from "./lease.ts";
import { NACK } from "./nack.ts";
import { WRITE } from "./write.ts";

export { ACK, CLAIM, CLAIM_BY_ID, DEAD_LETTERS, EXTEND_LEASE, NACK, PURGE_DEAD, RELEASE, REQUEUE };
export { WRITE };

/**
 * The scripts, in no particular order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert(UPSTASH_SCRIPTS.every((script) => script.source.startsWith("#!lua")));
 * ```
 */
export const UPSTASH_SCRIPTS: readonly Script<unknown>[] = [
  WRITE,
  CLAIM,
  CLAIM_BY_ID,
  ACK,
  NACK,
  RELEASE,
  EXTEND_LEASE,
  DEAD_LETTERS,
  REQUEUE,
  PURGE_DEAD,
];
