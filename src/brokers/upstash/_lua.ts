/**
 * Lua shared by the `UpstashBroker` scripts; private to skiff.
 *
 * Every script gets the same five keys of one queue, in this order (all under one hash
 * tag, `<namespace>:{<queue>}:`):
 *
 * - `KEYS[1]` ready: zset, member id, score `priority * 2^44 + readyAt`.
 * - `KEYS[2]` timers: zset of what waits for a time, so that one `ZRANGEBYSCORE` finds
 *   everything due. Delays: member id, score `eta * 512 + priority + 255` (never negative).
 *   Leases: member `id|token`, score `-leaseUntil` (always negative). A token is
 *   `<claim token>:<ready score>`: it carries the score the message goes back to ready with.
 * - `KEYS[3]` msg: hash, id to body, for every message in any state.
 * - `KEYS[4]` dead: zset, member id, score `deadAt`.
 * - `KEYS[5]` reason: hash, id to `<priority>|<reason>`, for dead letters.
 * - `KEYS[6]` call (scripts that change state): the call record,
 *   `<namespace>:{<queue>}:call:<call id>`, a string that lives 60 s (`CALL_RECORD_LUA`):
 *   a retry of the same call answers what the first run did and changes nothing more.
 * - With the broker option `throughput`, the scripts that finish messages (ACK, NACK,
 *   SETTLE) also take a counter, `<namespace>:{<queue>}:throughput:<kind>:<minute>`
 * *   (`COUNT`): ACK and NACK as their last key, SETTLE among its state keys.
 *
 * A queue with `keyParallelism` has two more keys (`flowKeys()`, `KEYED` below), given to
 * the scripts that lease or end leases: `flow`, a hash of the live leases by flow key
 * (field `<flow key>`, a count; absent at 0) and of the messages parked while their key was
 * full (field `|<id>`, its member in `parked`); and `parked`, a zset of those messages,
 * every score 0, member `<flow key>|<ready score + 255 * 2^44, 16 digits>|<id>`, so that
 * one `ZRANGEBYLEX` finds a key's first in ready order. A lease of a message with a flow
 * key carries the key in its token, `<claim token>:<flow key>:<ready score>`, so that
 * whatever ends the lease (ack, nack, release, settle, cancel, lease recovery) frees the
 * key's slot without a read.
 *
 * The command counts in each script's doc are its `redis.call`s; the EVALSHA that runs it
 * is one more (`tests/cost_test.ts` measures the totals).
 *
 * Numbers reach Lua as strings and go back as strings: Lua's own `tostring` keeps only 14
 * digits, which scores exceed.
 *
 * @module
 */

import { CALL_RECORD_LUA } from "../../redis/script.ts";
import { THROUGHPUT_TTL_MS } from "../_throughput.ts";

const SHEBANG = "#!lua flags=allow-key-locking";

const PRELUDE = `
local ready, timers, msg, dead, reason = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local call = KEYS[6]
${CALL_RECORD_LUA}
local P = 17592186044416
local function fmt(x) return string.format("%.0f", x) end
local function lease(member) return string.match(member, "^(.*)|([^|]*)$") end
local function scoreOf(token) return string.match(token, ":([^:]*)$") end
local function keyOf(token) return string.match(token, "^[^:]*:(.*):[^:]*$") end
`;

/** Builds a script's source: the shebang, the prelude, then the given parts. */
export function lua(...parts: string[]): string {
  return [SHEBANG, PRELUDE, ...parts].join("\n").trim() + "\n";
}

/**
 * Builds the source of a script that changes state, as `lua()` does, refusing to run
 * without its call record key (`KEYS[6]`) before any write.
 */
export function luaCall(name: string, ...parts: string[]): string {
  return lua(
    `if not call then return redis.error_reply("ERR ${name}: no call record key") end`,
    ...parts,
  );
}

/**
 * Builds a read-only script's source, as `lua()` does but flagged `no-writes`: Redis
 * refuses any write it attempts, and may run it on a replica.
 */
export function luaReadOnly(...parts: string[]): string {
  return [`${SHEBANG},no-writes`, PRELUDE, ...parts].join("\n").trim() + "\n";
}

/**
 * own(leaseUntil, claimToken): the leases a claim request with this token already made,
 * found by their exact score; a retried request answers them again instead of leasing
 * others. In the order they were claimed (ready score, then id).
 */
