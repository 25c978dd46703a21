/**
 * The messages of a queue that workers hold (leased), read without changing anything.
 * The broker has no method for it; on an `UpstashBroker` one read-only script reads the
 * leases from the queue's timers and their bodies. Private to skiff.
 *
 * @module
 */
import type { Broker } from "../broker.ts";
import { UpstashBroker } from "../brokers/upstash.ts";
import { progressKey, queueKeys, readProgress } from "../brokers/upstash/_keys.ts";
import { Script } from "../redis/script.ts";

/** A leased message. */
export interface InFlight {
  /** The message id. */
  id: string;
  /** The encoded envelope (`""` if it is gone). */
  body: string;
  /** When the lease ends unless extended, in milliseconds since the epoch. */
  leaseUntil: number;
  /** What the actor last reported with `this.progress()`, if anything. */
  progress?: unknown;
}

/**
 * The leases expiring soonest first (an expired one first of all: nobody extends it), and
 * their bodies. 2 commands (`ZREVRANGEBYSCORE`, then `HMGET` when any is leased).
 *
 * - KEYS: ready, timers, msg, dead, reason (the broker's layout, `_lua.ts`).
 * - ARGV: how many at most.
 * - Returns: JSON `[id, body, leaseUntil, ...]`.
 */
export const IN_FLIGHT: Script<unknown> = /* @__PURE__ */ new Script(
  "skiff-in-flight",
  `#!lua flags=allow-key-locking,no-writes
local page = redis.call("ZREVRANGEBYSCORE", KEYS[2], "(0", "-inf", "WITHSCORES", "LIMIT", 0, ARGV[1])
if #page == 0 then return "[]" end
local ids, out = {}, {}
for i = 1, #page, 2 do ids[#ids + 1] = string.match(page[i], "^(.*)|[^|]*$") or page[i] end
local bodies = redis.call("HMGET", KEYS[3], unpack(ids))
for i, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = bodies[i] or ""
  out[#out + 1] = string.sub(page[2 * i], 2)
end
return cjson.encode(out)
`,
);

/**
 * Lists a queue's leased messages, expiring soonest first, with their progress: the script,
 * then one `MGET` of their progress keys when any is leased.
 *
 * @param broker The broker.
 * @param queue The queue.
 * @param limit How many at most.
 * @returns The leased messages, or `undefined` when the broker cannot list them (only an
 *   `UpstashBroker` can).
 */
export async function inFlight(
  broker: Broker,
  queue: string,
  limit: number,
): Promise<InFlight[] | undefined> {
  if (!(broker instanceof UpstashBroker)) return undefined;
  const answer = await IN_FLIGHT.run(broker.redis, queueKeys(broker.namespace, queue), [limit]);
  const list = typeof answer === "string" ? JSON.parse(answer) : answer;
  const out: InFlight[] = [];
  if (!Array.isArray(list)) return out;
  for (let i = 0; i + 2 < list.length; i += 3) {
    out.push({ id: String(list[i]), body: String(list[i + 1]), leaseUntil: Number(list[i + 2]) });
  }
  if (out.length === 0) return out;
  const pipeline = broker.redis.pipeline();
  pipeline.mget(...out.map(({ id }) => progressKey(broker.namespace, queue, id)));
  const [reports] = await pipeline.exec<unknown[][]>();
  out.forEach((lease, i) => {
    const progress = readProgress(reports?.[i]);
    if (progress !== undefined) lease.progress = progress;
  });
  return out;
}
