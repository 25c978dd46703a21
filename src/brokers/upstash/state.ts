/**
 * The read-only script of `UpstashBroker`: where messages are, changing nothing.
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { luaReadOnly } from "./_lua.ts";

/**
 * Tells where messages are: `missing` (done, never sent, or a dead letter past the
 * cutoff), `ready`, `delayed` (a due delay too, until a claim promotes it), `dead`, or
 * `leased` (an expired lease too, until a claim recovers it). Each command asks about
 * every id still unknown at once, and is left out once none is: per batch, 1 command when
 * all are missing, 2 when all are dead, 3 when ready, 4 at most (`HMGET`, then `ZMSCORE`
 * of dead, ready and timers; a leased message is what is in none of them).
 *
 * - KEYS: ready, timers, msg, dead, reason (see `_lua.ts`), [flow: with `keyParallelism`,
 *   one more `HMGET` of its index finds the parked messages, which are ready].
 * - ARGV: cutoff (dead letters that died at or before it count as missing), id...
 * - Returns: JSON, the state of each id, in order.
 *
 * @example
 * ```ts ignore
 * const json = await STATE.run(redis, keys, [cutoff, id]);
 * ```
 */
export const STATE: Script<unknown> = /* @__PURE__ */ new Script(
  "skiff-state",
  luaReadOnly(`
local cutoff, ids, out, open = tonumber(ARGV[1]), {}, {}, {}
for i = 2, #ARGV do ids[i - 1] = ARGV[i] end
local bodies = redis.call("HMGET", msg, unpack(ids))
for i = 1, #ids do
  if bodies[i] then open[#open + 1] = i else out[i] = "missing" end
end
local function unknown()
  local names = {}
  for j, i in ipairs(open) do names[j] = ids[i] end
  return names
end
local function sift(scores, found)
  local rest = {}
  for j, i in ipairs(open) do
    if scores[j] then out[i] = found(tonumber(scores[j])) else rest[#rest + 1] = i end
  end
  open = rest
end
if #open > 0 then
  sift(redis.call("ZMSCORE", dead, unpack(unknown())), function(deadAt)
    if deadAt <= cutoff then return "missing" end
    return "dead"
  end)
end
if #open > 0 then
  sift(redis.call("ZMSCORE", ready, unpack(unknown())), function() return "ready" end)
end
if #open > 0 then
  -- Delays are members by id; leases are \`id|token\`, so never match here.
  sift(redis.call("ZMSCORE", timers, unpack(unknown())), function() return "delayed" end)
end
local flow = KEYS[6]
if #open > 0 and flow then
  -- With keyParallelism: a message parked while its flow key was full is ready.
  local index = {}
  for j, i in ipairs(open) do index[j] = "|" .. ids[i] end
  sift(redis.call("HMGET", flow, unpack(index)), function() return "ready" end)
end
for _, i in ipairs(open) do out[i] = "leased" end
return cjson.encode(out)
`),
);
