/**
 * A tick: what a cron trigger does where no process waits on a queue. It fires due
 * schedules, promotes due delays and recovers expired leases (every claim does both), then
 * drains a batch of ready messages within a time budget, inline or by pushing them.
 * `POST /tick` of `workerApp()`, Cloudflare's `scheduled` handler (`skiff/cloudflare`) and
 * `Deno.cron` (`skiff/deno`) all call {@linkcode tick}.
 *
 * @module
 */
// What a processed message may need of the layers above the core (its next step, callbacks,
// its result), loaded here too so that a deep import of this module processes as mod.ts does.
import "./composition/pipeline.ts";
import "./composition/_effects.ts";
import "./results/_lookup.ts";
import { describe, errorName, NAME_PATTERN } from "./_util.ts";
import { WorkerHeartbeat } from "./_heartbeat.ts";
import type { Broker, Claim } from "./broker.ts";
import { type Heartbeat, processMessage } from "./process.ts";
import { type Push, pushEnqueued } from "./push/push.ts";
import { actorNames, getActor } from "./registry.ts";

/** Anything with a `tick(now)`: the `Scheduler` fires each due (schedule, slot) once. */
export interface TickScheduler {
  /**
   * Fires what is due at `now`.
   *
   * @param now The tick's time.
   * @param options The broker being ticked, for schedules that have none of their own.
   * @returns Anything; the tick reports it as `scheduled`.
   */
  tick(now: Date, options?: { broker?: Broker }): Promise<unknown>;
}

/** Options of {@linkcode tick}. */
export interface TickOptions {
  /** The queues to drain (default: the queues of the declared actors, else `["default"]`). */
  queues?: readonly string[];
  /** The most messages one tick claims, over all queues (default 100). */
  maxMessages?: number;
  /** Claim nothing after this many milliseconds of the broker's clock (default 10 000). */
  budgetMs?: number;
  /** The lease of each claim, renewed every third of it (default 30 000 ms). */
  leaseMs?: number;
  /** How many messages run at once when processing inline (default 8). */
  concurrency?: number;
  /**
   * Fan out instead of processing inline: ready messages are pushed to the endpoint
   * through this `Push`, so that each push runs in an invocation of its own.
   */
  push?: Push;
  /** Keeps the platform alive until the fan-out's pushes settle (else the tick awaits them). */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Fired first, with the broker's time: see `Scheduler`. */
  scheduler?: TickScheduler;
}

/** What one queue's part of a tick came to. */
export interface QueueTickReport {
  /** Messages claimed. */
  claimed: number;
  /** Messages processed inline and acknowledged (or skipped). */
  processed: number;
  /** Messages processed inline that failed (retried later, or dead). */
  failed: number;
  /** Messages pushed (fan-out). */
  pushed: number;
}

/** What {@linkcode tick} reports. */
export interface TickReport {
  /** What the scheduler's `tick` returned, if there is a scheduler and it succeeded. */
  scheduled?: unknown;
  /** The name of the error the scheduler threw, if it did (the tick went on). */
  schedulerError?: string;
  /** Per queue. */
  queues: Record<string, QueueTickReport>;
  /** Whether the budget or `maxMessages` ran out before the queues were empty. */
  exhausted: boolean;
}

/** The queues of the declared actors. */
function declaredQueues(): string[] {
  const queues = new Set(actorNames().map((name) => getActor(name)!.queue));
  return queues.size > 0 ? [...queues] : ["default"];
}

function checkOptions(options: TickOptions): void {
  const what = "Cannot tick";
  for (const name of ["maxMessages", "budgetMs", "leaseMs", "concurrency"] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new RangeError(
        `${what}: '${name}' must be a positive integer, received ${describe(value)}`,
      );
    }
  }
  const { queues } = options;
  if (
    queues !== undefined &&
    (!Array.isArray(queues) || queues.some((q) => typeof q !== "string" || !NAME_PATTERN.test(q)))
  ) {
    throw new TypeError(`${what}: 'queues' must be an array of queue names`);
  }
}

