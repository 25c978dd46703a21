/**
 * The scripts of `UpstashBroker` that end or extend a lease: ack, release, extend. Each
 * checks the fencing token first: the lease `id|token` must still be in `timers`.
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { HELD, lua } from "./_lua.ts";

/**
 * Deletes finished messages whose lease token still matches. A retried request finds the
 * lease gone and answers 0. 2 commands for one lease, 3 for a batch.
 *
 * - KEYS: ready, timers, msg, dead, reason (see `_lua.ts`).
 * - ARGV: id, token, id, token, ...
 * - Returns: 1 (acknowledged) or 0 (stale token) for each lease.
 *
 * @example
 * ```ts ignore
 * const [done] = await ACK.run(redis, keys, [claim.id, claim.token]);
 * ```
 */
export const ACK: Script<number[]> = new Script(
  "skiff-ack",
  lua(
    HELD,
    `
if #ARGV == 2 then
  local done = redis.call("ZREM", timers, ARGV[1] .. "|" .. ARGV[2])
  if done == 1 then redis.call("HDEL", msg, ARGV[1]) end
  return { done }
end
local out, found = held()
if #found > 0 then
  local members, ids = {}, {}
  for i, f in ipairs(found) do
    members[i] = f.member
    ids[i] = f.id
  end
  redis.call("ZREM", timers, unpack(members))
  redis.call("HDEL", msg, unpack(ids))
end
return out
`,
  ),
);

/**
 * Hands leased messages back to ready with the score they had, if the token matches.
 * 2 commands for one lease, 3 for a batch.
 *
 * - KEYS: ready, timers, msg, dead, reason (see `_lua.ts`).
 * - ARGV: id, token, id, token, ...
 * - Returns: 1 (released) or 0 (stale token) for each lease.
 *
 * @example
 * ```ts ignore
 * const [released] = await RELEASE.run(redis, keys, [claim.id, claim.token]);
 * ```
 */
export const RELEASE: Script<number[]> = new Script(
  "skiff-release",
  lua(
    HELD,
    `
if #ARGV == 2 then
  local done = redis.call("ZREM", timers, ARGV[1] .. "|" .. ARGV[2])
  if done == 1 then redis.call("ZADD", ready, scoreOf(ARGV[2]), ARGV[1]) end
  return { done }
end
local out, found = held()
if #found > 0 then
  local members, back = {}, {}
  for i, f in ipairs(found) do
    members[i] = f.member
    back[#back + 1] = scoreOf(f.token)
    back[#back + 1] = f.id
  end
  redis.call("ZREM", timers, unpack(members))
  redis.call("ZADD", ready, unpack(back))
end
return out
`,
  ),
);

/**
 * Moves a lease's end to `leaseUntil` if the token matches: a heartbeat. 1 command, 2
 * when the end does not change.
 *
 * - KEYS: ready, timers, msg, dead, reason (see `_lua.ts`).
 * - ARGV: id, token, leaseUntil.
 * - Returns: 1 (held) or 0 (stale token).
 *
 * @example
 * ```ts ignore
 * const held = await EXTEND_LEASE.run(redis, keys, [claim.id, claim.token, Date.now() + 30_000]);
 * ```
 */
export const EXTEND_LEASE: Script<number> = new Script(
  "skiff-extend-lease",
  lua(`
local member = ARGV[1] .. "|" .. ARGV[2]
if redis.call("ZADD", timers, "XX", "CH", "-" .. ARGV[3], member) == 1 then return 1 end
if redis.call("ZSCORE", timers, member) then return 1 end
return 0
`),
);
