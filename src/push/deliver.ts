/**
 * Delivers pushed message ids: claims them by id (idempotent), runs each in
 * `processMessage`, and hands back what it had no time to start. What the push endpoint
 * does after it checked the request; usable from any HTTP framework.
 *
 * @module
 */
// What a processed message may need of the layers above the core (its next step, callbacks,
// its result), loaded here too so that a deep import of this module processes as mod.ts does.
import "../composition/pipeline.ts";
import "../composition/_effects.ts";
import "../results/_lookup.ts";
import { errorName } from "../_util.ts";
import { WorkerHeartbeat } from "../_heartbeat.ts";
import type { Broker, Claim, UnclaimedState } from "../broker.ts";
import { type Heartbeat, processMessage, type ProcessStatus } from "../process.ts";
import { pushEnqueued } from "./push.ts";

/**
 * What became of one pushed id.
 *
 * - processed here: `acked`, `retried`, `dead`, `skipped`, `released`, `stale`
 *   (as `processMessage` reports);
 * - not claimed: `leased` (in flight elsewhere), `delayed` (not due: a tick promotes it),
 *   `dead` (already a dead letter), `missing` (done already, or never sent), `busy` (its
 *   queue's `parallelism` or `rate` is used up: it waits in ready until a slot frees);
 * - `deferred`: claimed, but the time budget ran out first; handed back to ready;
 * - `error`: the broker failed midway; the lease expires and the message runs again.
 */
export type DeliveryStatus =
  | ProcessStatus
  | UnclaimedState
  | "deferred"
  | "error";

/** One pushed id's result, as the push endpoint answers it. */
export interface DeliveryResult {
  /** The message id. */
  id: string;
  /** What became of it. */
  status: DeliveryStatus;
  /** The name of what the actor threw (`retried`, `dead`), never its message. */
  error?: string;
}

/** Options of {@linkcode deliver}. */
export interface DeliverOptions {
  /** The lease of each claim, renewed every third of it (default 30 000 ms). */
  leaseMs?: number;
  /** Start no message after this many milliseconds of the broker's clock (default 10 000). */
  budgetMs?: number;
  /** How many messages run at once (default 8). */
  concurrency?: number;
  /**
   * A key to remember once with the claim, for `ttlMs` (the push endpoint passes the
   * signature's MAC): when another call remembered it, nothing is claimed and
   * {@linkcode PushReplayed} is thrown.
   */
  once?: { key: string; ttlMs: number };
}

/** What {@linkcode deliver} throws when its `once` key was remembered already: a replay. */
export class PushReplayed extends Error {
  /** Creates the error; it names no key. */
  constructor() {
    super("Cannot deliver push: it was delivered already (a replay)");
    this.name = "PushReplayed";
  }
}

/**
 * Claims the given ids in one round trip, runs the claimed ones (`concurrency` at once,
 * starting none after `budgetMs`), and hands the rest back to ready in one more round trip.
 * A message whose lease another consumer holds is not run: a duplicate push runs once.
 *
 * On a queue with flow control (`parallelism`, `rate`), pushed ids beyond the limit are
 * answered `busy` and wait in ready; each run that ends here frees a slot, so it claims the
 * next ready message of the queue (a `busy` one pushed elsewhere, say) and runs it too,
 * until the queue has none it may claim. After `budgetMs`, it pushes that message instead
 * (through the broker's `Push`, else a tick runs it). See `docs/flow_control.md`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 *
 * const broker = new MemoryBroker();
 * const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker });
 * const message = await task.send();
 * const results = await deliver(broker, "default", [message.id, "no-such-id"]);
 * assert.deepEqual(results.map((r) => r.status), ["acked", "missing"]);
 * ```
 *
 * @param broker The broker.
 * @param queue The queue the ids belong to.
 * @param ids The message ids (duplicates are dropped).
 * @param options The lease, the time budget and the concurrency.
 * @returns One result per distinct id, in the order given.
 * @throws {PushReplayed} When `once`'s key was remembered by another call: nothing claimed.
 * @throws {Error} What the broker throws while claiming (Redis unreachable, say): nothing
 *   was claimed, so nothing is lost; retry later.
 */
