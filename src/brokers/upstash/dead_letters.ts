/**
 * The dead-letter scripts of `UpstashBroker`: list, requeue, purge. Each first drops the
 * dead letters older than the cutoff (`now - deadLetterTtl`).
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { EXPIRE_DEAD, lua, luaCall, UNIQUE, WITHIN } from "./_lua.ts";

/**
 * Lists a page of dead letters, oldest first: at most 1000, and no more bodies than
 * `maxBytes` (always one), so that a page of large bodies comes shorter. 4 commands when
 * the page holds 16 or fewer, one more HMGET per further chunk of bodies (`within()`).
 *
 * - KEYS: ready, timers, msg, dead, reason (see `_lua.ts`).
 * - ARGV: cutoff, first index, last index (at most 999 past the first), maxBytes.
 * - Returns: JSON `[found, id, body, reason, deadAt, ...]`, `found` how many the range
 *   held before the byte budget (fewer than asked: the list ends there).
 *
 * @example
 * ```ts ignore
 * const json = await DEAD_LETTERS.run(redis, keys, [cutoff, 0, 99, 1_048_576]);
 * ```
 */
export const DEAD_LETTERS: Script<unknown> = /* @__PURE__ */ new Script(
  "skiff-dead-letters",
  lua(
    EXPIRE_DEAD,
    WITHIN,
    `
expireDead(ARGV[1])
local first = tonumber(ARGV[2])
local last = math.min(tonumber(ARGV[3]), first + 999)
local page = redis.call("ZRANGE", dead, first, last, "WITHSCORES")
if #page == 0 then return "[0]" end
local ids, out = {}, { #page / 2 }
for i = 1, #page, 2 do ids[#ids + 1] = page[i] end
local bodies, n = within(ids, ARGV[4])
for i = n + 1, #ids do ids[i] = nil end
local reasons = redis.call("HMGET", reason, unpack(ids))
for i, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = bodies[i] or ""
  out[#out + 1] = string.match(reasons[i] or "", "^%-?%d+|(.*)$") or ""
  out[#out + 1] = page[2 * i]
end
return cjson.encode(out)
`,
  ),
);

/**
 * Moves dead letters back to ready, as if enqueued now, with their priority. Safe to
 * repeat with the same outcome (a retry answers the first run's count from the call
 * record). 8 commands.
 *
 * - KEYS: ready, timers, msg, dead, reason, call (see `_lua.ts`).
 * - ARGV: cutoff, now, id...
 * - Returns: how many were requeued.
 *
 * @example
 * ```ts ignore
 * const count = await REQUEUE.run(redis, keys, [cutoff, Date.now(), id]);
 * ```
 */
export const REQUEUE: Script<number> = /* @__PURE__ */ new Script(
  "skiff-requeue",
  luaCall(
    "skiff-requeue",
    EXPIRE_DEAD,
    UNIQUE,
    `
local first = once("")
if first then return tonumber(first) end
expireDead(ARGV[1])
local ids, found, back = unique(3), {}, {}
local scores = redis.call("ZMSCORE", dead, unpack(ids))
for i, id in ipairs(ids) do
  if scores[i] then found[#found + 1] = id end
end
if #found == 0 then return tonumber(remember("0")) end
local reasons = redis.call("HMGET", reason, unpack(found))
for i, id in ipairs(found) do
  local p = tonumber(string.match(reasons[i] or "", "^(%-?%d+)|")) or 0
  back[#back + 1] = fmt(p * P + tonumber(ARGV[2]))
  back[#back + 1] = id
end
redis.call("ZADD", ready, unpack(back))
redis.call("ZREM", dead, unpack(found))
redis.call("HDEL", reason, unpack(found))
remember(tostring(#found))
return #found
`,
  ),
);

/**
 * Deletes dead letters: the given ids, or (`all`) the oldest 1000; call again until it
 * answers less than 1000. Safe to repeat with the same outcome, as REQUEUE is. 7 commands.
 *
 * - KEYS: ready, timers, msg, dead, reason, call (see `_lua.ts`).
 * - ARGV: cutoff, `all` or `ids`, id...
 * - Returns: how many were deleted.
 *
 * @example
 * ```ts ignore
 * const count = await PURGE_DEAD.run(redis, keys, [cutoff, "ids", id]);
 * ```
 */
export const PURGE_DEAD: Script<number> = /* @__PURE__ */ new Script(
  "skiff-purge-dead",
  luaCall(
    "skiff-purge-dead",
    EXPIRE_DEAD,
    UNIQUE,
    `
local first = once("")
if first then return tonumber(first) end
expireDead(ARGV[1])
local targets = {}
if ARGV[2] == "all" then
  targets = redis.call("ZRANGE", dead, 0, 999)
else
  local ids = unique(3)
  local scores = redis.call("ZMSCORE", dead, unpack(ids))
  for i, id in ipairs(ids) do
    if scores[i] then targets[#targets + 1] = id end
  end
end
if #targets == 0 then return tonumber(remember("0")) end
redis.call("ZREM", dead, unpack(targets))
redis.call("HDEL", msg, unpack(targets))
redis.call("HDEL", reason, unpack(targets))
remember(tostring(#targets))
return #targets
`,
  ),
);
