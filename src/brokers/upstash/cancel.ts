/**
 * The cancel and flush scripts of `UpstashBroker` (see `docs/flow_control.md`).
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { EXPIRE_DEAD, FILL, KEYED, luaCall, STORE, UNIQUE } from "./_lua.ts";

/**
 * Cancels messages: removes the ready and delayed ones (`c`) and the leases of leased ones
 * (`r`, running: the attempt's ack or nack is then refused, so nothing follows it), with
 * their bodies; dead letters (`x`) and unknown ids (`m`) are left alone. A removed group
 * member fails its group in the same transition, as a member that dies does in SETTLE
 * (`HSETNX failed`, then the failure templates filled with the `fill` given for it). The
 * group keys and fills come from the client, which reads them from the bodies: a first
 * call that finds a member whose group it was not given changes nothing and answers
 * `["need", [id, body]...]`; the client calls again with them. Safe to repeat with the
 * same outcome: the call record holds the answer.
 *
 * Commands: the record's `SET NX`, the dead-letter expiry's `ZRANGEBYSCORE`, `HMGET` of
 * the bodies, then `ZMSCORE` of dead, ready and timers for the ids still unplaced; `ZREM`
 * of ready and of timers and `HDEL` for what is removed; one `ZRANGEBYSCORE` of the
 * queue's leases when one is leased; per failed group `HSETNX`, `HMGET`, the writes of its
 * failure templates and `PEXPIRE`; then the record's `SET`.
 *
 * - KEYS: ready, timers, msg, dead, reason of the queue, the call record; ready, timers,
 *   msg of each other queue a failure template writes to (in the order of `q` below);
 *   each group state.
 * - ARGV: now, dead-letter cutoff, how long a failed group's state is kept, `1` to answer
 *   the bodies of what is removed (else `0`), the groups as JSON
 *   `{ q: [queue...], g: { "<home>\n<group>": state }, f: { id: fill }, k: 1 }` (`state`:
 *   a 1-based position among the state keys, 0 for none; `k`: the last two keys are the
 *   queue's flow and parked keys, with `keyParallelism`: a parked message is cancelled,
 *   a running one's slot freed), then the ids.
 * - Returns: JSON `["done", { id: "c"|"r"|"x"|"m" }, { id: body }, [[queue, id, "r"|"d"]...]]`
 *   or `["need", [[id, body]...]]`.
 *
 * @example
 * ```ts ignore
 * const json = await CANCEL.run(redis, keys, [now, cutoff, ttl, 0, '{"q":["q"]}', id]);
 * ```
 */
export const CANCEL: Script<unknown> = /* @__PURE__ */ new Script(
  "skiff-cancel",
  luaCall(
    "skiff-cancel",
    EXPIRE_DEAD,
    UNIQUE,
    KEYED,
    STORE,
    FILL,
    `
local now = tonumber(ARGV[1])
if not now then return redis.error_reply("ERR skiff-cancel: the time is not a number") end
local fx = cjson.decode(ARGV[5])
if fx.k == 1 then flow, parked = KEYS[#KEYS - 1], KEYS[#KEYS] end
local first = once("")
if first then return first end
expireDead(ARGV[2])
local ids = unique(6)
local bodies = redis.call("HMGET", msg, unpack(ids))
local out, open, body = {}, {}, {}
for i, id in ipairs(ids) do
  if bodies[i] then
    open[#open + 1] = id
    body[id] = bodies[i]
  else
    out[id] = "m"
  end
end
local function sift(target, found)
  if #open == 0 then return {} end
  local scores, rest, hit = redis.call("ZMSCORE", target, unpack(open)), {}, {}
  for j, id in ipairs(open) do
    if scores[j] then
      out[id] = found
      hit[#hit + 1] = id
    else
      rest[#rest + 1] = id
    end
  end
  open = rest
  return hit
end
sift(dead, "x")
local soon = sift(ready, "c")
local later = sift(timers, "c")
-- With keyParallelism, a message parked while its flow key was full is ready too.
local unparked, fields = {}, {}
if flow and #open > 0 then
  local index = {}
  for j, id in ipairs(open) do index[j] = "|" .. id end
  local got, rest = redis.call("HMGET", flow, unpack(index)), {}
  for j, id in ipairs(open) do
    if got[j] then
      out[id] = "c"
      unparked[#unparked + 1] = got[j]
      fields[#fields + 1] = index[j]
    else
      rest[#rest + 1] = id
    end
  end
  open = rest
end
for _, id in ipairs(open) do out[id] = "r" end

-- Group members: the client must name their groups before anything is removed.
local gone, need, members = {}, {}, {}
for _, id in ipairs(ids) do
  if out[id] == "c" or out[id] == "r" then
    gone[#gone + 1] = id
    if string.find(body[id], '"member":', 1, true) then
      local ok, m = pcall(cjson.decode, body[id])
      local member = ok and type(m) == "table" and type(m.next) == "table" and m.next.member
      if type(member) == "table" then
        local state = (fx.g or {})[tostring(member.home) .. "\\n" .. tostring(member.group)]
        local fill = (fx.f or {})[id]
        if state and fill then
          if tonumber(state) > 0 then
            members[#members + 1] = { state = tonumber(state), index = member.index, fill = fill }
          end
        else
          need[#need + 1] = { id, body[id] }
        end
      end
    end
  end
end
if #need > 0 then return remember(cjson.encode({ "need", need })) end

if #soon > 0 then redis.call("ZREM", ready, unpack(soon)) end
if #unparked > 0 then
  redis.call("ZREM", parked, unpack(unparked))
  redis.call("HDEL", flow, unpack(fields))
end
local stale, slots = {}, {}
if #later > 0 then for _, id in ipairs(later) do stale[#stale + 1] = id end end
if #open > 0 then
  local running = {}
  for _, id in ipairs(open) do running[id] = true end
  for _, member in ipairs(redis.call("ZRANGEBYSCORE", timers, "-inf", "(0")) do
    local id, token = lease(member)
    if id and running[id] then
      stale[#stale + 1] = member
      slots[#slots + 1] = keyOf(token)
    end
  end
end
if #stale > 0 then redis.call("ZREM", timers, unpack(stale)) end
free(slots)
if #gone > 0 then redis.call("HDEL", msg, unpack(gone)) end

local names = fx.q or {}
local base = {}
for i, name in ipairs(names) do base[name] = i == 1 and 0 or 6 + 3 * (i - 2) end
local states = 6 + 3 * math.max(#names - 1, 0)
local written = {}

-- Fills failure templates { queue, id, priority, delay, eta, fill, head, sep, middle } at
-- now and stores them (an id already stored is left alone), as SETTLE does.
local function fire(json, fill)
  for _, t in ipairs(cjson.decode(json)) do
    local k = base[t[1]]
    if k then
      local set, score, body = filled(t, fill, now)
      if #storeIn(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], { { t[2], set, score, body } }) == 1 then
        written[#written + 1] = { t[1], t[2], set }
      end
    end
  end
end

for _, m in ipairs(members) do
  local state = KEYS[states + m.state]
  if redis.call("HSETNX", state, "failed", tostring(m.index)) == 1 then
    local got = redis.call("HMGET", state, "left", "fail")
    if got[1] then
      if got[2] then fire(got[2], m.fill) end
      redis.call("PEXPIRE", state, ARGV[3])
    else
      redis.call("DEL", state)
    end
  end
end

local removed = {}
if ARGV[4] == "1" then for _, id in ipairs(gone) do removed[id] = body[id] end end
if #gone == 0 then removed = nil end
return remember(cjson.encode({ "done", out, removed or cjson.null, written }))
`,
  ),
);