/**
 * Runs one tick: the scheduler first (its messages can run in this very tick), then, per
 * queue in order, claims (promoting due delays and recovering expired leases) and processes
 * ready messages, `concurrency` at a time, until the queue is empty, `maxMessages` were
 * claimed, or `budgetMs` passed. With `push`, claimed messages are handed straight back and
 * pushed to the endpoint instead, `maxIds` per request. A queue with flow control
 * (`parallelism`, `rate`) gets no more claims than its limits allow; one with a `rate` is
 * processed inline even with `push` (a push's claim by id would count against the rate
 * again).
 *
 * Idle, a tick costs one claim script per queue.
 *
 * @example Drain a queue inline
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "./brokers/memory.ts";
 * import { actor } from "./actor.ts";
 *
 * const broker = new MemoryBroker();
 * const queue = `q-${crypto.randomUUID()}`;
 * const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
 * await task.send();
 * const report = await tick(broker, { queues: [queue] });
 * assert.equal(report.queues[queue].processed, 1);
 * ```
 *
 * @param broker The broker.
 * @param options The queues, the limits, fan-out and the scheduler.
 * @returns What the tick did.
 * @throws {TypeError} On an invalid queue name.
 * @throws {RangeError} On a limit that is not a positive integer.
 * @throws {Error} What the broker throws (Redis unreachable, say): what was claimed stays
 *   leased until its lease expires, then runs again.
 */
export async function tick(broker: Broker, options: TickOptions = {}): Promise<TickReport> {
  checkOptions(options);
  const {
    maxMessages = 100,
    budgetMs = 10_000,
    leaseMs = 30_000,
    concurrency = 8,
    push,
    scheduler,
  } = options;
  const start = broker.now();
  const report: TickReport = { queues: {}, exhausted: false };
  if (scheduler) {
    try {
      report.scheduled = await scheduler.tick(new Date(start), { broker });
    } catch (error) {
      report.schedulerError = errorName(error);
      broker.logger.error(`The scheduler failed in tick with ${errorName(error)}; going on`, {
        error,
      });
    }
  }
  const queues = options.queues ? [...options.queues] : declaredQueues();
  // One timer extends the leases of every message the tick runs at once, in one call per
  // queue: not a timer per message. It stops when the last of them finishes.
  const heartbeat = new WorkerHeartbeat(broker, leaseMs);
  let left = maxMessages;
  const pushes: Promise<unknown>[] = [];
  for (const queue of queues) {
    const counts: QueueTickReport = { claimed: 0, processed: 0, failed: 0, pushed: 0 };
    report.queues[queue] = counts;
    const flow = broker.queueOptions(queue);
    // A claim counts against the rate: claiming to push, then again by id, would count twice.
    const fanOut = push && !flow?.rate ? push : undefined;
    while (true) {
      if (left <= 0 || broker.now() - start >= budgetMs) {
        report.exhausted = true;
        break;
      }
      const count = fanOut ? left : Math.min(left, concurrency);
      const claims = await broker.claim(queue, { count, leaseMs });
      counts.claimed += claims.length;
      left -= claims.length;
      if (fanOut && claims.length > 0) {
        // Handed back first, so that the endpoint's claim by id does not find them leased.
        await broker.release(queue, claims);
        counts.pushed += claims.length;
        pushes.push(fanOut.push(queue, claims.map((c) => c.id)));
      } else if (!fanOut) {
        await Promise.all(
          claims.map((claim) => runOne(broker, queue, claim, { leaseMs, heartbeat }, counts)),
        );
      }
      // A limited queue answers fewer than asked while more wait: claim again once these ran.
      if (claims.length < count && (!flow || fanOut || claims.length === 0)) break;
    }
  }
  if (pushes.length > 0) {
    const all = Promise.all(pushes);
    if (options.waitUntil) options.waitUntil(all);
    else await all;
  }
  return report;
}

async function runOne(
  broker: Broker,
  queue: string,
  claim: Claim,
  lease: { leaseMs: number; heartbeat: Heartbeat },
  counts: QueueTickReport,
): Promise<void> {
  try {
    const { status, enqueued } = await processMessage(broker, queue, claim, lease);
    pushEnqueued(broker, enqueued);
    if (status === "acked" || status === "skipped") counts.processed++;
    else if (status === "retried" || status === "dead") counts.failed++;
  } catch (error) {
    // The lease expires and the message runs again.
    broker.logger.error(
      `Cannot finish message ${claim.id} of queue '${queue}': ${errorName(error)}`,
      { id: claim.id, queue, error },
    );
  }
}
