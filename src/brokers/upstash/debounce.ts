/**
 * The debounce script of `UpstashBroker`, and how a throttled send runs the dedup script
 * (see `docs/flow_control.md`).
 *
 * @module
 */
import type { EncodedMessage } from "../../broker.ts";
import { Script } from "../../redis/script.ts";
import { CALLER_CALL_TTL_MS, callKeys } from "./_keys.ts";
import { luaCall, STORE } from "./_lua.ts";
import type { ScriptRun } from "./_run.ts";
import { dedupRun, keepCallRecord } from "./write.ts";

/**
 * Stores one debounced send. The debounce key, `<namespace>:{<queue>}:debounce:<key>`, a
 * string `<id>|<first send>` that lives `maxDelay`, names the message waiting for the key.
 * While that message is still delayed (a member of timers by id), the send replaces its
 * body (the send's envelope under the waiting id, with the new eta) and its eta,
 * `min(now + delay, first send + maxDelay)`; else the send is stored as delayed by
 * `delay` and becomes the key's waiting message. Safe to repeat with the same outcome:
 * the call record is written first and holds the answer. 6 commands when it replaces
 * (`SET NX` of the record, `GET`, `ZSCORE`, `HSET`, `ZADD`, `SET` of the record), 5 when
 * it starts a new message (`SET NX`, `GET`, `SET PX`, `HSETNX`, `ZADD`).
 *
 * - KEYS: ready, timers, msg, dead, reason, call, debounce (see `_lua.ts`).
 * - ARGV: id, body, priority, now, delay, maxDelay; then, for a call made with a caller's
 *   call id, how long to keep its record (ms).
 * - Returns: the id the send stands for: its own when stored, the waiting one's when not.
 *
 * @example
 * ```ts ignore
 * const { keys, args } = debounceRun(namespace, record, Date.now());
 * const id = await WRITE_DEBOUNCE.run(redis, keys, args);
 * ```
 */
export const WRITE_DEBOUNCE: Script<string> = /* @__PURE__ */ new Script(
  "skiff-write-debounce",
  luaCall(
    "skiff-write-debounce",
    STORE,
    `
local debounce = KEYS[7]
if not debounce then return redis.error_reply("ERR skiff-write-debounce: no debounce key") end
local id, body = ARGV[1], ARGV[2]
local priority, now = tonumber(ARGV[3]), tonumber(ARGV[4])
local delay, maxDelay = tonumber(ARGV[5]), tonumber(ARGV[6])
local head = '{"v":1,"id":"' .. id .. '"'
${keepCallRecord("ARGV[7]")}
if string.sub(body, 1, #head) ~= head or not string.find(body, ',"eta":%d+}$') then
  return redis.error_reply("ERR skiff-write-debounce: the envelope has an unexpected shape")
end
local first = once(id)
if first then return first end
local waiting = redis.call("GET", debounce)
if waiting then
  local wid, firstAt = string.match(waiting, "^(.*)|(%d+)$")
  if wid and redis.call("ZSCORE", timers, wid) then
    local eta = math.min(now + delay, tonumber(firstAt) + maxDelay)
    body = '{"v":1,"id":"' .. wid .. '"' .. string.sub(body, #head + 1)
    body = string.gsub(body, ',"eta":%d+}$', ',"eta":' .. fmt(eta) .. '}')
    redis.call("HSET", msg, wid, body)
    redis.call("ZADD", timers, fmt(eta * 512 + priority + 255), wid)
    return remember(wid)
  end
end
redis.call("SET", debounce, id .. "|" .. fmt(now), "PX", ARGV[6])
storeIn(ready, timers, msg, { { id, "d", fmt((now + delay) * 512 + priority + 255), body } })
return id
`,
  ),
);

/**
 * The key of a debounce or throttle key: under the queue's hash tag.
 *
 * @param namespace The broker's namespace.
 * @param queue The queue.
 * @param kind `debounce` or `throttle`.
 * @param key The key (checked at send: no braces).
 * @returns The Redis key.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(controlKey("skiff", "q", "debounce", "user:1"), "skiff:{q}:debounce:user:1");
 * ```
 */
export function controlKey(
  namespace: string,
  queue: string,
  kind: "debounce" | "throttle",
  key: string,
): string {
  return `${namespace}:{${queue}}:${kind}:${key}`;
}

/**
 * The `WRITE_DEBOUNCE` call of one debounced record, with a fresh call record, or, given
 * `callId`, the record of that call (kept `CALLER_CALL_TTL_MS`).
 *
 * @param namespace The broker's namespace.
 * @param record The encoded message, with `debounce`.
 * @param now The time, in milliseconds since the epoch.
 * @param callId The caller's id of this script call, if any.
 * @returns Its keys and arguments.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const debounce = { key: "k", delay: 10, maxDelay: 100 };
 * const record = { id: "a", queue: "q", priority: 0, readyAt: 15, body: "{}", debounce };
 * assert.deepEqual(debounceRun("skiff", record, 5).args.slice(2), [0, 5, 10, 100]);
 * ```
 */
export function debounceRun(
  namespace: string,
  record: EncodedMessage,
  now: number,
  callId?: string,
): ScriptRun {
  const { key, delay, maxDelay } = record.debounce!;
  return {
    keys: [
      ...callKeys(namespace, record.queue, callId),
      controlKey(namespace, record.queue, "debounce", key),
    ],
    args: [
      record.id,
      record.body,
      record.priority,
      now,
      delay,
      maxDelay,
      ...(callId === undefined ? [] : [CALLER_CALL_TTL_MS]),
    ],
  };
}

/**
 * The call of one throttled record: the dedup script (`WRITE_DEDUP`) on the throttle key
 * with the period as its window; it answers another id when the send is dropped.
 *
 * @param namespace The broker's namespace.
 * @param record The encoded message, with `throttle`.
 * @param now The time, in milliseconds since the epoch.
 * @param callId The caller's id of this script call, if any.
 * @returns Its keys and arguments.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const record = { id: "a", queue: "q", priority: 0, readyAt: 5, body: "{}", throttle: { key: "k", period: 60 } };
 * assert.equal(throttleRun("skiff", record, 5).keys[6], "skiff:{q}:throttle:k");
 * ```
 */
export function throttleRun(
  namespace: string,
  record: EncodedMessage,
  now: number,
  callId?: string,
): ScriptRun {
  const { key, period } = record.throttle!;
  const run = dedupRun(namespace, { ...record, dedupKey: key, dedupTtl: period }, now, callId);
  run.keys[6] = controlKey(namespace, record.queue, "throttle", key);
  return run;
}