export const OWN = `
local function own(leaseUntil, claimToken)
  local mine, prefix = {}, claimToken .. ":"
  local found = redis.call("ZRANGEBYSCORE", timers, "-" .. leaseUntil, "-" .. leaseUntil)
  for i, member in ipairs(found) do
    local id, token = lease(member)
    if id and string.sub(token, 1, #prefix) == prefix then
      mine[#mine + 1] = { id = id, token = token, score = tonumber(scoreOf(token)), i = i }
    end
  end
  table.sort(mine, function(a, b)
    if a.score ~= b.score then return a.score < b.score end
    return a.i < b.i
  end)
  return mine
end
`;

/**
 * tidy(now): moves due delays to ready (as of their eta) and expired leases back to ready
 * (with the score they had), at most 1000 per call. One call when nothing is due. Returns
 * the flow keys of the leases it recovered (one per lease), for free() in `KEYED`.
 */
export const TIDY = `
local function tidy(now)
  local due = redis.call("ZRANGEBYSCORE", timers, "-" .. now, fmt(tonumber(now) * 512 + 511),
    "WITHSCORES", "LIMIT", 0, 1000)
  local back, gone, keys = {}, {}, {}
  if #due == 0 then return keys end
  for i = 1, #due, 2 do
    local member, s = due[i], tonumber(due[i + 1])
    gone[#gone + 1] = member
    if s < 0 then
      local id, token = lease(member)
      if id then
        back[#back + 1] = scoreOf(token)
        back[#back + 1] = id
        keys[#keys + 1] = keyOf(token)
      end
    else
      local eta = math.floor(s / 512)
      back[#back + 1] = fmt((s - eta * 512 - 255) * P + eta)
      back[#back + 1] = member
    end
  end
  if #back > 0 then redis.call("ZADD", ready, unpack(back)) end
  redis.call("ZREM", timers, unpack(gone))
  return keys
end
`;

/** expireDead(cutoff): drops dead letters that died at or before `cutoff`, at most 1000. */
export const EXPIRE_DEAD = `
local function expireDead(cutoff)
  local old = redis.call("ZRANGEBYSCORE", dead, "-inf", cutoff, "LIMIT", 0, 1000)
  if #old == 0 then return end
  redis.call("ZREM", dead, unpack(old))
  redis.call("HDEL", msg, unpack(old))
  redis.call("HDEL", reason, unpack(old))
end
`;

/**
 * held(): for the (id, token) pairs in ARGV, 1 if leased under that token, else 0 (a
 * lease named twice counts once); and the held ones as { member, id, token }.
 */
export const HELD = `
local function held()
  local members, out, found, seen = {}, {}, {}, {}
  for i = 1, #ARGV / 2 do members[i] = ARGV[2 * i - 1] .. "|" .. ARGV[2 * i] end
  local scores = redis.call("ZMSCORE", timers, unpack(members))
  for i, member in ipairs(members) do
    out[i] = 0
    if scores[i] and tonumber(scores[i]) < 0 and not seen[member] then
      seen[member] = true
      out[i] = 1
      found[#found + 1] = { member = member, id = ARGV[2 * i - 1], token = ARGV[2 * i] }
    end
  end
  return out, found
end
`;

/**
 * ended(finish): ends the leases named in ARGV (id, token pairs) that are still held, by
 * calling finish(found) with them, and records the answer (a list of 1 or 0 per pair). A
 * retry of the same call finds some lease gone and answers the recorded list; a first run
 * reads the record only when some token is stale (or named twice).
 */
export const ENDED = `
local function ended(finish)
  local out, found = held()
  if #found < #out then
    local first = replay()
    if first then return cjson.decode(first) end
  end
  if #found > 0 then
    finish(found)
    remember(cjson.encode(out))
  end
  return out
end
`;

/**
 * within(ids, budget): the bodies of the longest prefix of `ids` whose bytes stay within
 * `budget` (always at least one), and its length. Reads in chunks: the first of 16, each
 * next sized by the budget left and the largest body seen, so that large bodies are not
 * all copied to find out that few fit. One HMGET when the ids are 16 or fewer.
 */
