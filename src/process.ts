/**
 * Processes one claimed message: the only place a message runs. The pull `Worker`,
 * `broker.join()` and the push endpoint all call {@linkcode processMessage}.
 *
 * @module
 */
import * as v from "valibot";
import { recordFailure } from "./_failures.ts";
import { errorName, errorSummary } from "./_util.ts";
import type { Actor } from "./actor.ts";
import type { Broker, Claim, Effects, EnqueuedMessage, Lease, NackOutcome } from "./broker.ts";
import { abortOf, MessageContext, whenAborted } from "./context.ts";
import { Retry, SkipMessage } from "./errors.ts";
import { Message } from "./message.ts";
import { emit, isPromise } from "./middleware/_emit.ts";
import type { ProcessOutcome } from "./middleware/middleware.ts";
import { checkActorOptions } from "./options.ts";
import { getActor } from "./registry.ts";
import type { LogFields } from "./logger.ts";

/**
 * Builds what a processed message's transition writes besides itself: the next step of its
 * pipeline, the group it fans out into, its report to its group, its callbacks. The core
 * owns this contract and hands the effects to `broker.settle()`; the composition layer
 * provides the builder when it loads (`composition/_effects.ts`, which every entry point
 * loads). Private to skiff.
 */
export interface EffectsBuilder {
  /**
   * The effects of a success (or of a skip, with `null` and no callbacks).
   *
   * @throws {TypeError} When the result is not JSON-serializable and something needs it.
   */
  success(
    broker: Broker,
    message: Message,
    result: unknown,
    callbacks: boolean,
  ): Effects | undefined;
  /** The effects of a failure: the `onFailure` callback, and a dead member's report. */
  failure(
    broker: Broker,
    message: Message,
    outcome: NackOutcome,
    error: unknown,
  ): Effects | undefined;
}

let effectsBuilder: EffectsBuilder = { success: unloaded, failure: unloaded };

/**
 * Provides {@linkcode processMessage} with the effects builder; private to skiff.
 *
 * @param builder Builds the effects of successes and failures.
 */
export function provideEffects(builder: EffectsBuilder): void {
  effectsBuilder = builder;
}

/** Until compositions load, nothing follows a message; one that expects something fails. */
function unloaded(_broker: Broker, message: Message): undefined {
  const options = { ...getActor(message.actor)?.options, ...message.options };
  if (
    message.next !== undefined || options.onSuccess !== undefined || options.onFailure !== undefined
  ) {
    throw new TypeError(
      `Cannot settle message ${message.id}: compositions are not loaded; import skiff's main module`,
    );
  }
  return undefined;
}

/** Options of {@linkcode processMessage}. */
export interface ProcessOptions {
  /** The lease to extend by in heartbeats, in milliseconds (default 30 000). */
  leaseMs?: number;
  /** Aborts when the caller stops (worker shutdown): the message is released, not retried. */
  signal?: AbortSignal;
  /**
   * Who keeps the lease while the actor runs. By default `processMessage` extends it every
   * third of `leaseMs` and listens to `signal`; a `Worker` passes its one heartbeat for
   * every message it holds, which also aborts them when it stops (`signal` is then only
   * read, never listened to).
   */
  heartbeat?: Heartbeat;
  /**
   * Called once the actor has finished and its middleware ran, before the ack or nack is
   * sent: the pull `Worker` claims its next messages then, so that the claim travels with
   * the ack in place of one round trip after it.
   */
  onSettle?: () => void;
}

/**
 * Keeps the leases of running messages: extends them, and aborts a message's context
 * when its lease is lost (or when its holder stops). A `Worker` runs one for all the
 * messages it holds, extending their leases in one broker call per queue.
 *
 * @example Keep nothing (the actor's lease may then expire while it runs)
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "./brokers/memory.ts";
 * import { actor } from "./actor.ts";
 *
 * const broker = new MemoryBroker();
 * const held: string[] = [];
 * const heartbeat: Heartbeat = { hold: (context) => (held.push(context.message.id), () => {}) };
 * const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker });
 * const sent = await task.send();
 * const [claim] = await broker.claim("default");
 * await processMessage(broker, "default", claim, { heartbeat });
 * assert(held[0] === sent.id);
 * ```
 */
