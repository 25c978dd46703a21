/**
 * The Lua scripts of `UpstashRateLimiterBackend`: one per operation, one round trip each.
 * Every key is passed in KEYS; the time comes from the client in ARGV (never `TIME`), so
 * tests can move it. Each script is safe to run twice with the same outcome:
 * `@upstash/redis` sends a request again when its response was lost, and every mutating
 * script is told the id of its call (a holder's token, a request id), so that the retry
 * recognises what its first run did. Private to skiff.
 *
 * @module
 */
import { Script } from "../redis/script.ts";

const HEADER = "#!lua flags=allow-key-locking\n";

/**
 * Takes a slot of a concurrent rate limiter. Expired holds are dropped only when the set
 * is full (they cannot matter before), which saves a command while there is room.
 *
 * KEYS[1] holders: zset, member = holder token, score = when the hold expires (ms)
 * ARGV[1] now (ms)   ARGV[2] token   ARGV[3] limit   ARGV[4] ttl (ms)   ARGV[5] now + ttl
 * Returns 1 when the token holds a slot, else 0.
 */
export const ACQUIRE_CONCURRENT: Script<number> = /* @__PURE__ */ new Script(
  "acquire-concurrent",
  `${HEADER}local count = redis.call("ZCARD", KEYS[1])
-- Only a full set is worth pruning: holds of crashed holders end at their expiry.
if count >= tonumber(ARGV[3]) then
  count = count - redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[1])
end
if count < tonumber(ARGV[3]) then
  redis.call("ZADD", KEYS[1], ARGV[5], ARGV[2])
  redis.call("PEXPIRE", KEYS[1], ARGV[4])
  return 1
end
-- A retried request whose first run took the slot finds its token there.
if redis.call("ZSCORE", KEYS[1], ARGV[2]) then return 1 end
return 0
`,
);

/**
 * Frees the slot a token holds. A token whose hold expired and was dropped frees nothing,
 * so a late release cannot free another holder's slot. Safe to repeat: a token gone before
 * its hold's expiry was freed by its own holder (nobody else drops a hold before it
 * expires), so a retried release, whose first run freed it, answers 1 again.
 *
 * KEYS[1] holders (as above)
 * ARGV[1] token   ARGV[2] now (ms)   ARGV[3] when the hold expires (ms; 0: unknown)
 * Returns 1 when the slot was freed (by this release, or by its first run), else 0.
 */
export const RELEASE_CONCURRENT: Script<number> = /* @__PURE__ */ new Script(
  "release-concurrent",
  `${HEADER}if redis.call("ZREM", KEYS[1], ARGV[1]) == 1 then return 1 end
if tonumber(ARGV[2]) < tonumber(ARGV[3]) then return 1 end
return 0
`,
);

/**
 * Admits a request in a sliding window: a log of admitted requests, pruned only when full.
 *
 * KEYS[1] log: zset, member = request id, score = when it was admitted (ms)
 * ARGV[1] now (ms)   ARGV[2] id   ARGV[3] limit   ARGV[4] window (ms)   ARGV[5] now - window
 * Returns 1 when the request is admitted, else 0.
 */
export const ACQUIRE_WINDOW: Script<number> = /* @__PURE__ */ new Script(
  "acquire-window",
  `${HEADER}local count = redis.call("ZCARD", KEYS[1])
-- Only a full log is worth pruning: what was admitted at or before now - window has left
-- the window (now - window, now].
if count >= tonumber(ARGV[3]) then
  count = count - redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[5])
end
if count < tonumber(ARGV[3]) then
  redis.call("ZADD", KEYS[1], ARGV[1], ARGV[2])
  redis.call("PEXPIRE", KEYS[1], ARGV[4])
  return 1
end
-- A retried request whose first run was admitted finds its id there.
if redis.call("ZSCORE", KEYS[1], ARGV[2]) then return 1 end
return 0
`,
);

/**
 * Admits a request in the current fixed bucket: the bucket keeps the ids it admitted (at
 * most `limit`, like the sliding window's log), so that a retried request, whose first run
 * was admitted, finds its id and takes no second slot. A refused request writes nothing.
 *
 * KEYS[1] ids admitted in the current bucket: set
 * ARGV[1] limit   ARGV[2] ms until the set may go (the bucket's end, plus one bucket)
 * ARGV[3] request id
 * Returns 1 when the request is admitted (also when it was already), else 0.
 */
export const ACQUIRE_FIXED_BUCKET: Script<number> = /* @__PURE__ */ new Script(
  "acquire-fixed-bucket",
  `${HEADER}local count = redis.call("SCARD", KEYS[1])
if count < tonumber(ARGV[1]) then
  redis.call("SADD", KEYS[1], ARGV[3])
  if count == 0 then redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
  return 1
end
-- A retried request whose first run was admitted finds its id there.
return redis.call("SISMEMBER", KEYS[1], ARGV[3])
`,
);