export async function deliver(
  broker: Broker,
  queue: string,
  ids: readonly string[],
  options: DeliverOptions = {},
): Promise<DeliveryResult[]> {
  const { leaseMs = 30_000, budgetMs = 10_000, concurrency = 8, once } = options;
  const start = broker.now();
  const unique = [...new Set(ids)];
  const { claimed, unclaimed, replayed } = await broker.claimById(queue, unique, {
    leaseMs,
    once,
  });
  if (replayed) throw new PushReplayed();
  const results = new Map<string, DeliveryResult>();
  for (const { id, state } of unclaimed) results.set(id, { id, status: state });

  // One timer extends the leases of every message of this delivery, in one call: not a timer
  // per message. It stops when the last of them finishes.
  const lease = { leaseMs, heartbeat: new WorkerHeartbeat(broker, leaseMs) };
  const waiting = [...claimed];
  const deferred: Claim[] = [];
  const limited = broker.queueOptions(queue) !== undefined;
  const run = async (): Promise<void> => {
    for (let claim = waiting.shift(); claim; claim = waiting.shift()) {
      if (broker.now() - start >= budgetMs) {
        deferred.push(claim, ...waiting.splice(0));
        return;
      }
      results.set(claim.id, await processOne(broker, queue, claim, lease));
    }
    // A slot of a limited queue freed: what waits for one runs here, as long as there is.
    if (!limited) return;
    while (broker.now() - start < budgetMs) {
      const [next] = await claimNext(broker, queue, leaseMs);
      if (!next) return;
      await processOne(broker, queue, next, lease);
    }
    await handOver(broker, queue, leaseMs);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, run));

  if (deferred.length > 0) {
    try {
      await broker.release(queue, deferred);
    } catch (error) {
      // The leases expire on their own; the messages run later.
      broker.logger.warn(`Cannot hand back messages of '${queue}': ${errorName(error)}`, {
        queue,
        error,
      });
    }
    for (const { id } of deferred) results.set(id, { id, status: "deferred" });
  }
  return unique.map((id) => results.get(id) ?? { id, status: "missing" });
}

/** Claims the next ready message of a queue; none when the broker fails (a tick runs it). */
async function claimNext(broker: Broker, queue: string, leaseMs: number): Promise<Claim[]> {
  try {
    return await broker.claim(queue, { count: 1, leaseMs });
  } catch (error) {
    broker.logger.warn(`Cannot claim the next message of '${queue}': ${errorName(error)}`);
    return [];
  }
}

/** Past the budget: pushes the next ready message of a limited queue instead of running it. */
async function handOver(broker: Broker, queue: string, leaseMs: number): Promise<void> {
  const claims = await claimNext(broker, queue, leaseMs);
  if (claims.length === 0) return;
  try {
    await broker.release(queue, claims);
  } catch (error) {
    // The lease expires on its own; the message runs later.
    broker.logger.warn(`Cannot hand back messages of '${queue}': ${errorName(error)}`);
    return;
  }
  pushEnqueued(broker, claims.map(({ id }) => ({ id, queue, delayed: false })));
}

async function processOne(
  broker: Broker,
  queue: string,
  claim: Claim,
  lease: { leaseMs: number; heartbeat: Heartbeat },
): Promise<DeliveryResult> {
  try {
    const report = await processMessage(broker, queue, claim, lease);
    pushEnqueued(broker, report.enqueued);
    const failed = report.status === "retried" || report.status === "dead";
    return failed && report.error !== undefined
      ? { id: claim.id, status: report.status, error: errorName(report.error) }
      : { id: claim.id, status: report.status };
  } catch (error) {
    broker.logger.error(
      `Cannot finish message ${claim.id} of queue '${queue}': ${errorName(error)}`,
      { id: claim.id, queue, error },
    );
    return { id: claim.id, status: "error" };
  }
}