export const WITHIN = `
local function within(ids, budget)
  local bodies, bytes, big, n, read = {}, 0, 1, 0, 0
  budget = tonumber(budget)
  while read < #ids do
    local size = 16
    if read > 0 then size = math.floor((budget - bytes) / big) + 1 end
    local chunk = {}
    for i = read + 1, math.min(#ids, read + size) do chunk[#chunk + 1] = ids[i] end
    local got = redis.call("HMGET", msg, unpack(chunk))
    for i = 1, #chunk do
      local length = got[i] and #got[i] or 0
      if n > 0 and bytes + length > budget then return bodies, n end
      n = n + 1
      bodies[n] = got[i]
      bytes = bytes + length
      if length > big then big = length end
    end
    read = read + #chunk
  end
  return bodies, n
end
`;

/**
 * room(rate, now, want, parallelism, limit, period): how many messages the queue's flow
 * control lets a claim lease now, at most `want` (see `docs/flow_control.md`). With
 * `parallelism` (0: none), the live leases are counted: `ZCOUNT` of the lease scores below
 * `-now` (expired ones are not counted, and a claim's tidy() recovers them first). With a
 * `limit` per `period` (0: none), the key `rate` holds `<window>:<claimed>` of the current
 * fixed window (`floor(now / period)`), read with `GET`. Also returns what spend() needs.
 *
 * spend(state, n): counts `n` claims in the window (one `SET ... PX` to the window's end),
 * nothing when there is no rate or `n` is 0.
 */
export const FLOW = `
local function room(rate, now, want, parallelism, limit, period)
  parallelism, limit, period = tonumber(parallelism), tonumber(limit), tonumber(period)
  if parallelism > 0 and want > 0 then
    local live = redis.call("ZCOUNT", timers, "-inf", "(-" .. now)
    want = math.min(want, parallelism - live)
  end
  local state = nil
  if limit > 0 and want > 0 then
    local window, used = math.floor(tonumber(now) / period), 0
    local got = redis.call("GET", rate)
    if got then
      local w, n = string.match(got, "^(%d+):(%d+)$")
      if tonumber(w) == window then used = tonumber(n) end
    end
    want = math.min(want, limit - used)
    state = { rate = rate, window = window, used = used, period = period, now = tonumber(now) }
  end
  return math.max(want, 0), state
end
local function spend(state, n)
  if not state or n == 0 then return end
  local rate, ends = state.rate, (state.window + 1) * state.period
  redis.call("SET", rate, fmt(state.window) .. ":" .. (state.used + n), "PX", fmt(ends - state.now))
end
`;

/** unique(from): ARGV[from..], duplicates dropped, in order. */
export const UNIQUE = `
local function unique(from)
  local ids, seen = {}, {}
  for i = from, #ARGV do
    if not seen[ARGV[i]] then
      seen[ARGV[i]] = true
      ids[#ids + 1] = ARGV[i]
    end
  end
  return ids
end
`;

/**
 * Per-key flow control (`keyParallelism`, see the layout above); `flow` and `parked` are
 * set by the script (nil: the queue has none, and free() does nothing).
 *
 * - flowKeyOf(body): the body's `flowKey`, or nil (a body without the text is not parsed).
 * - leased(keys): the live lease count of each of the distinct `keys`, one `HMGET`.
 * - parkOf(key, score, id): the member in `parked` of a message with that ready score.
 * - unpark(member): the id and ready score of a parked member.
 * - free(keys): ends one lease per entry of `keys` (nil entries, leases without a key, are
 *   skipped): per key, `HINCRBY` of its count, and `ZRANGEBYLEX` of as many of its parked
 *   messages as slots freed, moved back to ready with their scores (`ZREM`, `ZADD`,
 *   `HDEL` of their index fields and of the count when it reaches 0).
 */