/**
 * Removes up to 1000 ready, 1000 delayed and 1000 dead messages of a queue (leased ones
 * are left to finish); call again while a count is 1000. Safe to repeat with the same
 * outcome (the call record holds the counts). 7 commands on an empty queue (`SET NX` of
 * the record, the dead-letter expiry, `ZRANGE` of ready, `ZRANGEBYSCORE` of delays,
 * `ZRANGE` of dead, the record's `SET`), plus `ZREM` and `HDEL` per non-empty state and
 * one more `HDEL` for dead letters' reasons.
 *
 * - KEYS: ready, timers, msg, dead, reason, call (see `_lua.ts`), [flow, parked: with
 *   `keyParallelism`, the parked messages are flushed as ready ones, `ZRANGE`, `ZREM` and
 *   two `HDEL` when there are some].
 * - ARGV: dead-letter cutoff.
 * - Returns: JSON `[ready, delayed, dead]`, how many were removed.
 *
 * @example
 * ```ts ignore
 * const json = await FLUSH.run(redis, keys, [cutoff]);
 * ```
 */
export const FLUSH: Script<unknown> = /* @__PURE__ */ new Script(
  "skiff-flush",
  luaCall(
    "skiff-flush",
    EXPIRE_DEAD,
    KEYED,
    `
local first = once("")
if first then return first end
expireDead(ARGV[1])
local r = redis.call("ZRANGE", ready, 0, 999)
if #r > 0 then
  redis.call("ZREM", ready, unpack(r))
  redis.call("HDEL", msg, unpack(r))
end
if KEYS[8] then flow, parked = KEYS[7], KEYS[8] end
if flow and #r < 1000 then
  -- With keyParallelism: the messages parked while their flow key was full are ready too.
  local members = redis.call("ZRANGE", parked, 0, 999 - #r)
  if #members > 0 then
    local ids, fields = {}, {}
    for i, m in ipairs(members) do
      ids[i] = select(1, unpark(m))
      fields[i] = "|" .. ids[i]
      r[#r + 1] = ids[i]
    end
    redis.call("ZREM", parked, unpack(members))
    redis.call("HDEL", flow, unpack(fields))
    redis.call("HDEL", msg, unpack(ids))
  end
end
local d = redis.call("ZRANGEBYSCORE", timers, 0, "+inf", "LIMIT", 0, 1000)
if #d > 0 then
  redis.call("ZREM", timers, unpack(d))
  redis.call("HDEL", msg, unpack(d))
end
local x = redis.call("ZRANGE", dead, 0, 999)
if #x > 0 then
  redis.call("ZREM", dead, unpack(x))
  redis.call("HDEL", msg, unpack(x))
  redis.call("HDEL", reason, unpack(x))
end
return remember(cjson.encode({ #r, #d, #x }))
`,
  ),
);
