/**
 * The claim scripts of `UpstashBroker`.
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { FLOW, lua, luaCall, OWN, TIDY, UNIQUE, WITHIN } from "./_lua.ts";

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
 * - KEYS: ready, timers, msg, dead, reason, call (`call:<claim token>`, see `_lua.ts`),
 *   [rate (`rateKey()`), with a rate limit].
 * - ARGV: now, count, leaseUntil, claim token (fresh per call), maxBytes, [parallelism,
 *   rate limit, rate period (0: none)].
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
    `
local now, leaseUntil, claimToken = ARGV[1], ARGV[3], ARGV[4]
local mine, ids, bodies, out = {}, {}, {}, {}
if once("1") then
  mine = own(leaseUntil, claimToken)
  if #mine == 0 then return "[]" end
  for i, m in ipairs(mine) do ids[i] = m.id end
  bodies = redis.call("HMGET", msg, unpack(ids))
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
 * - KEYS: ready, timers, msg, dead, reason (see `_lua.ts`), [rate, with a rate limit].
 * - ARGV: now, leaseUntil, claim token, maxBytes, parallelism, rate limit, rate period
 *   (0: none), id...
 * - Returns: JSON `[[id, token, body, ...], [id, state, ...], [deferred id, ...]]`.
 *
 * @example
 * ```ts ignore
 * const json = await CLAIM_BY_ID.run(redis, keys, [now, now + 30_000, newCallId(), 1_048_576, 0, 0, 0, id]);
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
    `
local now, leaseUntil, claimToken = ARGV[1], ARGV[2], ARGV[3]
tidy(now)
local ids, deferred = unique(8), {}
local bodies, n = within(ids, ARGV[4])
for i = n + 1, #ids do
  deferred[#deferred + 1] = ids[i]
  ids[i] = nil
end
local scores = redis.call("ZMSCORE", ready, unpack(ids))
local tokens, states, rest, taken, leases = {}, {}, {}, {}, {}
local found = 0
for i = 1, #ids do if scores[i] then found = found + 1 end end
local allowed, flow = room(KEYS[6], now, found, ARGV[5], ARGV[6], ARGV[7])
for i, id in ipairs(ids) do
  if scores[i] and #taken >= allowed then
    states[id] = "busy"
  elseif scores[i] then
    tokens[id] = claimToken .. ":" .. scores[i]
    taken[#taken + 1] = id
    leases[#leases + 1] = "-" .. leaseUntil
    leases[#leases + 1] = id .. "|" .. tokens[id]
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
if #taken > 0 then
  redis.call("ZREM", ready, unpack(taken))
  redis.call("ZADD", timers, unpack(leases))
  spend(flow, #taken)
end
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