export interface Heartbeat {
  /**
   * Starts keeping a running message's lease.
   *
   * @param context The message's context; abort it when its lease is lost.
   * @returns Stops keeping it; called once the message is acked, nacked or released.
   */
  hold(context: MessageContext): () => void;
}

/**
 * How processing ended. `stale`: the ack or nack was refused, as the lease had ended: it
 * expired (and maybe another claim took the message), or the message was cancelled.
 */
export type ProcessStatus = "acked" | "retried" | "dead" | "skipped" | "released" | "stale";

/** What {@linkcode processMessage} reports. */
export interface ProcessReport {
  /** The message id. */
  id: string;
  /** How processing ended. */
  status: ProcessStatus;
  /** What the actor threw, or why the message could not run. */
  error?: unknown;
  /**
   * The messages its transition enqueued: the next step of its pipeline, a group's
   * members or completion, callbacks. The push endpoint pushes the ready ones.
   */
  enqueued?: EnqueuedMessage[];
}

/**
 * Decodes and checks a claimed message, runs the middleware and its actor (with the
 * context as `this`), then acks, retries or dead-letters it. Undecodable envelopes,
 * unknown actors and invalid arguments become dead letters with the reason. What follows
 * the message (the next step of its pipeline, its group's completion, callbacks) is
 * written by the broker in the same transition as the ack or nack (`broker.settle()`),
 * and reported in `enqueued`.
 *
 * @param broker The broker it was claimed from.
 * @param queue The queue it was claimed from.
 * @param claim The claim.
 * @param options The lease for heartbeats, and a stop signal.
 * @returns How processing ended.
 * @throws {Error} Only what the broker throws (a network error, say): the message then
 *   stays leased until its lease expires, and runs again.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "./brokers/memory.ts";
 * import { actor } from "./actor.ts";
 *
 * const broker = new MemoryBroker();
 * const add = actor(`add-${crypto.randomUUID()}`, (x: number, y: number) => x + y, { broker });
 * await add.send(1, 2);
 * const [claim] = await broker.claim("default");
 * const report = await processMessage(broker, "default", claim);
 * assert(report.status === "acked");
 * ```
 */
export async function processMessage(
  broker: Broker,
  queue: string,
  claim: Claim,
  options: ProcessOptions = {},
): Promise<ProcessReport> {
  const leaseMs = options.leaseMs ?? 30_000;
  const lease: Lease = { id: claim.id, token: claim.token };
  let message: Message;
  try {
    message = Message.decode(claim.body);
  } catch (error) {
    const reason = errorSummary(error);
    const done = await broker.nack(queue, lease, { kind: "dead", reason });
    if (done) {
      // The decoder's errors never quote the body, so the reason is safe to log.
      broker.logger.error(`Dead-lettered message ${claim.id} of queue '${queue}': ${reason}`, {
        id: claim.id,
        queue,
        outcome: "dead",
      });
      recordFailure(broker, queue, error, true);
    }
    return { id: claim.id, status: done ? "dead" : "stale", error };
  }
  const actor = getActor(message.actor);
  const context = new MessageContext({ broker, queue, message, actor, lease, leaseMs });
  let args: unknown[];
  try {
    args = checkMessage(actor, message);
  } catch (error) {
    const reason = errorSummary(error);
    const report = await nack(context, { kind: "dead", reason, error }, error);
    if (report.status === "dead") {
      // Names, options and schema expectations only: no argument values.
      broker.logger.error(
        `Dead-lettered message ${message.id} of actor '${message.actor}': ${reason}`,
        fields(context, "dead"),
      );
      recordFailure(broker, queue, error, true);
    }
    return report;
  }

  const release = (options.heartbeat ?? ownHeartbeat(leaseMs, options.signal)).hold(context);
  try {
    try {
      const before = emit(broker, "beforeProcessMessage", [context], { allowSkip: true });
      if (isPromise(before)) await before;
    } catch (skip) {
      return await skipped(context, skip as SkipMessage);
    }
    const outcome: ProcessOutcome = { failed: false };
    let effects: Effects | undefined;
    try {
      outcome.result = await run(actor!, context, args);
      // Part of the attempt: a result the continuation cannot carry fails it.
      effects = effectsBuilder.success(broker, message, outcome.result, true);
    } catch (error) {
      outcome.failed = true;
      outcome.result = undefined;
      outcome.error = error;
    }
    if (outcome.error instanceof SkipMessage && !options.signal?.aborted) {
      await emit(broker, "afterProcessMessage", [context, outcome], { reverse: true });
      return await skipped(context, outcome.error);
    }
    // On a stop, hooks still run so that they clean up (timers), but the outcome is
    // ignored: the message goes back to ready without counting a retry.
    const after = emit(broker, "afterProcessMessage", [context, outcome], { reverse: true });
    if (isPromise(after)) await after;
    options.onSettle?.();
    if (options.signal?.aborted) {
      const [released] = await broker.release(queue, [lease]);
      return { id: message.id, status: released ? "released" : "stale" };
    }
    if (!outcome.failed) return await ack(context, effects);
    return await failed(context, outcome);
  } finally {
    release();
  }
}

