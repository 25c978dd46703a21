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
import { PLAN_RESULTS } from "./plan.ts";
import { SETTLE } from "./settle.ts";
import { STATE } from "./state.ts";
import { WRITE, WRITE_DEDUP } from "./write.ts";
import { CANCEL, FLUSH } from "./cancel.ts";
import { WRITE_DEBOUNCE } from "./debounce.ts";

export { ACK, CLAIM, CLAIM_BY_ID, DEAD_LETTERS, EXTEND_LEASE, NACK, PURGE_DEAD, RELEASE, REQUEUE };
export { CANCEL, FLUSH, PLAN_RESULTS, SETTLE, STATE, WRITE, WRITE_DEBOUNCE, WRITE_DEDUP };

/** The scripts of debounce, cancel and flush (`docs/flow_control.md`). */
export const FLOW_CONTROL_SCRIPTS: readonly Script<unknown>[] = [WRITE_DEBOUNCE, CANCEL, FLUSH];

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
  WRITE_DEDUP,
  CLAIM,
  CLAIM_BY_ID,
  ACK,
  NACK,
  RELEASE,
  EXTEND_LEASE,
  DEAD_LETTERS,
  REQUEUE,
  PURGE_DEAD,
  STATE,
];

/**
 * The scripts of pipelines, groups and callbacks: SETTLE, an ack or nack with its effects,
 * and PLAN_RESULTS, a pipeline's plan read. Kept apart from {@linkcode UPSTASH_SCRIPTS}
 * because they take other keys than a queue's five: other queues', group states, plans (`tests/settle_script_test.ts` checks it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert(COMPOSITION_SCRIPTS.every((script) => script.source.startsWith("#!lua")));
 * ```
 */
export const COMPOSITION_SCRIPTS: readonly Script<unknown>[] = [SETTLE, PLAN_RESULTS];
