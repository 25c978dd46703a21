/**
 * The enqueue script of `UpstashBroker`.
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { luaCall } from "./_lua.ts";

/**
 * Stores new messages as ready or delayed; an id already stored, in any state, is left
 * alone. Safe to repeat with the same outcome: the call record is written first (`SET NX`),
 * so a retry of the same call (its first answer lost) answers what the first run stored and
 * writes nothing, even after the message was claimed and acked in between. 3 commands for
 * one message, 4 or 5 for a batch (one more when an id was already stored).
 *
 * - KEYS: ready, timers, msg, dead, reason, call (see `_lua.ts`).
 * - ARGV: groups of four: id, `r` (ready) or `d` (delayed), score (ready score, or
 *   `eta * 512 + priority + 255`), body.
 * - Returns: how many were stored.
 *
 * @example
 * ```ts ignore
 * await WRITE.run(redis, callKeys(namespace, queue), [id, "r", readyScore(0, Date.now()), body]);
 * ```
 */
export const WRITE: Script<number> = new Script(
  "skiff-write",
  luaCall(
    "skiff-write",
    `
local n = #ARGV / 4
local first = once(tostring(n))
if first then return tonumber(first) end
local stored = 0
if n == 1 then
  if redis.call("HSETNX", msg, ARGV[1], ARGV[4]) == 1 then
    if ARGV[2] == "r" then
      redis.call("ZADD", ready, ARGV[3], ARGV[1])
    else
      redis.call("ZADD", timers, ARGV[3], ARGV[1])
    end
    stored = 1
  end
else
  local ids = {}
  for i = 1, n do ids[i] = ARGV[4 * i - 3] end
  local found = redis.call("HMGET", msg, unpack(ids))
  local seen, bodies, now, later = {}, {}, {}, {}
  for i, id in ipairs(ids) do
    if not found[i] and not seen[id] then
      seen[id] = true
      bodies[#bodies + 1] = id
      bodies[#bodies + 1] = ARGV[4 * i]
      local set = ARGV[4 * i - 2] == "r" and now or later
      set[#set + 1] = ARGV[4 * i - 1]
      set[#set + 1] = id
    end
  end
  if #bodies > 0 then
    redis.call("HSET", msg, unpack(bodies))
    if #now > 0 then redis.call("ZADD", ready, unpack(now)) end
    if #later > 0 then redis.call("ZADD", timers, unpack(later)) end
  end
  stored = #bodies / 2
end
if stored ~= n then remember(tostring(stored)) end
return stored
`,
  ),
);