/** The heartbeat of one message processed alone: a timer, and a listener on `signal`. */
function ownHeartbeat(leaseMs: number, signal: AbortSignal | undefined): Heartbeat {
  return {
    hold(context) {
      const { broker, message } = context;
      const timer = setInterval(async () => {
        try {
          if (!await context.extendLease()) context.abort(new Error("The lease was lost"));
        } catch (error) {
          broker.logger.warn(
            `Cannot extend the lease of message ${message.id}: ${errorName(error)}`,
            fields(context, undefined, error),
          );
        }
      }, Math.max(1, Math.floor(leaseMs / 3)));
      const stop = () => context.abort(signal?.reason);
      signal?.addEventListener("abort", stop, { once: true });
      if (signal?.aborted) stop();
      return () => {
        clearInterval(timer);
        signal?.removeEventListener("abort", stop);
      };
    },
  };
}

/** Checks the per-message options and the arguments; returns the arguments to pass. */
function checkMessage(actor: Actor | undefined, message: Message): unknown[] {
  if (!actor) {
    throw new TypeError(`Cannot process message: no actor named '${message.actor}' is declared`);
  }
  checkActorOptions(message.options, `Cannot process message of actor '${actor.name}'`, true);
  const schema = actor.options.args;
  if (!schema) return message.args;
  const result = v.safeParse(schema, message.args);
  if (result.success) return result.output as unknown[];
  const issue = result.issues[0];
  throw new TypeError(
    `Cannot process message of actor '${actor.name}': argument ${
      v.getDotPath(issue) ?? "list"
    } must be ${issue.expected ?? "valid"}`,
  );
}

/**
 * Runs the actor, failing as soon as its context aborts. A synchronous actor's value (or
 * error) comes back without a promise or a listener in between.
 */
function run(actor: Actor, context: MessageContext, args: unknown[]): unknown {
  const before = abortOf(context);
  if (before) throw before.reason;
  const value = actor.fn.apply(context, args as never[]);
  // An actor may abort its own attempt: it fails with the reason, as a listener would.
  const during = abortOf(context);
  if (during) throw during.reason;
  if (!isPromise(value)) return value;
  let stop = () => {};
  const aborted = new Promise<never>((_, reject) => {
    stop = whenAborted(context, reject);
  });
  return Promise.race([value, aborted]).finally(() => stop());
}

async function skipped(context: MessageContext, skip: SkipMessage): Promise<ProcessReport> {
  const { broker, message } = context;
  broker.logger.info(
    `Skipped message ${message.id} of actor '${message.actor}': ${skip.message}`,
    fields(context, "skipped"),
  );
  await emit(broker, "afterSkipMessage", [context, skip], { reverse: true });
  if (skip.deadLetter) {
    return await nack(context, { kind: "dead", reason: skip.message, error: skip });
  }
  // A skipped message counts as a success with a null result: its pipeline goes on.
  let effects: Effects | undefined;
  try {
    effects = effectsBuilder.success(broker, message, null, false);
  } catch (error) {
    return await nack(context, { kind: "dead", reason: errorSummary(error), error }, error);
  }
  const report = await ack(context, effects);
  return report.status === "acked" ? { ...report, status: "skipped" } : report;
}

