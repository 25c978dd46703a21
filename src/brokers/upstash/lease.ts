/**
 * The scripts of `UpstashBroker` that end or extend a lease: ack, release, extend. Each
 * checks the fencing token first: the lease `id|token` must still be in `timers`.
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { COUNT, ENDED, HELD, KEYED, lua, luaCall } from "./_lua.ts";

/**
 * Deletes finished messages whose lease token still matches. Safe to repeat with the same
 * outcome: a first run that acks records its answer; a retry of the same call (its first
 * answer lost) finds the leases gone, then the record, and answers it again (acked, not
 * stale). 3 commands for one lease, 4 for a batch; a stale token costs 1 more (the `GET`
 * of the record) instead of the writes. With a counter, 1 more (`INCRBY` of the number
 * acked), 2 on the first write of its minute (`PEXPIRE`).
 *
 * - KEYS: ready, timers, msg, dead, reason, call (see `_lua.ts`), [flow, parked: with
 *   `keyParallelism`, whose slots it frees (`free()` in `_lua.ts`)], [the minute's `acked`
 *   counter: last, when the broker counts throughput].
 * - ARGV: id, token, id, token, ...
 * - Returns: 1 (acknowledged) or 0 (stale token) for each lease.
 *
 * @example
 * ```ts ignore
 * const [done] = await ACK.run(redis, callKeys(namespace, queue), [claim.id, claim.token]);
 * ```
 */
export const ACK: Script<number[]> = /* @__PURE__ */ new Script(
  "skiff-ack",
  luaCall(
    "skiff-ack",
    HELD,
    ENDED,
    KEYED,
    COUNT,
    `
if #KEYS >= 8 then flow, parked = KEYS[7], KEYS[8] end
local counter = #KEYS % 2 == 1 and KEYS[#KEYS] or nil
if #ARGV == 2 then
  if redis.call("ZREM", timers, ARGV[1] .. "|" .. ARGV[2]) == 0 then return cjson.decode(replay() or "[0]") end
  redis.call("HDEL", msg, ARGV[1])
  free({ keyOf(ARGV[2]) })
  count(counter, 1)
  remember("[1]")
  return { 1 }
end
return ended(function(found)
  local members, ids, keys = {}, {}, {}
  for i, f in ipairs(found) do
    members[i] = f.member
    ids[i] = f.id
    keys[#keys + 1] = keyOf(f.token)
  end
  redis.call("ZREM", timers, unpack(members))
  redis.call("HDEL", msg, unpack(ids))
  free(keys)
  count(counter, #found)
end)
`,
  ),
);

/**
 * Hands leased messages back to ready with the score they had, if the token matches. Safe
 * to repeat with the same outcome, as ACK is. 3 commands for one lease, 4 for a batch.
 *
 * - KEYS: ready, timers, msg, dead, reason, call (see `_lua.ts`), [flow, parked: with
 *   `keyParallelism`, whose slots it frees (`free()` in `_lua.ts`)].
 * - ARGV: id, token, id, token, ...
 * - Returns: 1 (released) or 0 (stale token) for each lease.
 *
 * @example
 * ```ts ignore
 * const [released] = await RELEASE.run(redis, callKeys(namespace, queue), [claim.id, claim.token]);
 * ```
 */
export const RELEASE: Script<number[]> = /* @__PURE__ */ new Script(
  "skiff-release",
  luaCall(
    "skiff-release",
    HELD,
    ENDED,
    KEYED,
    `
if #KEYS >= 8 then flow, parked = KEYS[7], KEYS[8] end
if #ARGV == 2 then
  if redis.call("ZREM", timers, ARGV[1] .. "|" .. ARGV[2]) == 0 then return cjson.decode(replay() or "[0]") end
  redis.call("ZADD", ready, scoreOf(ARGV[2]), ARGV[1])
  free({ keyOf(ARGV[2]) })
  remember("[1]")
  return { 1 }
end
return ended(function(found)
  local members, back, keys = {}, {}, {}
  for i, f in ipairs(found) do
    members[i] = f.member
    back[#back + 1] = scoreOf(f.token)
    back[#back + 1] = f.id
    keys[#keys + 1] = keyOf(f.token)
  end
  redis.call("ZREM", timers, unpack(members))
  redis.call("ZADD", ready, unpack(back))
  free(keys)
end)
`,
  ),
);

/**
 * Moves a lease's end to `leaseUntil` if the token matches: a heartbeat. 1 command, 2
 * when the end does not change. Safe to repeat with the same outcome without a call
 * record: a retry sets the same end again and answers 1 while the lease is held.
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
export const EXTEND_LEASE: Script<number> = /* @__PURE__ */ new Script(
  "skiff-extend-lease",
  lua(`
local member = ARGV[1] .. "|" .. ARGV[2]
if redis.call("ZADD", timers, "XX", "CH", "-" .. ARGV[3], member) == 1 then return 1 end
if redis.call("ZSCORE", timers, member) then return 1 end
return 0
`),
);
