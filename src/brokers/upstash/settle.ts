/**
 * The settle script of `UpstashBroker`: an ack or a nack and everything that must happen
 * with it, in one transition (see `docs/lifecycle.md`, "Continuations").
 *
 * @module
 */
import { Script } from "../../redis/script.ts";
import { COUNT, EXPIRE_DEAD, FILL, KEYED, luaCall, STORE } from "./_lua.ts";

/**
 * Acks, retries or dead-letters a leased message if its token matches (as ACK and NACK
 * do), then, only then, writes its effects: messages to enqueue (the next step of a
 * pipeline, a group's members, callbacks; an id already stored is left alone), group
 * states to create (`HSETNX left`, so a second start changes nothing), and a member's
 * report to its group. Safe to repeat with the same outcome: a first run that applies
 * records its whole answer; a retry of the same call (its first answer lost) finds the
 * lease gone, then the record, and answers it again (what was enqueued included), writing
 * nothing.
 *
 * A group's state is a hash: `left` (members still to succeed), `done` and `fail` (the
 * templates of its completion and failure), `r:<index>` (a member's result: the set of
 * members that succeeded, so a duplicate report never counts twice), `failed` (the first
 * member that failed for good). When `left` reaches 0 the completion templates are filled
 * with the list of results (`[r:0,r:1,...]`) and enqueued; the first failure fills the
 * failure templates with `messageData,exceptionData`. A report to a group whose state is
 * gone (expired) deletes what it created and answers it in `lost`.
 *
 * A pipeline's plan is a hash: a position to the step there, and `results`. A message
 * step is a list of one template; a group step holds its members' templates and, when
 * tracked, its state's size, ttl and templates (`{n, t, d, f, m}`). A later step of a
 * group's member pipeline is at `<position>:<member>:<step>`, a template read the same
 * way; when the group ends the plan, `open` counts the members whose last stored step is
 * still to be read: reading it takes it (`HDEL`, `HINCRBY open -1`), and the last deletes
 * the plan. An ack whose next step
 * is in the plan reads that step (`HGET`), fills it with the result and enqueues it (a
 * group step: creates the group's state and enqueues its members); a member's report that
 * completes its group reads the step after the group the same way, filled with the list of
 * results (a fan-in). The last step deletes the plan (`DEL`). A plan that is gone answers
 * `planLost`.
 *
 * Commands: the transition's (2 for an ack, 3 or 5 for a nack), then 2 per message to a
 * queue (`HSETNX`, `ZADD`), or 3 or 4 per queue for several; 3 per group started; 2 per
 * member's success, plus `HMGET`, the writes and `PEXPIRE` for the last one; 1 to read a
 * step from a plan (`HGET`), plus its writes (a group step's 3 for its state), plus a `DEL`
 * for the last, or `HDEL` and `HINCRBY` (and a `DEL` for the last) for a member's last step in
 * a plan its group ends; then the `SET` of the call record. A stale token costs 2 (`ZREM`, `GET` of the
 * record). With a counter (`c`), 1 more (`INCRBY`), 2 on the first write of its minute
 * (`PEXPIRE`).
 *
 * - KEYS: ready, timers, msg, dead, reason of the message's queue, the call record; ready,
 *   timers, msg of each other queue written to (in the order of `q` below); each group
 *   state, then the plan, then the state of the group a plan's group step starts, then the
 *   counter of the minute; [flow, parked of the message's queue, last, when `k` is 1: with
 *   `keyParallelism`, the lease's slot is freed (`free()` in `_lua.ts`)].
 * - ARGV: id, token, `a` (ack), `r` (retry) or `d` (dead), the retry's eta or the time of
 *   death, reason, dead-letter cutoff, new body (or ""), now, the effects as JSON (below),
 *   how long a completed group's state is kept, how long a failed one's (milliseconds).
 *   The effects:
 *   `{ q: [queue...], w: [[queue, id, "r"|"d", score, body]...],
 *   g: [[state, size, doneJson, failJson, ttl]...],
 *   m: { s: state, i: index, n: size, k: 0|1, r: resultJson | f: fill },
 *   p: { s: plan, a: field (a position, or position:member:step), f: fill, l: 0|1 (last),
 *   m: 1 (a group step), g: its group's state, c: 1 (a fan-in, filled with the results),
 *   o: 1 (a member's last step, taken) }, c: counter, k: 1 }`
 *   (states, plans and the counter are 1-based positions among the state keys; `k`: the flow
 *   keys are last; numbers as strings).
 * - Returns: JSON `[1, [[queue, id, "r"|"d"]...], lost, planLost]`, or `[0]` for a stale
 *   token.
 *
 * @example
 * ```ts ignore
 * const { keys, args } = settleRequest(queue, lease, { kind: "ack", effects }, options);
 * const json = await SETTLE.run(redis, keys, args);
 * ```
 */
