/**
 * The module each soak worker process imports (`skiff worker scripts/_soak_app.ts`): one
 * actor that records each run, and the global broker on the faulty path, from the
 * environment that `scripts/soak.ts` sets. Every run and every ack outcome is appended to
 * one Redis list through the clean path, so the counts are exact:
 * `<worker tag> <message id> <event>`, the event being `run`, `acked`, `stale` or `ackerr`.
 *
 * @module
 */
import process from "node:process";
import { Redis } from "@upstash/redis";
import { actor, type Lease, type NackOutcome, setBroker, UpstashBroker } from "../mod.ts";
import { EVENTS_KEY } from "./_soak_services.ts";

const env = process.env;
const tag = env.SKIFF_SOAK_TAG ?? "harness";
const namespace = env.SKIFF_SOAK_NAMESPACE ?? "soak";
const leaseMs = Number(env.SKIFF_SOAK_LEASE_MS ?? 30_000);
// The worker to be killed holds its first long run until it dies, so that the kill always
// cuts a run however slowly the harness watches it. One only: a worker whose every slot is
// held would also hold the messages it claimed ahead, and the senders wait on those.
const holdMs = Number(env.SKIFF_SOAK_HOLD_MS ?? 0);
let holding = false;

const clean = new Redis({
  url: env.SKIFF_SOAK_CLEAN_URL ?? "http://127.0.0.1:1",
  token: env.UPSTASH_REDIS_REST_TOKEN ?? "none",
  enableTelemetry: false,
});

function note(id: string, event: string): Promise<unknown> {
  return clean.rpush(`${namespace}:${EVENTS_KEY}`, `${tag} ${id} ${event}`);
}

/**
 * Records that it ran, then works for `ms` milliseconds (the worker to be killed: its first
 * long run for ever).
 */
export const record = actor("soak.record", async function (_index: number, ms: number) {
  await note(this.message.id, "run");
  const hold = holdMs > 0 && ms === holdMs && !holding;
  if (hold) holding = true;
  const work = hold ? 600_000 : ms;
  if (work > 0) await new Promise((resolve) => setTimeout(resolve, work));
}, { queue: env.SKIFF_SOAK_QUEUE ?? "soak" });

if (env.SKIFF_SOAK_TAG && env.UPSTASH_REDIS_REST_URL) {
  const broker = new UpstashBroker({
    redis: new Redis({
      url: env.UPSTASH_REDIS_REST_URL,
      token: env.UPSTASH_REDIS_REST_TOKEN ?? "none",
      enableTelemetry: false,
    }),
    namespace,
  });
  // The CLI worker leases for 30 s; a shorter lease lets a short soak recover the killed
  // worker's messages sooner. Actors here run for milliseconds, well inside either.
  const claim = broker.claim.bind(broker);
  broker.claim = (queue, options) => claim(queue, { ...options, leaseMs });
  const extend = broker.extendLease.bind(broker);
  broker.extendLease = (queue, lease, options) => extend(queue, lease, { ...options, leaseMs });
  // What became of each ack and nack, seen from the worker.
  const ack = broker.ack.bind(broker);
  broker.ack = async (queue: string, leases: readonly Lease[]) => {
    let done: boolean[];
    try {
      done = await ack(queue, leases);
    } catch (error) {
      await Promise.all(leases.map((lease) => note(lease.id, "ackerr")));
      throw error;
    }
    await Promise.all(leases.map((lease, i) => note(lease.id, done[i] ? "acked" : "stale")));
    return done;
  };
  const nack = broker.nack.bind(broker);
  broker.nack = async (queue: string, lease: Lease, outcome: NackOutcome) => {
    await note(lease.id, `nack-${outcome.kind}`);
    return await nack(queue, lease, outcome);
  };
  setBroker(broker);
}
