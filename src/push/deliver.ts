/**
 * Delivers pushed message ids: claims them by id (idempotent), runs each in
 * `processMessage`, and hands back what it had no time to start. What the push endpoint
 * does after it checked the request; usable from any HTTP framework.
 *
 * @module
 */
import { errorName } from "../_util.ts";
import type { Broker, Claim, MessageState } from "../broker.ts";
import { processMessage, type ProcessStatus } from "../process.ts";
import { pushEnqueued } from "./push.ts";

/**
 * What became of one pushed id.
 *
 * - processed here: `acked`, `retried`, `dead`, `skipped`, `released`, `stale`
 *   (as `processMessage` reports);
 * - not claimed: `leased` (in flight elsewhere), `delayed` (not due: a tick promotes it),
 *   `dead` (already a dead letter), `missing` (done already, or never sent);
 * - `deferred`: claimed, but the time budget ran out first; handed back to ready;
 * - `error`: the broker failed midway; the lease expires and the message runs again.
 */
export type DeliveryStatus =
  | ProcessStatus
  | Exclude<MessageState, "ready">
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
}

/**
 * Claims the given ids in one round trip, runs the claimed ones (`concurrency` at once,
 * starting none after `budgetMs`), and hands the rest back to ready in one more round trip.
 * A message whose lease another consumer holds is not run: a duplicate push runs once.
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
 * @throws {Error} What the broker throws while claiming (Redis unreachable, say): nothing
 *   was claimed, so nothing is lost; retry later.
 */
export async function deliver(
  broker: Broker,
  queue: string,
  ids: readonly string[],
  options: DeliverOptions = {},
): Promise<DeliveryResult[]> {
  const { leaseMs = 30_000, budgetMs = 10_000, concurrency = 8 } = options;
  const start = broker.now();
  const unique = [...new Set(ids)];
  const { claimed, unclaimed } = await broker.claimById(queue, unique, { leaseMs });
  const results = new Map<string, DeliveryResult>();
  for (const { id, state } of unclaimed) results.set(id, { id, status: state });

  const waiting = [...claimed];
  const deferred: Claim[] = [];
  const run = async (): Promise<void> => {
    for (let claim = waiting.shift(); claim; claim = waiting.shift()) {
      if (broker.now() - start >= budgetMs) {
        deferred.push(claim, ...waiting.splice(0));
        return;
      }
      results.set(claim.id, await processOne(broker, queue, claim, leaseMs));
    }
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

async function processOne(
  broker: Broker,
  queue: string,
  claim: Claim,
  leaseMs: number,
): Promise<DeliveryResult> {
  try {
    const report = await processMessage(broker, queue, claim, { leaseMs });
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
