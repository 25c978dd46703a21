/** Key names and scores of `UpstashBroker`; private to skiff. See `_lua.ts` for the layout. */
import { newCallId } from "../../redis/script.ts";
import type { ThroughputKind } from "../_throughput.ts";

/** The parts of a queue's keys, in the order every script receives them. */
const PARTS = ["ready", "timers", "msg", "dead", "reason"] as const;

/** Namespaces: like queue names, but never braces (they would move the hash tag). */
export const NAMESPACE_PATTERN: RegExp = /^[A-Za-z0-9_.:@\/-]{1,100}$/;

/** A queue's keys, all under the hash tag `{queue}`, in the order of `PARTS`. */
export function queueKeys(namespace: string, queue: string): string[] {
  return PARTS.map((part) => `${namespace}:{${queue}}:${part}`);
}

/**
 * The key of a queue's rate window (`docs/flow_control.md`): `<window>:<claimed>`, under
 * the queue's hash tag, expiring at the window's end.
 */
export function rateKey(namespace: string, queue: string): string {
  return `${namespace}:{${queue}}:rate`;
}

/**
 * A key remembered once with a claim by id (`claimById`'s `once`: a push's signature MAC),
 * under the queue's hash tag so that the claim script may set it.
 */
export function onceKey(namespace: string, queue: string, key: string): string {
  return `${namespace}:{${queue}}:once:${key}`;
}

/**
 * The keys of a queue's per-key flow control (`keyParallelism`, see `_lua.ts`): the `flow`
 * hash (live leases by flow key, and the index of parked messages) and the `parked` zset.
 */
export function flowKeys(namespace: string, queue: string): [string, string] {
  return [`${namespace}:{${queue}}:flow`, `${namespace}:{${queue}}:parked`];
}

/**
 * The key of one script call's record (`CALL_RECORD_LUA`): under the queue's hash tag, so
 * that it shares the slot of the keys the call changes.
 */
export function callKey(namespace: string, queue: string, callId: string): string {
  return `${namespace}:{${queue}}:call:${callId}`;
}

/**
 * A queue's keys followed by a call record's: what every script that changes state takes.
 * The record is a fresh call's, or, given `callId`, the one a caller makes again with it.
 */
export function callKeys(namespace: string, queue: string, callId?: string): string[] {
  return [...queueKeys(namespace, queue), callKey(namespace, queue, callId ?? newCallId())];
}

/**
 * How long the call record of a write made with a caller's call id is kept (a write
 * without one keeps it `CALL_TTL_MS`, 60 s): a caller that passes its own id makes the
 * call again later than `@upstash/redis` retries a request (the scheduler, at its next
 * tick), so the record outlives the ticks between.
 */
export const CALLER_CALL_TTL_MS = 15 * 60_000;

/** The key of a running message's last progress report: a string with a TTL, under the queue's tag. */
export function progressKey(namespace: string, queue: string, id: string): string {
  return `${namespace}:{${queue}}:progress:${id}`;
}

/**
 * The value stored under {@linkcode progressKey}: wrapped, so that it reads back the same
 * whether the client decodes JSON answers or not.
 */
export function readProgress(stored: unknown): unknown {
  let value = stored;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return typeof value === "object" && value !== null ? (value as { v?: unknown }).v : undefined;
}

/**
 * The key of a tracked group's state: under the hash tag of its home queue (its first
 * member's), so that a group whose members, next step and callbacks share one queue keeps
 * every key of its transitions in one slot.
 */
export function groupKey(namespace: string, home: string, id: string): string {
  return `${namespace}:{${home}}:group:${id}`;
}

/**
 * The score of a delayed message: its eta, with the priority in the low 9 bits so that
 * promotion needs no other read. Exact up to 2^44 ms (the year 2527), as ready scores are.
 */
export function delayedScore(priority: number, eta: number): number {
  return Math.ceil(eta) * 512 + priority + 255;
}

/**
 * The key of a pipeline's plan (a hash: position → template, `results` → the ids that
 * store results): under the hash tag of its first step's queue.
 */
export function planKey(namespace: string, home: string, id: string): string {
  return `${namespace}:{${home}}:plan:${id}`;
}

/**
 * The key of a queue's count of messages finished one way in one minute (the broker option
 * `throughput`): a string counter under the queue's hash tag, kept an hour.
 */
export function throughputKey(
  namespace: string,
  queue: string,
  kind: ThroughputKind,
  minute: number,
): string {
  return `${namespace}:{${queue}}:throughput:${kind}:${minute}`;
}
