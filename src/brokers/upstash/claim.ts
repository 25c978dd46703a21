/**
 * The claim scripts of `UpstashBroker`.
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { FLOW, KEYED, lua, luaCall, OWN, TIDY, UNIQUE, WITHIN } from "./_lua.ts";

/**
 * Promotes due delays, recovers expired leases, then leases up to `count` ready messages,
 * lowest score first, stopping before the body that would pass `maxBytes` (it always
 * leases one): the ones popped beyond go back with their scores. Safe to repeat with the
 * same outcome: the claim token is the call id, and the call record is written first
 * (`SET NX`); a retry of the same call finds it, then answers the leases the first run made
 * (found by the token they carry) and leases nothing else, not even when the first run
 * found nothing. 3 commands when idle, 5 when it leases up to 16 that fit; one more HMGET
 * per further chunk of bodies read (`within()`), one more ZADD when some go back.
 *
 * With flow control (`room()` in `_lua.ts`), it leases no more than the queue's
 * `parallelism` and `rate` leave room for, and pops nothing when there is none: `ZCOUNT`
 * of the live leases (1 command), `GET` of the rate window (1), and its `SET` when it
 * leased some (1). A retry counts nothing again: it only answers the first run's leases.
 *
 * With `keyParallelism` (`KEYED` in `_lua.ts`), it pops in rounds (the first of `count`,
 * then doubling, at most 1000 popped in all) until it has leased `count`: a message whose
 * flow key is full is parked (`ZADD` of `parked`, its index field in `flow`), so that a
 * key's backlog holds up no other key. 1 `HMGET` of the keys' lease counts per round that
 * finds new keys, 1 `HSET` of the counts and index; lease recovery frees the slots of the
 * expired leases (`free()`).
 *
 * - KEYS: ready, timers, msg, dead, reason, call (`call:<claim token>`, see `_lua.ts`),
 *   [rate (`rateKey()`), with a rate limit or `keyParallelism`], [flow, parked
 *   (`flowKeys()`), with `keyParallelism`].
 * - ARGV: now, count, leaseUntil, claim token (fresh per call), maxBytes, [parallelism,
 *   rate limit, rate period, keyParallelism (0: none)].
 * - Returns: JSON `[id, token, body, ...]`.
 *
 * @example
 * ```ts ignore
 * const token = newCallId();
 * const keys = [...queueKeys(namespace, queue), callKey(namespace, queue, token)];
 * const json = await CLAIM.run(redis, keys, [now, 10, now + 30_000, token, 1_048_576]);
 * ```
 */