export const SETTLE: Script<unknown> = /* @__PURE__ */ new Script(
  "skiff-settle",
  luaCall(
    "skiff-settle",
    EXPIRE_DEAD,
    KEYED,
    COUNT,
    STORE,
    FILL,
    `
local id, token, kind = ARGV[1], ARGV[2], ARGV[3]
local at, now = tonumber(ARGV[4]), tonumber(ARGV[8])
local score = tonumber(scoreOf(token) or "")
-- Checked before the first write: Redis does not undo a script that fails halfway.
if not at or not now then return redis.error_reply("ERR skiff-settle: the time is not a number") end
local fx = cjson.decode(ARGV[9])
local names = fx.q or {}
local base = {}
for i, name in ipairs(names) do base[name] = i == 1 and 0 or 6 + 3 * (i - 2) end
for _, e in ipairs(fx.w or {}) do
  if not base[e[1]] then return redis.error_reply("ERR skiff-settle: a queue has no keys") end
end
if fx.k == 1 then flow, parked = KEYS[#KEYS - 1], KEYS[#KEYS] end
if not score then return "[0]" end
if redis.call("ZREM", timers, id .. "|" .. token) == 0 then return replay() or "[0]" end
free({ keyOf(token) })
local p = math.floor(score / P)
if kind == "a" then
  redis.call("HDEL", msg, id)
else
  if ARGV[7] ~= "" then redis.call("HSET", msg, id, ARGV[7]) end
  if kind == "r" then
    redis.call("ZADD", timers, fmt(at * 512 + p + 255), id)
  else
    expireDead(ARGV[6])
    redis.call("ZADD", dead, ARGV[4], id)
    redis.call("HSET", reason, id, p .. "|" .. ARGV[5])
  end
end

local states = 6 + 3 * math.max(#names - 1, 0)
local out, lost = {}, 0

-- entries: { queue, id, "r" or "d", score, body }; grouped by queue, in order.
local function store(entries)
  local order, byQueue = {}, {}
  for _, e in ipairs(entries) do
    if not byQueue[e[1]] then
      byQueue[e[1]] = {}
      order[#order + 1] = e[1]
    end
    table.insert(byQueue[e[1]], e)
  end
  for _, name in ipairs(order) do
    local k, list = base[name], {}
    for i, e in ipairs(byQueue[name]) do list[i] = { e[2], e[3], e[4], e[5] } end
    for _, e in ipairs(storeIn(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], list)) do
      out[#out + 1] = { name, e[1], e[2] }
    end
  end
end

-- Fills templates { queue, id, priority, delay, eta, fill, head, sep, middle } at now.
local function fireAll(templates, fill)
  local entries = {}
  for _, t in ipairs(templates) do
    local set, score, body = filled(t, fill, now)
    entries[#entries + 1] = { t[1], t[2], set, score, body }
  end
  store(entries)
end

local function fire(json, fill)
  if json then fireAll(cjson.decode(json), fill) end
end

-- A group's state, created once: a second start changes nothing.
local function start(state, size, done, fail, ttl)
  if redis.call("HSETNX", state, "left", size) == 1 then
    redis.call("HSET", state, "done", done, "fail", fail)
    redis.call("PEXPIRE", state, ttl)
  end
end

if fx.w then store(fx.w) end

for _, g in ipairs(fx.g or {}) do
  start(KEYS[states + tonumber(g[1])], g[2], g[3], g[4], g[5])
end

local m, completed = fx.m, nil
if m then
  local state = KEYS[states + tonumber(m.s)]
  if kind == "a" and m.r then
    if redis.call("HSETNX", state, "r:" .. m.i, m.r) == 1 then
      local left = redis.call("HINCRBY", state, "left", -1)
      if left == 0 then
        local fields = { "done" }
        if m.k == 1 then
          for i = 0, tonumber(m.n) - 1 do fields[#fields + 1] = "r:" .. i end
        end
        local got = redis.call("HMGET", state, unpack(fields))
        local results = {}
        for i = 2, #got do results[#results + 1] = got[i] or "null" end
        completed = "[" .. table.concat(results, ",") .. "]"
        fire(got[1], completed)
        redis.call("PEXPIRE", state, ARGV[10])
      elseif left < 0 then
        redis.call("DEL", state)
        lost = 1
      end
    end
  elseif kind == "d" and m.f then
    if redis.call("HSETNX", state, "failed", m.i) == 1 then
      local got = redis.call("HMGET", state, "left", "fail")
      if got[1] then
        fire(got[2], m.f)
        redis.call("PEXPIRE", state, ARGV[11])
      else
        redis.call("DEL", state)
        lost = 1
      end
    end
  end
end

-- The next step of a pipeline, from its plan: a message, or a group (its state and its
-- members); a fan-in only with the report that completed its group. The plan goes with
-- its last step.
local plan, planLost = fx.p, 0
if plan and kind == "a" and (plan.c ~= 1 or completed) then
  local state = KEYS[states + tonumber(plan.s)]
  local entry = redis.call("HGET", state, plan.a)
  local fill = plan.f
  if plan.c == 1 then fill = completed end
  if not entry then
    planLost = 1
  elseif plan.m == 1 then
    local e = cjson.decode(entry)
    if plan.g and e.n then start(KEYS[states + tonumber(plan.g)], e.n, e.d, e.f, e.t) end
    fireAll(e.m, fill)
  else
    fire(entry, fill)
  end
  if entry and plan.l == 1 then redis.call("DEL", state) end
  -- A member's last step in a plan its group ends: taken, and the last member's deletes it.
  if entry and plan.o == 1 then
    redis.call("HDEL", state, plan.a)
    if redis.call("HINCRBY", state, "open", -1) <= 0 then redis.call("DEL", state) end
  end
end
if fx.c then
  local counter = KEYS[states + tonumber(fx.c)]
  count(counter, 1)
end
return remember(cjson.encode({ 1, out, lost, planLost }))
`,
  ),
);
