/** What `UpstashBroker` sends to its scripts and reads back; private to skiff. */
import type {
  Claim,
  ClaimByIdResult,
  DeadLetter,
  EncodedMessage,
  MessageState,
  UnclaimedState,
} from "../../broker.ts";
import { bodyBytes, MAX_WRITE_BYTES } from "../_budget.ts";
import { readyScore } from "../_score.ts";
import { CALLER_CALL_TTL_MS, callKeys, delayedScore } from "./_keys.ts";
import type { ScriptRun } from "./_run.ts";

/** The most messages one script run handles; larger batches take several runs. */
export const MAX_BATCH = 1000;

/**
 * The most message bytes one HTTP request carries: Upstash refuses large requests (10 MiB
 * on most plans), and JSON escaping can double a body's size on the way.
 */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/**
 * The WRITE runs for a batch, grouped into requests: a run (one script call) holds one
 * queue's messages, at most 1000 and `MAX_WRITE_BYTES` (a larger message gets a run of its
 * own); a request holds runs up to `MAX_REQUEST_BYTES` (a single larger message gets a
 * request of its own). Each run has a call record of its own, kept for every retry of the
 * request: a fresh one, or, given the caller's `callId`, `<callId>:<n>` for the n-th run
 * (the same records split the same way, so each run of a call made again finds its own
 * record), kept `CALLER_CALL_TTL_MS`.
 */
export function writeRequests(
  namespace: string,
  records: readonly EncodedMessage[],
  now: number,
  callId?: string,
): ScriptRun[][] {
  const runs: ScriptRun[] = [];
  const requests: ScriptRun[][] = [];
  const open = new Map<string, { run: ScriptRun; bytes: number }>();
  let request: ScriptRun[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = bodyBytes(r.body) + r.id.length;
    if (request.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      requests.push(request);
      request = [];
      bytes = 0;
      open.clear();
    }
    let current = open.get(r.queue);
    if (
      !current || current.run.args.length >= 4 * MAX_BATCH ||
      current.bytes + size > MAX_WRITE_BYTES
    ) {
      const id = callId === undefined ? undefined : `${callId}:${runs.length}`;
      current = { run: { keys: callKeys(namespace, r.queue, id), args: [] }, bytes: 0 };
      runs.push(current.run);
      request.push(current.run);
      open.set(r.queue, current);
    }
    const run = current.run;
    current.bytes += size;
    const delayed = r.readyAt > now;
    const score = delayed ? delayedScore(r.priority, r.readyAt) : readyScore(r.priority, r.readyAt);
    run.args.push(r.id, delayed ? "d" : "r", score, r.body);
    bytes += size;
  }
  if (request.length > 0) requests.push(request);
  if (callId !== undefined) { for (const run of runs) run.args.push(CALLER_CALL_TTL_MS); }
  return requests;
}

/**
 * Reads a script's JSON answer: `@upstash/redis` parses it already unless the client was
 * made with `automaticDeserialization: false`. Lua encodes an empty table as `{}`.
 */
export function fromJson(answer: unknown): unknown[] {
  const value = typeof answer === "string" ? JSON.parse(answer) : answer;
  return Array.isArray(value) ? value : [];
}

/** Splits a flat list into rows of `width` strings. */
function rows(flat: unknown[], width: number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i + width <= flat.length; i += width) {
    out.push(flat.slice(i, i + width).map(String));
  }
  return out;
}

/** Claims from `[id, token, body, ...]`. */
export function toClaims(answer: unknown, leaseUntil: number): Claim[] {
  return rows(fromJson(answer), 3).map(([id, token, body]) => ({ id, token, body, leaseUntil }));
}

/**
 * A `claimById()` result from `[[id, token, body, ...], [id, state, ...], [id, ...]]` (or
 * `["replayed"]`), and the ids deferred to another call (over the byte budget).
 */
export function toClaimById(
  answer: unknown,
  leaseUntil: number,
): ClaimByIdResult & { deferred: string[] } {
  const [claimed, unclaimed, deferred] = fromJson(answer);
  if (claimed === "replayed") return { claimed: [], unclaimed: [], replayed: true, deferred: [] };
  return {
    deferred: fromJson(deferred).map(String),
    claimed: toClaims(claimed, leaseUntil),
    unclaimed: rows(fromJson(unclaimed), 2).map(([id, state]) => ({
      id,
      state: state as UnclaimedState,
    })),
  };
}

/**
 * A page of dead letters from `[found, id, body, reason, deadAt, ...]`, and how many the
 * range held before the byte budget cut it.
 */
export function toDeadLetters(answer: unknown): { found: number; letters: DeadLetter[] } {
  const [found, ...flat] = fromJson(answer);
  const letters = rows(flat, 4).map(([id, body, reason, deadAt]) => ({
    id,
    body,
    reason,
    deadAt: Number(deadAt),
  }));
  return { found: Number(found ?? 0), letters };
}

/** States from `[state, ...]`, one per id asked about. */
export function toStates(answer: unknown): MessageState[] {
  return fromJson(answer).map((state) => String(state) as MessageState);
}