export const CLAIM: Script<unknown> = /* @__PURE__ */ new Script(
  "skiff-claim",
  luaCall(
    "skiff-claim",
    OWN,
    TIDY,
    WITHIN,
    FLOW,
    KEYED,
    `
local now, leaseUntil, claimToken = ARGV[1], ARGV[3], ARGV[4]
local limit = tonumber(ARGV[9] or "0")
local mine, ids, bodies, out = {}, {}, {}, {}

-- With keyParallelism: pops in rounds (the first of want, then doubling, at most 1000 in
-- all) until want are leased; a message whose flow key is full is parked, so that a key's
-- backlog does not hold up the others and is not popped again before a slot frees.
local function keyed(want, budget)
  local taken, got, leases, back, parks, fields = {}, {}, {}, {}, {}, {}
  local count, changed, bytes, popped, size, full = {}, {}, 0, 0, want, false
  budget = tonumber(budget)
  while not full and #taken < want and popped < 1000 do
    local found = redis.call("ZPOPMIN", ready, size)
    if #found == 0 then break end
    local ids, keys, fresh = {}, {}, {}
    for i = 1, #found, 2 do ids[#ids + 1] = found[i] end
    popped = popped + #ids
    local texts = redis.call("HMGET", msg, unpack(ids))
    for i = 1, #ids do
      local k = flowKeyOf(texts[i])
      keys[i] = k or false
      if k and not count[k] then
        count[k] = -1
        fresh[#fresh + 1] = k
      end
    end
    for k, n in pairs(leased(fresh)) do count[k] = n end
    for i, id in ipairs(ids) do
      local score, k, text = found[2 * i], keys[i], texts[i]
      local length = text and #text or 0
      if full or #taken >= want then
        back[#back + 1] = score
        back[#back + 1] = id
      elseif k and count[k] >= limit then
        local member = parkOf(k, score, id)
        parks[#parks + 1] = 0
        parks[#parks + 1] = member
        fields[#fields + 1] = "|" .. id
        fields[#fields + 1] = member
      elseif #taken > 0 and bytes + length > budget then
        full = true
        back[#back + 1] = score
        back[#back + 1] = id
      else
        bytes = bytes + length
        local token = claimToken .. ":" .. (k and (k .. ":") or "") .. score
        taken[#taken + 1] = { id = id, token = token }
        got[#taken] = text
        leases[#leases + 1] = "-" .. leaseUntil
        leases[#leases + 1] = id .. "|" .. token
        if k then
          count[k] = count[k] + 1
          changed[k] = true
        end
      end
    end
    size = math.min(1000 - popped, math.max(2 * size, want - #taken))
  end
  for k in pairs(changed) do
    fields[#fields + 1] = k
    fields[#fields + 1] = count[k]
  end
  if #leases > 0 then redis.call("ZADD", timers, unpack(leases)) end
  if #back > 0 then redis.call("ZADD", ready, unpack(back)) end
  if #parks > 0 then redis.call("ZADD", parked, unpack(parks)) end
  if #fields > 0 then redis.call("HSET", flow, unpack(fields)) end
  return taken, got
end

if once("1") then
  mine = own(leaseUntil, claimToken)
  if #mine == 0 then return "[]" end
  for i, m in ipairs(mine) do ids[i] = m.id end
  bodies = redis.call("HMGET", msg, unpack(ids))
elseif limit > 0 then
  flow, parked = KEYS[8], KEYS[9]
  free(tidy(now))
  local want, rate = room(KEYS[7], now, tonumber(ARGV[2]), ARGV[6], ARGV[7], ARGV[8])
  if want == 0 then return "[]" end
  mine, bodies = keyed(want, ARGV[5])
  spend(rate, #mine)
else
  tidy(now)
  local want, flow = room(KEYS[7], now, tonumber(ARGV[2]), ARGV[6] or 0, ARGV[7] or 0, ARGV[8] or 0)
  if want == 0 then return "[]" end
  local popped = redis.call("ZPOPMIN", ready, want)
  if #popped == 0 then return "[]" end
  for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end
  local taken
  bodies, taken = within(ids, ARGV[5])
  local leases, back = {}, {}
  for i = 1, #popped, 2 do
    local id, score = popped[i], popped[i + 1]
    if (i + 1) / 2 <= taken then
      local token = claimToken .. ":" .. score
      mine[#mine + 1] = { id = id, token = token }
      leases[#leases + 1] = "-" .. leaseUntil
      leases[#leases + 1] = id .. "|" .. token
    else
      back[#back + 1] = score
      back[#back + 1] = id
    end
  end
  redis.call("ZADD", timers, unpack(leases))
  if #back > 0 then redis.call("ZADD", ready, unpack(back)) end
  spend(flow, taken)
end
for i, m in ipairs(mine) do
  out[#out + 1] = m.id
  out[#out + 1] = m.token
  out[#out + 1] = bodies[i] or ""
end
return cjson.encode(out)
`,
  ),
);

/**
 * Leases the given messages if ready, due or lease-expired, and tells where the others
 * are: `delayed`, `dead`, `leased` (by someone else) or `missing`. It handles the longest
 * prefix of the ids whose bodies stay within `maxBytes` (at least one) and answers the rest
 * as deferred, untouched, for another call. A retried request answers its own leases
 * again, found by the claim token they carry: a message is claimed by id or not at all, so
 * this needs no call record (which would cost every push one more command). 5 commands
 * when every id is ready and there are 16 or fewer.
 *
 * With flow control (`room()` in `_lua.ts`), ready ids beyond the room the queue's
 * `parallelism` and `rate` leave stay ready and are answered `busy`: 1 more command for
 * the parallelism (`ZCOUNT`), 2 for the rate (`GET`, and `SET` when some are leased), none
 * when no given id is ready. A retry finds its own leases among the live ones, so it
 * answers the same ids busy.
 *
 * With `keyParallelism`, a parked message is claimed as a ready one (found by its index
 * field in `flow`: 1 `HMGET` when some id is not in ready), and a ready one whose flow key
 * is full is answered `busy` and left where it is: 1 `HMGET` of the keys' lease counts, and
 * 1 `HSET` of them when some are leased.
 *
 * With a key to remember once (the push endpoint's signature MAC, `once` TTL > 0): 1 more
 * command (`SET NX GET`); when another call set it, the answer is `["replayed"]` and
 * nothing is claimed. The mark's value is the claim token, so a retry of the same call
 * recognises its own mark and answers its own leases again.
 *
 * - KEYS: ready, timers, msg, dead, reason (see `_lua.ts`), [rate, with a rate limit,
 *   `keyParallelism` or a once key], [flow, parked, with `keyParallelism`], [the once key,
 *   last].
 * - ARGV: now, leaseUntil, claim token, maxBytes, parallelism, rate limit, rate period,
 *   keyParallelism (0: none), once TTL in milliseconds (0: none), id...
 * - Returns: JSON `[[id, token, body, ...], [id, state, ...], [deferred id, ...]]`, or
 *   `["replayed"]`.
 *
 * @example
 * ```ts ignore
 * const json = await CLAIM_BY_ID.run(redis, keys, [now, now + 30_000, newCallId(), 1_048_576, 0, 0, 0, 0, 0, id]);
 * ```
 */
