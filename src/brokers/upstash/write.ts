/**
 * The enqueue script of `UpstashBroker`.
 *
 * @module
 */
import type { EncodedMessage } from "../../broker.ts";
import { Script } from "../../redis/script.ts";
import { readyScore } from "../_score.ts";
import { CALLER_CALL_TTL_MS, callKeys, delayedScore } from "./_keys.ts";
import { luaCall, STORE } from "./_lua.ts";
import type { ScriptRun } from "./_run.ts";

/**
 * Lua that keeps the call record `keep` milliseconds instead of `CALL_TTL_MS` when `keep`
 * is set: what a write made with a caller's call id passes (`CALLER_CALL_TTL_MS`). The same
 * commands either way.
 */
export function keepCallRecord(keep: string): string {
  return `
local keep = ${keep}
if keep then
  remember = function(answer)
    redis.call("SET", call, answer, "PX", keep)
    return answer
  end
  once = function(answer)
    if redis.call("SET", call, answer, "NX", "PX", keep) then return nil end
    return redis.call("GET", call)
  end
end
`;
}

/**
 * Stores new messages as ready or delayed; an id already stored, in any state, is left
 * alone. Safe to repeat with the same outcome: the call record is written first (`SET NX`),
 * so a retry of the same call (its first answer lost) answers what the first run stored and
 * writes nothing, even after the message was claimed and acked in between. 3 commands for
 * one message, 4 or 5 for a batch (one more when an id was already stored).
 *
 * - KEYS: ready, timers, msg, dead, reason, call (see `_lua.ts`).
 * - ARGV: groups of four: id, `r` (ready) or `d` (delayed), score (ready score, or
 *   `eta * 512 + priority + 255`), body; then, for a call made with a caller's call id,
 *   how long to keep its record (ms).
 * - Returns: how many were stored.
 *
 * @example
 * ```ts ignore
 * await WRITE.run(redis, callKeys(namespace, queue), [id, "r", readyScore(0, Date.now()), body]);
 * ```
 */
export const WRITE: Script<number> = /* @__PURE__ */ new Script(
  "skiff-write",
  luaCall(
    "skiff-write",
    STORE,
    `
${keepCallRecord("#ARGV % 4 == 1 and ARGV[#ARGV] or nil")}
local n = math.floor(#ARGV / 4)
local first = once(tostring(n))
if first then return tonumber(first) end
local list = {}
for i = 1, n do list[i] = { ARGV[4 * i - 3], ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i] } end
local stored = #storeIn(ready, timers, msg, list)
if stored ~= n then remember(tostring(stored)) end
return stored
`,
  ),
);

/**
 * Stores one message sent with a dedup key, unless a message with that key was stored in
 * its queue inside the window: the dedup key, `<namespace>:{<queue>}:dedup:<key>`, is a
 * string holding the first message's id, set with `SET NX PX <ttl>`. Safe to repeat with
 * the same outcome: the call record is written first, so a retry (its first answer lost)
 * answers the same id, even after the dedup key expired or the message was acked. 4
 * commands when stored (`SET NX` of the record, `SET NX PX` of the key, `HSETNX`, `ZADD`),
 * 4 when deduplicated (the record, the key, `GET` of the key, `SET` of the record).
 *
 * - KEYS: ready, timers, msg, dead, reason, call, dedup.
 * - ARGV: id, `r` or `d`, score, body (as `WRITE`), then the window in milliseconds; then,
 *   for a call made with a caller's call id, how long to keep its record (ms).
 * - Returns: the id the send stands for: its own when stored, the first one's when not.
 *
 * @example
 * ```ts ignore
 * const { keys, args } = dedupRun(namespace, record, Date.now());
 * const id = await WRITE_DEDUP.run(redis, keys, args);
 * ```
 */
export const WRITE_DEDUP: Script<string> = /* @__PURE__ */ new Script(
  "skiff-write-dedup",
  luaCall(
    "skiff-write-dedup",
    STORE,
    `
local dedup = KEYS[7]
if not dedup then return redis.error_reply("ERR skiff-write-dedup: no dedup key") end
${keepCallRecord("ARGV[6]")}
local first = once(ARGV[1])
if first then return first end
if not redis.call("SET", dedup, ARGV[1], "NX", "PX", ARGV[5]) then
  return remember(redis.call("GET", dedup))
end
storeIn(ready, timers, msg, { { ARGV[1], ARGV[2], ARGV[3], ARGV[4] } })
return ARGV[1]
`,
  ),
);

/**
 * The key of a dedup key: under the queue's hash tag, so that it shares the slot of the
 * keys the send writes.
 *
 * @param namespace The broker's namespace.
 * @param queue The queue.
 * @param key The dedup key (checked at send: no braces).
 * @returns The Redis key.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(dedupKey("skiff", "q", "order:1"), "skiff:{q}:dedup:order:1");
 * ```
 */
export function dedupKey(namespace: string, queue: string, key: string): string {
  return `${namespace}:{${queue}}:dedup:${key}`;
}

/**
 * The `WRITE_DEDUP` call of one record that has a dedup key, with a fresh call record, or,
 * given `callId`, the record of that call (kept `CALLER_CALL_TTL_MS`).
 *
 * @param namespace The broker's namespace.
 * @param record The encoded message, with `dedupKey` and `dedupTtl`.
 * @param now The time, in milliseconds since the epoch.
 * @param callId The caller's id of this script call, if any.
 * @returns Its keys and arguments.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const record = { id: "a", queue: "q", priority: 0, readyAt: 5, body: "{}", dedupKey: "k", dedupTtl: 60_000 };
 * const run = dedupRun("skiff", record, 5);
 * assert.equal(run.keys[6], "skiff:{q}:dedup:k");
 * assert.equal(run.args[4], 60_000);
 * ```
 */
export function dedupRun(
  namespace: string,
  record: EncodedMessage,
  now: number,
  callId?: string,
): ScriptRun {
  const delayed = record.readyAt > now;
  const score = delayed
    ? delayedScore(record.priority, record.readyAt)
    : readyScore(record.priority, record.readyAt);
  return {
    keys: [
      ...callKeys(namespace, record.queue, callId),
      dedupKey(namespace, record.queue, record.dedupKey ?? ""),
    ],
    args: [
      record.id,
      delayed ? "d" : "r",
      score,
      record.body,
      record.dedupTtl ?? 1,
      ...(callId === undefined ? [] : [CALLER_CALL_TTL_MS]),
    ],
  };
}
