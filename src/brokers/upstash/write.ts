/**
 * The enqueue script of `UpstashBroker`.
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { lua } from "./_lua.ts";

/**
 * Stores new messages as ready or delayed; an id already stored, in any state, is left
 * alone, so a retried request changes nothing. 2 commands for one message, 3 or 4 for a
 * batch.
 *
 * - KEYS: ready, timers, msg, dead, reason (see `_lua.ts`).
 * - ARGV: groups of four: id, `r` (ready) or `d` (delayed), score (ready score, or
 *   `eta * 512 + priority + 255`), body.
 * - Returns: how many were stored.
 *
 * @example
 * ```ts ignore
 * await WRITE.run(redis, keys, [id, "r", readyScore(0, Date.now()), body]);
 * ```
 */
export const WRITE: Script<number> = new Script(
  "skiff-write",
  lua(`
local n = #ARGV / 4
if n == 1 then
  if redis.call("HSETNX", msg, ARGV[1], ARGV[4]) == 0 then return 0 end
  if ARGV[2] == "r" then
    redis.call("ZADD", ready, ARGV[3], ARGV[1])
  else
    redis.call("ZADD", timers, ARGV[3], ARGV[1])
  end
  return 1
end
local ids = {}
for i = 1, n do ids[i] = ARGV[4 * i - 3] end
local stored = redis.call("HMGET", msg, unpack(ids))
local seen, bodies, now, later = {}, {}, {}, {}
for i, id in ipairs(ids) do
  if not stored[i] and not seen[id] then
    seen[id] = true
    bodies[#bodies + 1] = id
    bodies[#bodies + 1] = ARGV[4 * i]
    local set = ARGV[4 * i - 2] == "r" and now or later
    set[#set + 1] = ARGV[4 * i - 1]
    set[#set + 1] = id
  end
end
if #bodies == 0 then return 0 end
redis.call("HSET", msg, unpack(bodies))
if #now > 0 then redis.call("ZADD", ready, unpack(now)) end
if #later > 0 then redis.call("ZADD", timers, unpack(later)) end
return #bodies / 2
`),
);