export const KEYED = `
local flow, parked = nil, nil
local OFFSET = 255 * P
local function flowKeyOf(body)
  if not body or not string.find(body, '"flowKey":', 1, true) then return nil end
  local ok, m = pcall(cjson.decode, body)
  if ok and type(m) == "table" and type(m.flowKey) == "string" then return m.flowKey end
  return nil
end
local function leased(keys)
  local out = {}
  if #keys == 0 then return out end
  local got = redis.call("HMGET", flow, unpack(keys))
  for i, k in ipairs(keys) do out[k] = tonumber(got[i] or "0") end
  return out
end
local function parkOf(key, score, id)
  return key .. "|" .. string.format("%016.0f", tonumber(score) + OFFSET) .. "|" .. id
end
local function unpark(member)
  local s, id = string.match(member, "^[^|]*|(%d+)|(.*)$")
  return id, fmt(tonumber(s) - OFFSET)
end
local function free(keys)
  if not flow then return end
  local n, order = {}, {}
  for _, k in ipairs(keys) do
    if not n[k] then
      order[#order + 1] = k
      n[k] = 0
    end
    n[k] = n[k] + 1
  end
  for _, k in ipairs(order) do
    local gone = {}
    if redis.call("HINCRBY", flow, k, -n[k]) <= 0 then gone[1] = k end
    local waiting = redis.call("ZRANGEBYLEX", parked, "[" .. k .. "|", "(" .. k .. "}", "LIMIT", 0, n[k])
    if #waiting > 0 then
      local back = {}
      for _, m in ipairs(waiting) do
        local id, score = unpark(m)
        back[#back + 1] = score
        back[#back + 1] = id
        gone[#gone + 1] = "|" .. id
      end
      redis.call("ZREM", parked, unpack(waiting))
      redis.call("ZADD", ready, unpack(back))
    end
    if #gone > 0 then redis.call("HDEL", flow, unpack(gone)) end
  end
end
`;

/**
 * count(counter, n): adds `n` finished messages to a minute's counter, when the caller
 * passed one (`INCRBY`), and gives it its TTL on the first write of that minute (`PEXPIRE`,
 * when the answer is `n`). Called only by a first run that applied its transition, before
 * its call record is written: a retry of the call never counts again.
 */
export const COUNT = `
local function count(counter, n)
  if not counter or n == 0 then return end
  if redis.call("INCRBY", counter, n) == n then redis.call("PEXPIRE", counter, ${THROUGHPUT_TTL_MS}) end
end
`;

/**
 * storeIn(ready, timers, msg, list): stores entries `{ id, "r" or "d", score, body }` in one
 * queue as an enqueue does: the body in `msg` (an id already there, or twice in the list, is
 * left alone), the id in `ready` (`r`) or `timers` (`d`). 2 commands for one entry (`HSETNX`,
 * `ZADD`), 3 or 4 for several (`HMGET`, `HSET`, a `ZADD` per sorted set). Answers the entries
 * stored, in order. Uses no key but its arguments, so any script may include it.
 */
export const STORE = `
local function storeIn(ready, timers, msg, list)
  if #list == 1 then
    local e = list[1]
    if redis.call("HSETNX", msg, e[1], e[4]) == 0 then return {} end
    if e[2] == "r" then
      redis.call("ZADD", ready, e[3], e[1])
    else
      redis.call("ZADD", timers, e[3], e[1])
    end
    return list
  end
  local ids = {}
  for i, e in ipairs(list) do ids[i] = e[1] end
  local found = redis.call("HMGET", msg, unpack(ids))
  local seen, stored, bodies, soon, later = {}, {}, {}, {}, {}
  for i, e in ipairs(list) do
    if not found[i] and not seen[e[1]] then
      seen[e[1]] = true
      stored[#stored + 1] = e
      bodies[#bodies + 1] = e[1]
      bodies[#bodies + 1] = e[4]
      local set = e[2] == "r" and soon or later
      set[#set + 1] = e[3]
      set[#set + 1] = e[1]
    end
  end
  if #bodies > 0 then
    redis.call("HSET", msg, unpack(bodies))
    if #soon > 0 then redis.call("ZADD", ready, unpack(soon)) end
    if #later > 0 then redis.call("ZADD", timers, unpack(later)) end
  end
  return stored
end
`;

/**
 * filled(t, fill, now): a continuation template `{ queue, id, priority, delay, eta, fill,
 * head, sep, middle }` made into a message at `now`: `"r"` or `"d"`, its score, its body (with
 * the result appended when the template takes it). Needs the prelude's `fmt` and `P`.
 */
export const FILL = `
local function filled(t, fill, now)
  local delay, eta, priority = tonumber(t[4]), tonumber(t[5]), tonumber(t[3])
  local due = math.max(now + delay, eta)
  local body = t[7]
  if t[6] == 1 and fill ~= "" then body = body .. t[8] .. fill end
  body = body .. t[9] .. fmt(now)
  if delay > 0 or eta > 0 then body = body .. ',"eta":' .. fmt(due) end
  body = body .. "}"
  if due > now then return "d", fmt(due * 512 + priority + 255), body end
  return "r", fmt(priority * P + now), body
end
`;
