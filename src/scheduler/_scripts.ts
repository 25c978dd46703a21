/**
 * The Lua scripts of the scheduler: one round trip each, every key passed in KEYS, safe to
 * run twice (`@upstash/redis` retries a request whose response was lost). Private to skiff.
 *
 * @module
 */
import { Script } from "../redis/script.ts";

const HEADER = "#!lua flags=allow-key-locking\n";

/**
 * Compares and sets schedule records (`slot|token|id`), each on its own. A set writes
 * first (`SET ... GET`, one command) and puts the old record back if its token was not the
 * expected one: within the script nobody sees the difference, and the common case, a
 * write that wins, costs one command. A set whose value was already there answers
 * "written": the same request, retried (tokens are fresh per tick). Per swap: 1 command
 * for a read or a winning set, 2 for a set that loses.
 *
 * KEYS: one record key per swap, `<namespace>:{schedules}:slot:<name>`
 * ARGV: per swap, four values: op (`r` read, `s` set, `d` delete), the expected token
 *   (`""`: no record), the record to set (`""` for `r` and `d`), the TTL in ms
 * Returns: JSON, per swap `1` when written, else the current record (`""`: none).
 */
export const SWAP_RECORDS: Script<unknown> = new Script(
  "skiff-schedule-swap",
  `${HEADER}local function tokenOf(record)
  return record and string.match(record, "^[^|]*|([^|]*)") or ""
end
local out = {}
for i, key in ipairs(KEYS) do
  local op, expect, value, ttl = ARGV[4 * i - 3], ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i]
  if op == "s" then
    local old = redis.call("SET", key, value, "PX", ttl, "GET")
    if old == value or tokenOf(old) == expect then
      out[i] = 1
    else
      if old then
        redis.call("SET", key, old, "PX", ttl)
      else
        redis.call("DEL", key)
      end
      out[i] = old or ""
    end
  else
    local current = redis.call("GET", key)
    if op == "d" and tokenOf(current) == expect then
      redis.call("DEL", key)
      out[i] = 1
    else
      out[i] = current or ""
    end
  end
end
return cjson.encode(out)
`,
);

/** Every scheduler script, for `SCRIPT LOAD` ahead of time and the SHA test. */
export const SCHEDULER_SCRIPTS: readonly Script<unknown>[] = [SWAP_RECORDS];