/**
 * Takes a token from a token bucket. The level is kept in units of 1/bucket of a token,
 * so that it refills by `limit` units a millisecond and stays an integer. Safe to repeat:
 * a request that takes a token also writes a short-lived record under its id, so that a
 * retry, whose first run took a token, takes no second one and answers 1. A refused request
 * writes nothing (it changed nothing; its retry is decided afresh).
 *
 * KEYS[1] bucket: hash, `units` = the level, `at` = when the level was computed (ms)
 * KEYS[2] the request's record, `<bucket key>:taken:<request id>`
 * ARGV[1] now (ms)   ARGV[2] capacity (limit * bucket)   ARGV[3] refill a ms (limit)
 * ARGV[4] units of one token (bucket)   ARGV[5] how long the record is kept (ms)
 * Returns 1 when a token was taken (by this request or its first run), else 0.
 */
export const ACQUIRE_TOKEN_BUCKET: Script<number> = /* @__PURE__ */ new Script(
  "acquire-token-bucket",
  `${HEADER}local now = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call("HMGET", KEYS[1], "units", "at")
local units = capacity
if state[1] then
  units = math.min(capacity, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
end
if units < cost then
  -- Empty now; but a retried request whose first run took a token finds its record.
  return redis.call("EXISTS", KEYS[2])
end
if not redis.call("SET", KEYS[2], "1", "NX", "PX", ARGV[5]) then return 1 end
units = units - cost
redis.call("HSET", KEYS[1], "units", string.format("%.0f", units), "at", ARGV[1])
-- A missing bucket is a full one, so the key may go once the bucket would be full again.
redis.call("PEXPIRE", KEYS[1], string.format("%.0f", math.ceil((capacity - units) / rate)))
return 1
`,
);

/**
 * Creates a barrier unless it exists. Its expiry is kept in the hash too, so that the
 * clients' clock decides when it ends (a test can move it); the key's own TTL only
 * collects the garbage.
 *
 * KEYS[1] barrier: hash, `creator` = token, `parties`, `expires` (ms), `p:<party>` per arrival
 * ARGV[1] now (ms)   ARGV[2] parties   ARGV[3] creator token   ARGV[4] ttl (ms)
 * ARGV[5] now + ttl
 * Returns 1 when this token created it, else 0.
 */
export const CREATE_BARRIER: Script<number> = /* @__PURE__ */ new Script(
  "create-barrier",
  `${HEADER}local state = redis.call("HMGET", KEYS[1], "creator", "expires")
if state[1] and tonumber(state[2]) > tonumber(ARGV[1]) then
  -- A retried request whose first run created it finds its token there.
  if state[1] == ARGV[3] then return 1 end
  return 0
end
-- Expired by the clients' clock, not yet by Redis's: start afresh, without old arrivals.
if state[1] then redis.call("UNLINK", KEYS[1]) end
redis.call("HSET", KEYS[1], "creator", ARGV[3], "parties", ARGV[2], "expires", ARGV[5])
redis.call("PEXPIRE", KEYS[1], ARGV[4])
return 1
`,
);

/**
 * Records a party's arrival, once per party id.
 *
 * KEYS[1] barrier (as above)
 * ARGV[1] now (ms)   ARGV[2] party id
 * Returns {parties, arrived, expires}, or {0, 0, 0} when the barrier does not exist or
 * has expired.
 */
export const ARRIVE_AT_BARRIER: Script<[number, number, number]> = /* @__PURE__ */ new Script(
  "arrive-at-barrier",
  `${HEADER}local state = redis.call("HMGET", KEYS[1], "parties", "expires")
if not state[1] or tonumber(state[2]) <= tonumber(ARGV[1]) then return {0, 0, 0} end
redis.call("HSETNX", KEYS[1], "p:" .. ARGV[2], "1")
-- Every field but creator, parties and expires is an arrival.
return {tonumber(state[1]), redis.call("HLEN", KEYS[1]) - 3, tonumber(state[2])}
`,
);

/**
 * Reads a barrier's size: its arrivals plus three, or 0 when the key is gone. Whether it
 * has expired by the clients' clock is for the caller to tell, from the arrival's answer.
 *
 * KEYS[1] barrier (as above)
 * Returns the number of fields of the barrier's hash.
 */
export const BARRIER_FIELDS: Script<number> = /* @__PURE__ */ new Script(
  "barrier-fields",
  `${HEADER}return redis.call("HLEN", KEYS[1])
`,
);

/** Every script, for the test that loads each one and checks its SHA. */
export const SCRIPTS: readonly Script[] = [
  ACQUIRE_CONCURRENT,
  RELEASE_CONCURRENT,
  ACQUIRE_WINDOW,
  ACQUIRE_FIXED_BUCKET,
  ACQUIRE_TOKEN_BUCKET,
  CREATE_BARRIER,
  ARRIVE_AT_BARRIER,
  BARRIER_FIELDS,
] as Script[];
