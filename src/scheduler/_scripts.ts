/**
 * The Lua scripts of the scheduler: one round trip each, every key passed in KEYS, safe to
 * run twice (`@upstash/redis` retries a request whose response was lost). Private to skiff.
 *
 * @module
 */
import { STORE } from "../brokers/upstash/_lua.ts";
import { Script } from "../redis/script.ts";

const HEADER = "#!lua flags=allow-key-locking\n";

/**
 * Compares and sets schedule records (`slot|token|id`), each on its own, and stores the
 * messages of the slots it wins in their queues, in the same transition. A set writes
 * first (`SET ... GET`, one command) and puts the old record back if its token was not the
 * expected one: within the script nobody sees the difference, and the common case, a
 * write that wins, costs one command. Per swap: 1 command for a read or a winning set, 2
 * for a set that loses.
 *
 * Safe to repeat: a call that writes anything also writes a call record (which of its
 * swaps it wrote) under the call id the client made, reused by every retry of the call. A
 * retried set finds its own value (still there: written), or the expected token (the first
 * run never landed: it writes now), or neither: then another tick may have moved the record
 * on after the first run wrote it, and only then is the call record read. So a retry
 * answers what the first run did, and a slot it won is never taken for a lost race.
 * Per call: 1 more command (`SET` of the call record) when it writes, 1 more (`GET`) when a
 * write is answered "lost".
 *
 * Messages: only a set that this very run makes (it found the expected token) stores its
 * swap's messages, so a retry whose first run wrote stores nothing again, even after the
 * message ran and was acked. They are stored as the broker's enqueue stores them: the body
 * in the queue's `msg` hash (`HSETNX`: an id already there is left alone), the id in
 * `ready` or, delayed, in `timers`. Per queue: 2 commands for one message (`HSETNX`,
 * `ZADD`), 3 or 4 for several (`HMGET`, `HSET`, a `ZADD` per sorted set).
 *
 * KEYS: one record key per swap, `<namespace>:{schedules}:slot:<name>`; then, when ARGV[1]
 *   is not "0", the call record `<namespace>:{schedules}:call:<call id>`; then, per queue
 *   written to, its `ready`, `timers` and `msg` keys (`<namespace>:{<queue>}:...`)
 * ARGV[1]: how long the call record is kept (ms), "0" for a call that only reads
 * ARGV[2]: the number of swaps, n
 * ARGV[3..2 + 4n]: per swap, four values: op (`r` read, `s` set, `d` delete), the expected
 *   token (`""`: no record), the record to set (`""` for `r` and `d`), the TTL in ms
 * ARGV[3 + 4n..]: per message, six values: its swap (1-based), its queue (1-based, among
 *   the queues in KEYS), id, `r` (ready) or `d` (delayed), score (as the broker's), body
 * Returns: JSON, per swap `1` when written, else the current record (`""`: none).
 */
export const SWAP_RECORDS: Script<unknown> = /* @__PURE__ */ new Script(
  "skiff-schedule-swap",
  `${HEADER}${STORE}local function tokenOf(record)
  return record and string.match(record, "^[^|]*|([^|]*)") or ""
end
local n = tonumber(ARGV[2])
local call = ARGV[1] ~= "0" and KEYS[n + 1] or nil
local first
-- Whether the first run of this very call wrote swap i (read once, and only if needed).
local function firstWrote(i)
  if not call then return false end
  if first == nil then first = redis.call("GET", call) or "" end
  return string.sub(first, i, i) == "1"
end
local out, flags, fresh, wrote = {}, {}, {}, false
for i = 1, n do
  local key = KEYS[i]
  local op, expect, value, ttl = ARGV[4 * i - 1], ARGV[4 * i], ARGV[4 * i + 1], ARGV[4 * i + 2]
  if op == "s" then
    local old = redis.call("SET", key, value, "PX", ttl, "GET")
    if old == value then
      out[i] = 1
    elseif tokenOf(old) == expect then
      out[i] = 1
      fresh[i] = true
    else
      if old then
        redis.call("SET", key, old, "PX", ttl)
      else
        redis.call("DEL", key)
      end
      out[i] = firstWrote(i) and 1 or (old or "")
    end
  else
    local current = redis.call("GET", key)
    if op == "d" and tokenOf(current) == expect then
      redis.call("DEL", key)
      out[i] = 1
    elseif op == "d" and firstWrote(i) then
      out[i] = 1
    else
      out[i] = current or ""
    end
  end
  flags[i] = out[i] == 1 and op ~= "r" and "1" or "0"
  wrote = wrote or flags[i] == "1"
end
if call and wrote then redis.call("SET", call, table.concat(flags), "PX", ARGV[1]) end
-- The messages of the sets this run made, by queue.
local base = n + (call and 1 or 0)
local byQueue, order = {}, {}
for j = 3 + 4 * n, #ARGV, 6 do
  if fresh[tonumber(ARGV[j])] then
    local q = tonumber(ARGV[j + 1])
    if not byQueue[q] then
      byQueue[q] = {}
      order[#order + 1] = q
    end
    table.insert(byQueue[q], { ARGV[j + 2], ARGV[j + 3], ARGV[j + 4], ARGV[j + 5] })
  end
end
for _, q in ipairs(order) do
  storeIn(KEYS[base + 3 * q - 2], KEYS[base + 3 * q - 1], KEYS[base + 3 * q], byQueue[q])
end
return cjson.encode(out)
`,
);

/** Every scheduler script, for `SCRIPT LOAD` ahead of time and the SHA test. */
export const SCHEDULER_SCRIPTS: readonly Script<unknown>[] = [SWAP_RECORDS];
