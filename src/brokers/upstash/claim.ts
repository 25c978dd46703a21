/**
 * The claim scripts of `UpstashBroker`.
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { lua, luaCall, OWN, TIDY, UNIQUE } from "./_lua.ts";

/**
 * Promotes due delays, recovers expired leases, then leases up to `count` ready messages,
 * lowest score first. Safe to repeat with the same outcome: the claim token is the call id,
 * and the call record is written first (`SET NX`); a retry of the same call finds it, then
 * answers the leases the first run made (found by the token they carry) and leases nothing
 * else, not even when the first run found nothing. 3 commands when idle, 5 when it leases.
 *
 * - KEYS: ready, timers, msg, dead, reason, call (`call:<claim token>`, see `_lua.ts`).
 * - ARGV: now, count, leaseUntil, claim token (fresh per call).
 * - Returns: JSON `[id, token, body, ...]`.
 *
 * @example
 * ```ts ignore
 * const token = newCallId();
 * const keys = [...queueKeys(namespace, queue), callKey(namespace, queue, token)];
 * const json = await CLAIM.run(redis, keys, [now, 10, now + 30_000, token]);
 * ```
 */
export const CLAIM: Script<unknown> = new Script(
  "skiff-claim",
  luaCall(
    "skiff-claim",
    OWN,
    TIDY,
    `
local now, leaseUntil, claimToken = ARGV[1], ARGV[3], ARGV[4]
local mine = {}
if once("1") then
  mine = own(leaseUntil, claimToken)
  if #mine == 0 then return "[]" end
else
  tidy(now)
  local popped = redis.call("ZPOPMIN", ready, ARGV[2])
  if #popped == 0 then return "[]" end
  local leases = {}
  for i = 1, #popped, 2 do
    local id, token = popped[i], claimToken .. ":" .. popped[i + 1]
    mine[#mine + 1] = { id = id, token = token }
    leases[#leases + 1] = "-" .. leaseUntil
    leases[#leases + 1] = id .. "|" .. token
  end
  redis.call("ZADD", timers, unpack(leases))
end
local ids, out = {}, {}
for i, m in ipairs(mine) do ids[i] = m.id end
local bodies = redis.call("HMGET", msg, unpack(ids))
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
 * are: `delayed`, `dead`, `leased` (by someone else) or `missing`. A retried request
 * answers its own leases again, found by the claim token they carry: a message is claimed
 * by id or not at all, so this needs no call record (which would cost every push one more
 * command). 5 commands when every id is ready.
 *
 * - KEYS: ready, timers, msg, dead, reason (see `_lua.ts`).
 * - ARGV: now, leaseUntil, claim token, id...
 * - Returns: JSON `[[id, token, body, ...], [id, state, ...]]`.
 *
 * @example
 * ```ts ignore
 * const json = await CLAIM_BY_ID.run(redis, keys, [now, now + 30_000, newCallId(), id]);
 * ```
 */
export const CLAIM_BY_ID: Script<unknown> = new Script(
  "skiff-claim-by-id",
  lua(
    OWN,
    TIDY,
    UNIQUE,
    `
local now, leaseUntil, claimToken = ARGV[1], ARGV[2], ARGV[3]
tidy(now)
local ids = unique(4)
local scores = redis.call("ZMSCORE", ready, unpack(ids))
local tokens, states, rest, taken, leases = {}, {}, {}, {}, {}
for i, id in ipairs(ids) do
  if scores[i] then
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
end
local bodies = redis.call("HMGET", msg, unpack(ids))
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
return cjson.encode({ claimed, unclaimed })
`,
  ),
);
