/**
 * The nack script of `UpstashBroker`.
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { COUNT, EXPIRE_DEAD, KEYED, luaCall } from "./_lua.ts";

/**
 * Retries a leased message at a time (to `timers`) or moves it to the dead letters with
 * a reason, if the token matches; the priority comes from the ready score in the token.
 * Safe to repeat with the same outcome: a first run that applies records it; a retry of the
 * same call (its first answer lost) finds the lease gone, then the record, and answers 1
 * again. 4 commands for a retry with a new body, 6 for a death; a stale token costs 2.
 * With a counter, 1 more (`INCRBY`), 2 on the first write of its minute (`PEXPIRE`).
 *
 * - KEYS: ready, timers, msg, dead, reason, call (see `_lua.ts`), [flow, parked: with
 *   `keyParallelism`, whose slot it frees (`free()` in `_lua.ts`)], [the minute's `retried`
 *   or `dead` counter: last, when the broker counts throughput].
 * - ARGV: id, token, `r` (retry) or `d` (dead), the retry's eta or the time of death,
 *   reason, dead-letter cutoff, [new body].
 * - Returns: 1 (done) or 0 (stale token).
 *
 * @example
 * ```ts ignore
 * const done = await NACK.run(redis, callKeys(namespace, queue), [id, token, "r", at, "", cutoff, body]);
 * ```
 */
export const NACK: Script<number> = /* @__PURE__ */ new Script(
  "skiff-nack",
  luaCall(
    "skiff-nack",
    EXPIRE_DEAD,
    KEYED,
    COUNT,
    `
if #KEYS >= 8 then flow, parked = KEYS[7], KEYS[8] end
local counter = #KEYS % 2 == 1 and KEYS[#KEYS] or nil
local id, token, at = ARGV[1], ARGV[2], tonumber(ARGV[4])
local score = tonumber(scoreOf(token) or "")
-- Checked before the first write: Redis does not undo a script that fails halfway.
if not at then return redis.error_reply("ERR skiff-nack: the time is not a number") end
if not score then return 0 end
if redis.call("ZREM", timers, id .. "|" .. token) == 0 then return tonumber(replay() or "0") end
local p = math.floor(score / P)
if ARGV[7] then redis.call("HSET", msg, id, ARGV[7]) end
if ARGV[3] == "r" then
  redis.call("ZADD", timers, fmt(at * 512 + p + 255), id)
else
  expireDead(ARGV[6])
  redis.call("ZADD", dead, ARGV[4], id)
  redis.call("HSET", reason, id, p .. "|" .. ARGV[5])
end
free({ keyOf(token) })
count(counter, 1)
remember("1")
return 1
`,
  ),
);