export const CLAIM_BY_ID: Script<unknown> = /* @__PURE__ */ new Script(
  "skiff-claim-by-id",
  lua(
    OWN,
    TIDY,
    UNIQUE,
    WITHIN,
    FLOW,
    KEYED,
    `
local now, leaseUntil, claimToken = ARGV[1], ARGV[2], ARGV[3]
local limit = tonumber(ARGV[8])
-- A key remembered once with the claim (a push's signature): another call's mark means a
-- replay, and nothing is claimed; this call's own mark (its answer lost) goes on.
local onceTtl = tonumber(ARGV[9])
if onceTtl > 0 then
  local once = KEYS[#KEYS]
  local mark = redis.call("SET", once, claimToken, "NX", "GET", "PX", onceTtl)
  if mark and mark ~= claimToken then return cjson.encode({ "replayed" }) end
end
if limit > 0 then flow, parked = KEYS[7], KEYS[8] end
free(tidy(now))
local ids, deferred = unique(10), {}
local bodies, n = within(ids, ARGV[4])
for i = n + 1, #ids do
  deferred[#deferred + 1] = ids[i]
  ids[i] = nil
end
local scores = redis.call("ZMSCORE", ready, unpack(ids))
local tokens, states, rest, taken, leases = {}, {}, {}, {}, {}
local found = 0
-- With keyParallelism: a parked message is ready too (its score is in its member), and a
-- ready one whose flow key is full is busy, left where it is.
local keys, count, members, changed, unparked, fields = {}, {}, {}, {}, {}, {}
if flow then
  local missing = {}
  for i, id in ipairs(ids) do if not scores[i] then missing[#missing + 1] = "|" .. id end end
  if #missing > 0 then
    local got = redis.call("HMGET", flow, unpack(missing))
    local j = 0
    for i, id in ipairs(ids) do
      if not scores[i] then
        j = j + 1
        if got[j] then
          members[i] = got[j]
          local _, score = unpark(got[j])
          scores[i] = score
        end
      end
    end
  end
  local fresh = {}
  for i = 1, #ids do
    keys[i] = scores[i] and flowKeyOf(bodies[i]) or false
    if keys[i] and not count[keys[i]] then
      count[keys[i]] = -1
      fresh[#fresh + 1] = keys[i]
    end
  end
  for k, c in pairs(leased(fresh)) do count[k] = c end
end
for i = 1, #ids do if scores[i] then found = found + 1 end end
local allowed, rate = room(KEYS[6], now, found, ARGV[5], ARGV[6], ARGV[7])
for i, id in ipairs(ids) do
  local k = keys[i]
  if scores[i] and (#taken >= allowed or (k and count[k] >= limit)) then
    states[id] = "busy"
  elseif scores[i] then
    tokens[id] = claimToken .. ":" .. (k and (k .. ":") or "") .. scores[i]
    leases[#leases + 1] = "-" .. leaseUntil
    leases[#leases + 1] = id .. "|" .. tokens[id]
    if members[i] then
      unparked[#unparked + 1] = members[i]
      fields[#fields + 1] = "|" .. id
    else
      taken[#taken + 1] = id
    end
    if k then
      count[k] = count[k] + 1
      changed[k] = true
    end
  else
    rest[#rest + 1] = id
  end
end
if #rest > 0 then
  for _, m in ipairs(own(leaseUntil, claimToken)) do tokens[m.id] = m.token end
  local others = {}
  for _, id in ipairs(rest) do
    if not tokens[id] then others[#others + 1] = id end
  end
  if #others > 0 then
    local delayed = redis.call("ZMSCORE", timers, unpack(others))
    local gone = redis.call("ZMSCORE", dead, unpack(others))
    for i, id in ipairs(others) do
      if delayed[i] then states[id] = "delayed" elseif gone[i] then states[id] = "dead" end
    end
  end
end
if #leases > 0 then
  if #taken > 0 then redis.call("ZREM", ready, unpack(taken)) end
  redis.call("ZADD", timers, unpack(leases))
  spend(rate, #leases / 2)
end
if #unparked > 0 then
  redis.call("ZREM", parked, unpack(unparked))
  redis.call("HDEL", flow, unpack(fields))
end
local counts = {}
for k in pairs(changed) do
  counts[#counts + 1] = k
  counts[#counts + 1] = count[k]
end
if #counts > 0 then redis.call("HSET", flow, unpack(counts)) end
local claimed, unclaimed = {}, {}
for i, id in ipairs(ids) do
  if tokens[id] then
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = tokens[id]
    claimed[#claimed + 1] = bodies[i] or ""
  else
    unclaimed[#unclaimed + 1] = id
    unclaimed[#unclaimed + 1] = states[id] or (bodies[i] and "leased" or "missing")
  end
end
return cjson.encode({ claimed, unclaimed, deferred })
`,
  ),
);