async function ack(context: MessageContext, effects?: Effects): Promise<ProcessReport> {
  const { broker, message, queue } = context;
  const before = emit(broker, "beforeAck", [context]);
  if (isPromise(before)) await before;
  let done: boolean;
  let enqueued: EnqueuedMessage[] = [];
  if (effects) {
    ({ done, enqueued } = await broker.settle(queue, context.lease, { kind: "ack", effects }));
  } else {
    [done] = await broker.ack(queue, [context.lease]);
  }
  if (!done) {
    broker.logger.warn(
      `Cannot ack message ${message.id}: its lease ended (expired, cancelled, or claimed again)`,
      fields(context, "stale"),
    );
    return { id: message.id, status: "stale" };
  }
  const after = emit(broker, "afterAck", [context], { reverse: true });
  if (isPromise(after)) await after;
  return enqueued.length > 0
    ? { id: message.id, status: "acked", enqueued }
    : { id: message.id, status: "acked" };
}

async function failed(context: MessageContext, outcome: ProcessOutcome): Promise<ProcessReport> {
  const { broker, message, queue } = context;
  const { error } = outcome;
  const what =
    `Message ${message.id} of actor '${message.actor}' failed on attempt ${context.attempt}`;
  const counts = !(error instanceof Retry);
  if (outcome.retryAt !== undefined) {
    const delay = Math.max(0, outcome.retryAt - broker.now());
    if (counts) {
      broker.logger.warn(`${what} with ${errorName(error)}; retrying in ${delay} ms`, {
        ...fields(context, "retried", error),
        delay,
      });
    }
    const body = message.copy({ retries: message.retries + 1 }).encode();
    const report = await nack(context, { kind: "retry", at: outcome.retryAt, body, error }, error);
    if (counts && report.status === "retried") recordFailure(broker, queue, error, false);
    return report;
  }
  const reason = outcome.deadReason ?? errorSummary(error);
  const report = await nack(context, { kind: "dead", reason, error }, error);
  if (report.status === "dead") {
    // The cause, not the stored reason: an error's message may quote the arguments.
    const cause = outcome.deadCause ?? "no middleware retries it";
    broker.logger.error(
      `${what} with ${errorName(error)}; dead-lettered (${cause})`,
      fields(context, "dead", error),
    );
    if (counts) recordFailure(broker, queue, error, true);
  }
  return report;
}

async function nack(
  context: MessageContext,
  outcome: NackOutcome,
  error?: unknown,
): Promise<ProcessReport> {
  const { broker, message, queue } = context;
  await emit(broker, "beforeNack", [context, outcome]);
  // Built after the hooks, which may rewrite the outcome (its body, say).
  let effects: Effects | undefined;
  try {
    effects = effectsBuilder.failure(broker, message, outcome, outcome.error ?? error);
  } catch (reason) {
    broker.logger.error(
      `Cannot build what follows the failure of message ${message.id}: ${errorName(reason)}`,
      fields(context, undefined, reason),
    );
  }
  let done: boolean;
  let enqueued: EnqueuedMessage[] = [];
  if (effects) {
    ({ done, enqueued } = await broker.settle(queue, context.lease, { ...outcome, effects }));
  } else {
    done = await broker.nack(queue, context.lease, outcome);
  }
  if (!done) {
    broker.logger.warn(
      `Cannot nack message ${message.id}: its lease ended (expired, cancelled, or claimed again)`,
      fields(context, "stale"),
    );
    return { id: message.id, status: "stale", error };
  }
  await emit(broker, "afterNack", [context, outcome], { reverse: true });
  const status = outcome.kind === "retry" ? "retried" : "dead";
  return enqueued.length > 0
    ? { id: message.id, status, error, enqueued }
    : { id: message.id, status, error };
}

/** The fields of a log line about a running message: never its arguments. */
function fields(context: MessageContext, outcome?: string, error?: unknown): LogFields {
  const { message, queue, attempt } = context;
  const out: LogFields = { id: message.id, actor: message.actor, queue, attempt };
  if (outcome !== undefined) out.outcome = outcome;
  if (error !== undefined) out.error = error;
  return out;
}
