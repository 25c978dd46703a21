/**
 * The `Broker` contract: storage primitives that each implementation provides (one round
 * trip each), and the parts every broker shares (middleware, `enqueue()`, `join()`, the
 * clock). See `docs/lifecycle.md`.
 *
 * @module
 */
import { announceEnqueued } from "./_continued.ts";
import { hasFailure, takeFailure } from "./_failures.ts";
import { isNonNegative, MAX_TIMER_MS, NAME_PATTERN, sleep } from "./_util.ts";
import { lastMinutes } from "./brokers/_throughput.ts";
import { JoinTimeout, MessageTooLarge } from "./errors.ts";
import { DEFAULT_DEDUP_TTL, Message } from "./message.ts";
import { actorNames, getActor } from "./registry.ts";
import { AgeLimit } from "./middleware/age_limit.ts";
import { emit, isPromise } from "./middleware/_emit.ts";
import type { Middleware } from "./middleware/middleware.ts";
import { Retries } from "./middleware/retries.ts";
import { TimeLimit } from "./middleware/time_limit.ts";
import { declareActorOptions } from "./options.ts";
import { processMessage } from "./process.ts";
import { parseQueueOptions, type QueueOptions } from "./brokers/flow.ts";
import type { Logger } from "./logger.ts";

export type { Logger } from "./logger.ts";

/** A claim's right to finish a message: its id and fencing token. */
export interface Lease {
  /** The message id. */
  id: string;
  /** The fencing token of this claim. */
  token: string;
}

/** A claimed message. */
export interface Claim extends Lease {
  /** The encoded envelope, as written. */
  body: string;
  /** When the lease ends unless extended, in milliseconds since the epoch. */
  leaseUntil: number;
}

/** Options of `claim()`, `claimById()` and `extendLease()`. */
export interface LeaseOptions {
  /** How long the lease holds, in milliseconds (default 30 000). */
  leaseMs?: number;
}

/** Options of `claim()`. */
export interface ClaimOptions extends LeaseOptions {
  /** How many messages to claim at most (default 1). */
  count?: number;
}

/** Where a message is: see `docs/lifecycle.md`; `missing` is done or never sent. */
export type MessageState = "ready" | "delayed" | "leased" | "dead" | "missing";

/** Options of `claimById()`. */
export interface ClaimByIdOptions extends LeaseOptions {
  /**
   * A key to remember once for `ttlMs`, in the same transition as the claim: when another
   * call remembered it already, nothing is claimed and the answer is `replayed`. The push
   * endpoint passes a signature's MAC, so that a replayed push costs no second request.
   * A retried call whose first answer was lost recognises its own mark.
   */
  once?: { key: string; ttlMs: number };
}

/** What `claimById()` answers. */
export interface ClaimByIdResult {
  /** The messages claimed now. */
  claimed: Claim[];
  /** The others and where they are (never `ready`). */
  unclaimed: { id: string; state: UnclaimedState }[];
  /** Set when `once`'s key was remembered by another call: nothing was claimed. */
  replayed?: true;
}

/**
 * Why `claimById()` did not claim a message: where it is, or `busy` (ready, but its queue's
 * `parallelism` or `rate` is used up: it waits in ready, see `docs/flow_control.md`).
 */
export type UnclaimedState = Exclude<MessageState, "ready"> | "busy";

/**
 * How a failed message goes on: retried at a time, or dead with a reason; with an optional
 * new body, and what failed (for hooks such as `Results`; brokers ignore it).
 */
export type NackOutcome =
  | { kind: "retry"; at: number; body?: string; error?: unknown }
  | { kind: "dead"; reason: string; body?: string; error?: unknown };

/** How many messages of a queue are in each state. */
export interface QueueStats {
  /** Ready to be claimed. */
  ready: number;
  /** Waiting for their eta (including due ones not yet promoted by a claim). */
  delayed: number;
  /** Claimed (including expired leases not yet recovered by a claim). */
  leased: number;
  /** Dead letters not yet expired or purged. */
  dead: number;
}

/**
 * The messages of a queue that finished in one minute, as a broker with the `throughput`
 * option counts them: each ack, nack and settle that applies adds its messages.
 */
export interface ThroughputMinute {
  /** The minute's start, in milliseconds since the epoch. */
  at: number;
  /** Acknowledged: they succeeded. */
  acked: number;
  /** Failed, to be retried later. */
  retried: number;
  /** Failed for good: moved to the dead letters. */
  dead: number;
}

/** Options of `throughput()`. */
export interface ThroughputOptions {
  /** How many minutes to read, the current one included: 1 to 60 (default 15). */
  minutes?: number;
}

/** A dead message. */
export interface DeadLetter {
  /** The message id. */
  id: string;
  /** The encoded envelope; `Message.decode()` it (it may be what could not be decoded). */
  body: string;
  /** Why it died. */
  reason: string;
  /** When it died, in milliseconds since the epoch. */
  deadAt: number;
}

/**
 * A message that a group's completion (or failure) enqueues later, inside the broker's
 * transition: its envelope is JSON text with gaps that the broker fills at that time
 * (`docs/lifecycle.md`, "Continuations"). `brokers/_template.ts` makes and fills them.
 */
export interface MessageTemplate {
  /** The message id, fixed when the composition was built. */
  id: string;
  /** Its queue. */
  queue: string;
  /** Its priority, in [-255, 255]. */
  priority: number;
  /** Becomes ready this many milliseconds after it is enqueued (0: at once). */
  delay: number;
  /** Becomes ready no earlier than this time, in milliseconds since the epoch (0: none). */
  eta: number;
  /** Whether the fill (JSON values, comma-separated) is appended to its arguments. */
  fill: boolean;
  /** The envelope up to its last argument, with no closing bracket. */
  head: string;
  /** What goes between the last argument and the fill: `","`, or `""` when no arguments. */
  sep: string;
  /** From the closing bracket of the arguments to `"enqueuedAt":`, which comes last. */
  middle: string;
}

/** A group whose completion the broker tracks: created when its members are enqueued. */
export interface GroupStart {
  /** The group id. */
  id: string;
  /** The queue whose hash tag holds the group's state (its first member's). */
  home: string;
  /** How many members must succeed. */
  size: number;
  /** Enqueued once every member succeeded; the list of results is their fill. */
  onCompletion: MessageTemplate[];
  /** Enqueued at the first member that fails for good; `messageData, exceptionData` is their fill. */
  onFailure: MessageTemplate[];
  /** How long the state is kept while members are pending, in milliseconds. */
  ttl: number;
}

/**
 * A group step of a pipeline's plan: its members' first messages, enqueued with the
 * previous result, and the state of the group when tracked, created in the same transition.
 */
export interface PlanFan {
  /** The members' first messages (each filled with the previous result unless it ignores it). */
  members: MessageTemplate[];
  /** The group's state to create, when tracked (a fan-in step or callbacks). */
  group?: GroupStart;
}

/**
 * A pipeline's plan, stored once when it runs: its later steps by position, messages and
 * groups, so that each step's envelope refers to the next instead of carrying the rest.
 * The later steps of a group's member pipelines are stored too, each under
 * `<position>:<member>:<step>` ({@linkcode planField}).
 */
export interface PlanStart {
  /** The plan id (the pipeline's first message's id). */
  id: string;
  /** The queue whose hash tag holds the plan (the first step's). */
  home: string;
  /**
   * The steps a settle reads: the field ({@linkcode planField}) and template (filled with
   * the previous result) or group.
   */
  steps: [number | string, MessageTemplate | PlanFan][];
  /**
   * Every message of the pipeline that stores its result, with its step's position (and,
   * for a member pipeline's message, the member and its step in the member).
   */
  results: PlanResult[];
  /** How long the plan is kept, in milliseconds (it is deleted once its last step is enqueued). */
  ttl: number;
  /**
   * When a group of member pipelines ends the plan: how many members have later steps
   * stored. Each member's last stored step, once read, counts one down; the plan is deleted
   * at 0.
   */
  open?: number;
}

/**
 * A message of a plan that stores its result: its step's position and id, and, for a step
 * of a group's member pipeline, the member's index and the step's index in the member.
 */
export type PlanResult = [number, string] | [number, string, number, number];

/** A step of a group's member pipeline: the member's index and the step's index in it. */
export interface PlanMember {
  /** The member's index in its group, from 0. */
  index: number;
  /** The step's index in the member pipeline, from 0. */
  step: number;
}

/**
 * The field of a plan's step: its position, or, for a step of a member pipeline,
 * `<position>:<member>:<step>`.
 *
 * @param at The step's position (a member pipeline's: its group's).
 * @param member The member and the step in it, for a member pipeline's step.
 * @returns The field name.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(planField(3), "3");
 * assert.equal(planField(3, { index: 2, step: 1 }), "3:2:1");
 * ```
 */
export function planField(at: number, member?: PlanMember): string {
  return member ? `${at}:${member.index}:${member.step}` : String(at);
}

/**
 * The ids of a plan's results that fail with a step: those at position `from` or later,
 * or, given a member step, that member's from its step on and those after its group.
 *
 * @param results The plan's results.
 * @param from The first position (a member step's: its group's).
 * @param member The member and its first step whose results fail.
 * @returns The ids, in order.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const results: PlanResult[] = [[1, "g0"], [1, "a1", 0, 1], [1, "b1", 1, 1], [2, "m"]];
 * assert.deepEqual(planResultIds(results, 1), ["g0", "a1", "b1", "m"]);
 * assert.deepEqual(planResultIds(results, 1, { index: 1, step: 1 }), ["b1", "m"]);
 * ```
 */
export function planResultIds(
  results: readonly PlanResult[],
  from: number,
  member?: PlanMember,
): string[] {
  return results.filter(([at, , index, step]) =>
    member
      ? at > from || (at === from && index === member.index && step! >= member.step)
      : at >= from
  ).map(([, id]) => String(id));
}

/** The next step of a pipeline, read from its plan and enqueued inside the step's ack. */
export interface PlanStep {
  /** The plan id. */
  id: string;
  /** The queue whose hash tag holds the plan. */
  home: string;
  /** The step's position (a member pipeline's step: its group's). */
  at: number;
  /** A step of a group's member pipeline: the member, and the step in it. */
  member?: PlanMember;
  /** The step's queue. */
  queue: string;
  /**
   * Whether it is the plan's last stored step: the plan is deleted with it. For a member
   * pipeline's step: its member's last, in a plan its group ends (see `PlanStart.open`).
   */
  last: boolean;
  /** The previous step's result as JSON, appended to its arguments unless it ignores it. */
  fill: string;
  /** A group step: its members' queues, and the tracked group whose state it creates. */
  fan?: { queues: string[]; group?: { id: string; home: string } };
  /**
   * The step after a group, read by a member's report: enqueued only if that report
   * completes the group, filled with the list of results (`fill` is not used).
   */
  fanIn?: boolean;
}

/** A group member's last step reporting to its group, inside its ack or its death. */
export interface MemberReport {
  /** The group id. */
  group: string;
  /** The queue whose hash tag holds the group's state. */
  home: string;
  /** The member's position in the group, from 0. */
  index: number;
  /** How many members the group has. */
  size: number;
  /** Whether the group keeps the members' results (its completion needs them). */
  keep: boolean;
  /** Success: the member's result as JSON (`"null"` when not kept). */
  result?: string;
  /** Failure for good: the fill of the failure templates, `messageData,exceptionData`. */
  failure?: string;
  /** The queues the group's templates write to. */
  queues: string[];
}

/**
 * What a broker writes in the same transition as an ack or a nack, and only if the lease
 * token matches: so a duplicate delivery or a retried request never writes it twice, and
 * a crash never writes it without the transition.
 */
export interface Effects {
  /** Messages to enqueue (encoded by `encodeMessages()`), idempotent by id. */
  messages?: EncodedMessage[];
  /** Groups whose state to create (the members are among `messages`). */
  groups?: GroupStart[];
  /** A group member reporting success (ack) or failure for good (dead). */
  member?: MemberReport;
  /** The next step of a pipeline, read from its plan (ack only; with `member`, a fan-in). */
  plan?: PlanStep;
}

/** What `settle()` does: an ack or a nack, with its effects. */
export type SettleOutcome = ({ kind: "ack" } | NackOutcome) & { effects?: Effects };

/** A message a transition enqueued. */
export interface EnqueuedMessage {
  /** The message id. */
  id: string;
  /** Its queue. */
  queue: string;
  /** Whether it waits for a delay or an eta (not worth pushing yet). */
  delayed: boolean;
}

/** What `settle()` answers. */
export interface SettleResult {
  /** Whether the transition was done (`false`: stale token, nothing was written). */
  done: boolean;
  /** The messages its effects enqueued (those already stored are left out). */
  enqueued: EnqueuedMessage[];
}

/** Options of `enqueue()`. */
export interface EnqueueOptions {
  /** Groups whose completion to track; written in the same request as the messages. */
  groups?: readonly GroupStart[];
  /** Pipeline plans to store; written before the messages, in the same request. */
  plans?: readonly PlanStart[];
  /**
   * An id of this call (1-200 of A-Z a-z 0-9 _.:@/-), for a caller that may make the same
   * call again after an error (its answer lost after the write landed): made again with
   * the same id, and
   * the same records ({@linkcode Broker.enqueueEncoded}), stores nothing twice, even after
   * a message it stored ran and was acked in between. `UpstashBroker` keeps the call's
   * record 15 minutes (a call without an id: 60 s, for `@upstash/redis`'s own retries);
   * `MemoryBroker` ignores it (nothing is lost in process). Without it, each call has a
   * fresh id.
   */
  callId?: string;
}

/** A message ready to be written, as the base class hands it to `write()`. */
export interface EncodedMessage {
  /** The message id. */
  id: string;
  /** Its queue. */
  queue: string;
  /** Its priority, in [-255, 255]. */
  priority: number;
  /** When it becomes ready: later than now means delayed. */
  readyAt: number;
  /** The encoded envelope. */
  body: string;
  /**
   * Producer deduplication: the first message written with this key to this queue inside
   * `dedupTtl` is stored; a later one is not, and `write()` answers the first one's id.
   */
  dedupKey?: string;
  /** The dedup window, in milliseconds (set whenever `dedupKey` is). */
  dedupTtl?: number;
  /**
   * Debounce (see `docs/flow_control.md`): a later record with this key, while the first
   * is still waiting, replaces its body and pushes it back; `write()` answers its id.
   */
  debounce?: DebounceRecord;
  /**
   * Throttle (see `docs/flow_control.md`): a record with this key inside the period of
   * the last one stored is dropped; `write()` answers {@linkcode THROTTLED}.
   */
  throttle?: { key: string; period: number };
}

/** What a debounced record carries to `write()`. */
export interface DebounceRecord {
  /** The debounce key. */
  key: string;
  /** How long a send waits for a later one, in milliseconds. */
  delay: number;
  /** How long after the first send the message runs at the latest, in milliseconds. */
  maxDelay: number;
}

/** What `write()` answers for a throttled record: nothing was stored. */
export const THROTTLED = "";

/**
 * What `cancel()` found for each id: `cancelled`, removed before it ran (it was ready or
 * delayed); `running`, it was leased: the attempt is not stopped, but its lease is gone,
 * so nothing after it happens (no next step, no retry, no callback); `dead`, a dead
 * letter, left alone (`purgeDead()` removes those); `missing`, done or never sent.
 */
export type CancelOutcome = "cancelled" | "running" | "dead" | "missing";

/** What a broker's storage answers to a cancel. */
export interface CancelStored {
  /** The outcome of each id, in order. */
  outcomes: CancelOutcome[];
  /** The bodies of the messages cancelled or stopped, by id. */
  bodies: Map<string, string>;
  /** The messages the cancel enqueued: the failure callbacks of its members' groups. */
  enqueued?: EnqueuedMessage[];
}

/** How many messages `flush()` removed, by state. */
export interface FlushCounts {
  /** Ready messages. */
  ready: number;
  /** Delayed messages (retries waiting for their backoff included). */
  delayed: number;
  /** Dead letters. */
  dead: number;
}

/** The most ids one `cancel()` call takes. */
export const MAX_CANCEL = 1000;

/** Options shared by every broker. */
export interface BrokerOptions {
  /** The clock, in milliseconds since the epoch (default `Date.now`); inject one in tests. */
  now?: () => number;
  /** Replaces the default middleware stack (`AgeLimit`, `TimeLimit`, `Retries`). */
  middleware?: Middleware[];
  /** Where to log (default `console`). */
  logger?: Logger;
  /** The largest encoded message accepted at send, in bytes (default 256 KiB). */
  maxMessageBytes?: number;
  /** How long dead letters are kept, in milliseconds (default 7 days). */
  deadLetterTtl?: number;
  /**
   * Flow control by queue name: `parallelism` (leased at once) and `rate` (claims per
   * period), enforced by every claim (see `docs/flow_control.md`). Give every broker of a
   * queue the same limits.
   */
  queues?: Record<string, QueueOptions>;
  /**
   * Counts finished messages per queue and minute (acked, retried, dead), kept an hour, for
   * `throughput()` and the dashboard (default `false`). On an `UpstashBroker` it costs one
   * command per ack, nack or settle call (two on the first of a minute in a queue), inside
   * the same script: see `docs/costs.md`. Give it to the brokers that finish messages and
   * to the one the dashboard reads with.
   */
  throughput?: boolean;
}

/**
 * What `join()` raises besides `JoinTimeout`: `true`, the error of the first message
 * dead-lettered (Dramatiq 2.x's `fail_fast`); `false`, nothing; `"any"`, the first actor
 * error at once, also one that will be retried.
 */
export type JoinFailFast = boolean | "any";

/** Options of `join()`. */
export interface JoinOptions {
  /** Give up after this many milliseconds of real time with `JoinTimeout` (default: wait forever). */
  timeout?: number;
  /**
   * `true` (default): once the queue is idle, raise the error of the first message of the
   * queue that was dead-lettered since the last join (retried errors raise nothing).
   * `false`: raise nothing. `"any"`: raise the first actor error at once, retried or not,
   * leaving the rest of the queue as it is.
   */
  failFast?: JoinFailFast;
  /** The lease of messages join processes itself (default 30 000 ms). */
  leaseMs?: number;
}

/** Options of `addMiddleware()`: where to insert. */
export interface AddMiddlewareOptions {
  /** Insert before the first middleware of this class. */
  before?: abstract new (...args: never[]) => Middleware;
  /** Insert after the first middleware of this class. */
  after?: abstract new (...args: never[]) => Middleware;
}

const DEFAULT_LEASE_MS = 30_000;
/** How long join watches a clock that does not move before it stops waiting for delays. */
const FROZEN_CLOCK_MS = 25;
const DAY_MS = 86_400_000;

/**
 * A message broker. Implementations extend this class and provide the abstract storage
 * methods with the semantics of `docs/lifecycle.md`; `tests/broker_conformance.ts` checks
 * them. Every method is async; every batch is meant to be one round trip.
 *
 * @example Send, then drain inline with `join()`
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "./brokers/memory.ts";
 * import { actor } from "./actor.ts";
 *
 * const broker = new MemoryBroker();
 * const seen: number[] = [];
 * const record = actor(`record-${crypto.randomUUID()}`, (n: number) => { seen.push(n) }, { broker });
 * await broker.enqueue([record.message(1), record.message(2)]);
 * await broker.join("default");
 * assert(seen.join() === "1,2");
 * ```
 */
export abstract class Broker {
  /** The clock, in milliseconds since the epoch. */
  readonly now: () => number;
  /** Where skiff logs. */
  readonly logger: Logger;
  /** The largest encoded message accepted at send, in bytes. */
  readonly maxMessageBytes: number;
  /** How long dead letters are kept, in milliseconds. */
  readonly deadLetterTtl: number;
  /** Whether finished messages are counted per queue and minute (the `throughput` option). */
  readonly countsThroughput: boolean;
  #middleware: Middleware[];
  readonly #queues: ReadonlyMap<string, Readonly<QueueOptions>>;

  /**
   * Sets up what every broker shares: clock, logger, limits and middleware.
   *
   * @param options The clock, middleware, logger, limits and queue flow control.
   * @throws {RangeError} When a limit is not a positive number.
   * @throws {TypeError} When `queues` is not an object of valid queue limits.
   */
  constructor(options: BrokerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? console;
    this.maxMessageBytes = positive(options.maxMessageBytes, 256 * 1024, "maxMessageBytes");
    this.deadLetterTtl = positive(options.deadLetterTtl, 7 * DAY_MS, "deadLetterTtl");
    this.#queues = parseQueueOptions(options.queues);
    if (options.throughput !== undefined && typeof options.throughput !== "boolean") {
      throw new TypeError(
        `Cannot create broker: 'throughput' must be a boolean, received ${typeof options
          .throughput}`,
      );
    }
    this.countsThroughput = options.throughput ?? false;
    this.#middleware = [];
    for (const m of options.middleware ?? [new AgeLimit(), new TimeLimit(), new Retries()]) {
      this.addMiddleware(m);
    }
  }

  /**
   * The flow control of a queue, as given in the `queues` option.
   *
   * @param queue The queue.
   * @returns Its `parallelism` and `rate`, or `undefined` when it has no limit.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   *
   * const broker = new MemoryBroker({ queues: { emails: { parallelism: 3 } } });
   * assert.equal(broker.queueOptions("emails")?.parallelism, 3);
   * assert.equal(broker.queueOptions("default"), undefined);
   * ```
   */
  queueOptions(queue: string): Readonly<QueueOptions> | undefined {
    return this.#queues.get(queue);
  }

  /** The middleware stack, in the order before-hooks run. */
  get middleware(): readonly Middleware[] {
    return this.#middleware;
  }

  /**
   * Adds a middleware, at the end of the stack or next to one of a given class, and
   * declares the actor options it reads.
   *
   * @param middleware The middleware.
   * @param options Where to insert it.
   * @throws {TypeError} When the class to insert next to is not in the stack.
   */
  addMiddleware(middleware: Middleware, options: AddMiddlewareOptions = {}): void {
    declareActorOptions(middleware.actorOptions);
    const anchor = options.before ?? options.after;
    if (!anchor) {
      this.#middleware.push(middleware);
      return;
    }
    const index = this.#middleware.findIndex((m) => m instanceof anchor);
    if (index < 0) {
      throw new TypeError(
        `Cannot add middleware '${middleware.name}': no '${anchor.name}' in the stack`,
      );
    }
    this.#middleware.splice(options.before ? index : index + 1, 0, middleware);
  }

  /**
   * Sends messages in one batch: runs `beforeEnqueue`, stamps `enqueuedAt` and the eta,
   * checks every message before writing any, writes them, then runs `afterEnqueue`.
   *
   * @param messages The messages, possibly for several queues.
   * @param options Groups whose completion to track, written in the same request; the
   *   call's id, for a caller that may make it again (`EnqueueOptions.callId`).
   * @returns The messages as written (with `enqueuedAt` and `eta` set), in order. A message
   *   sent with a `dedupKey` already sent to its queue inside its window comes back with
   *   the first message's id and `deduplicated: true`; nothing was enqueued for it. So
   *   does a debounced send that replaced a waiting message (`debounced: true`, that
   *   message's id), and a throttled one (`throttled: true`, its own id, never stored).
   * @throws {MessageTooLarge} When an encoded message exceeds `maxMessageBytes`.
   * @throws {TypeError} When a message cannot be encoded.
   */
  async enqueue(messages: readonly Message[], options: EnqueueOptions = {}): Promise<Message[]> {
    return await this.enqueueEncoded(
      this.encodeMessages(await this.emitBeforeEnqueue(messages)),
      options,
    );
  }

  /**
   * The second half of `enqueue()`: writes messages already through `beforeEnqueue` and
   * {@linkcode Broker.encodeMessages}, then runs `afterEnqueue` for those stored. For a
   * caller that keeps the records to make the same call again after an error, with the
   * same `callId` (the scheduler sends a slot's message again so): the same records split
   * into the same script calls, so each is recognised as made already.
   *
   * @param encoded What `encodeMessages()` answered.
   * @param options Groups and plans to write in the same request, and the call's id.
   * @returns The messages as written, as `enqueue()` answers them.
   * @throws {TypeError} When `callId` is not 1-200 of A-Z a-z 0-9 _.:@/-.
   * @throws {Error} When the broker's storage fails.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   * import { Message } from "./message.ts";
   *
   * const broker = new MemoryBroker();
   * const message = new Message({ queue: "q", actor: "a", args: [] });
   * const encoded = broker.encodeMessages(await broker.emitBeforeEnqueue([message]));
   * await broker.enqueueEncoded(encoded, { callId: "send-1" });
   * await broker.enqueueEncoded(encoded, { callId: "send-1" });
   * assert.equal((await broker.stats("q")).ready, 1);
   * ```
   */
  async enqueueEncoded(
    encoded: { messages: readonly Message[]; records: readonly EncodedMessage[] },
    options: EnqueueOptions = {},
  ): Promise<Message[]> {
    const { messages: ready, records } = encoded;
    const { callId } = options;
    if (callId !== undefined && (typeof callId !== "string" || !NAME_PATTERN.test(callId))) {
      throw new TypeError("Cannot send messages: 'callId' must be 1-200 of A-Z a-z 0-9 _.:@/-");
    }
    const groups = options.groups ?? [];
    const plans = options.plans ?? [];
    const ids = records.length > 0 || groups.length > 0 || plans.length > 0
      ? await this.write(records, groups, plans, callId)
      : undefined;
    const sent = ready.map((message, i) => {
      const id = ids?.[i];
      if (id === undefined || id === message.id) return message;
      if (message.throttle) return message.copy({ throttled: true });
      if (message.debounce) return message.copy({ id, debounced: true });
      return message.copy({ id, deduplicated: true });
    });
    // A deduplicated, debounced or throttled send enqueued nothing: no afterEnqueue for it.
    await this.emitAfterEnqueue(
      sent.filter((m) => !m.deduplicated && !m.debounced && !m.throttled),
    );
    return sent;
  }

  /**
   * Runs the `beforeEnqueue` hooks of `enqueue()` on each message, for a caller that writes
   * messages in a transition of its own (the scheduler stores a slot's message with its
   * record) and encodes them with {@linkcode Broker.encodeMessages} after.
   *
   * @param messages The messages to send.
   * @returns Each message, or what a hook replaced it with.
   */
  async emitBeforeEnqueue(messages: readonly Message[]): Promise<Message[]> {
    const replaced: Message[] = [];
    for (let message of messages) {
      // Awaited only when a hook is async: an await per message would let the pushes of
      // one enqueue() leave a few ids at a time.
      let replacement = emit(this, "beforeEnqueue", [this, message]);
      if (isPromise(replacement)) replacement = await replacement;
      if (replacement !== undefined) message = replacement as Message;
      replaced.push(message);
    }
    return replaced;
  }

  /**
   * Runs the `afterEnqueue` hooks of `enqueue()` (the `Push` middleware pushes) for messages
   * written, by `enqueue()` or by a caller's own transition.
   *
   * @param messages The messages written.
   */
  async emitAfterEnqueue(messages: readonly Message[]): Promise<void> {
    for (const message of messages) {
      const after = emit(this, "afterEnqueue", [this, message], { reverse: true });
      if (isPromise(after)) await after;
    }
  }

  /**
   * Stamps messages as `enqueue()` does (`enqueuedAt` now, the eta from a delay) and
   * encodes them, checking every size, without running hooks or writing anything: what a
   * continuation hands to `settle()`.
   *
   * @param messages The messages.
   * @returns The stamped messages and their records, in order.
   * @throws {MessageTooLarge} When an encoded message exceeds `maxMessageBytes`.
   * @throws {TypeError} When a message cannot be encoded.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   * import { Message } from "./message.ts";
   *
   * const broker = new MemoryBroker({ now: () => 1_000 });
   * const { records } = broker.encodeMessages([new Message({ queue: "q", actor: "a", args: [], delay: 5 })]);
   * assert(records[0].readyAt === 1_005);
   * ```
   */
  encodeMessages(messages: readonly Message[]): { messages: Message[]; records: EncodedMessage[] } {
    const now = this.now();
    const ready = messages.map((message) => {
      const eta = message.eta ?? (message.delay ? now + message.delay : undefined);
      return message.copy({ enqueuedAt: now, eta, delay: undefined });
    });
    const encoder = new TextEncoder();
    const records = ready.map((message): EncodedMessage => {
      const body = message.encode();
      const size = encoder.encode(body).byteLength;
      if (size > this.maxMessageBytes) throw new MessageTooLarge(size, this.maxMessageBytes);
      return {
        id: message.id,
        queue: message.queue,
        priority: message.priority,
        readyAt: Math.max(now, message.eta ?? now),
        body,
        ...(message.dedupKey === undefined
          ? {}
          : { dedupKey: message.dedupKey, dedupTtl: message.dedupTtl ?? DEFAULT_DEDUP_TTL }),
        ...(message.debounce === undefined ? {} : { debounce: message.debounce }),
        ...(message.throttle === undefined ? {} : { throttle: message.throttle }),
      };
    });
    return { messages: ready, records };
  }

  /**
   * Drains a queue inline, as Dramatiq's `join`: claims and processes its messages one at
   * a time until nothing is ready, in flight or delayed (retries waiting for their backoff
   * included), waiting for delays to come due and for other consumers' leases to end. With
   * an injected clock that stands still, a delay never comes due: join then returns when
   * only such delays are left (move the clock and join again). In tests, give actors a
   * small `minBackoff` (or the broker `new Retries({ minBackoff })`) so retries come due
   * soon, as Dramatiq's own tests do.
   *
   * @param queue The queue.
   * @param options The timeout, and what to raise.
   * @returns When the queue is idle.
   * @throws {JoinTimeout} When `timeout` passes first.
   * @throws {unknown} By default, the error of the first message of the queue dead-lettered
   *   since the last join (an unknown actor, arguments that fail their schema, retries
   *   exhausted, an error listed in `throws`), once the queue is idle; see `failFast`.
   * @example Wait for retries; raise only when the message is dead
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   * import { actor } from "./actor.ts";
   *
   * const logger = { ...console, warn() {}, error() {} }; // failures are expected here
   * const broker = new MemoryBroker({ logger });
   * let attempts = 0;
   * const flaky = actor(`flaky-${crypto.randomUUID()}`, () => {
   *   if (++attempts < 3) throw new Error(`attempt ${attempts}`);
   * }, { broker, maxRetries: 5, minBackoff: 1, maxBackoff: 5 });
   * await flaky.send();
   * await broker.join("default"); // two retries waited for, nothing raised
   * assert(attempts === 3);
   * ```
   */
  async join(queue: string, options: JoinOptions = {}): Promise<void> {
    const { timeout, failFast = true, leaseMs = DEFAULT_LEASE_MS } = options;
    const timer = new AbortController();
    const handle = timeout === undefined
      ? undefined
      : setTimeout(() => timer.abort(), Math.min(Math.max(0, timeout), MAX_TIMER_MS));
    try {
      let idle = 1;
      /** When only delays were left, and what the broker's clock said then. */
      let waiting: { since: number; clock: number } | undefined;
      while (true) {
        if (failFast === "any" && hasFailure(this, queue)) {
          throw takeFailure(this, queue, "any")!.error;
        }
        if (timer.signal.aborted) throw new JoinTimeout(`queue '${queue}'`, timeout ?? 0);
        const [claim] = await this.claim(queue, { count: 1, leaseMs });
        if (claim) {
          idle = 1;
          waiting = undefined;
          await processMessage(this, queue, claim, { leaseMs, signal: timer.signal });
          continue;
        }
        const stats = await this.stats(queue);
        if (stats.ready === 0 && stats.leased === 0) {
          if (stats.delayed === 0) break;
          const clock = this.now();
          if (!waiting || waiting.clock !== clock) {
            waiting = { since: performance.now(), clock };
          } else if (performance.now() - waiting.since >= FROZEN_CLOCK_MS) {
            break; // an injected clock that stands still: the delays never come due
          }
        } else {
          waiting = undefined;
        }
        await sleep(idle, timer.signal);
        idle = Math.min(idle * 2, 50);
      }
      const failure = takeFailure(this, queue, "dead");
      if (failure && failFast !== false) throw failure.error;
    } finally {
      clearTimeout(handle);
    }
  }

  /**
   * Stores encoded messages, each as ready or delayed (`readyAt` later than now), in one
   * round trip per queue at most. Idempotent by id: an id already stored (in any state)
   * is left alone, so that a retried request cannot reset a running message.
   *
   * A record with a `dedupKey` is stored only if no record with that key was written to
   * its queue inside its `dedupTtl` (see `docs/concepts.md`, "Producer deduplication").
   *
   * @param records The messages, checked and encoded.
   * @param groups Groups whose state to create first, in the same round trip; a group
   *   already created is left alone.
   * @param plans Pipeline plans to store first, in the same round trip.
   * @param callId The caller's id of this call (`EnqueueOptions.callId`): a broker whose
   *   writes a lost answer could repeat derives each script call's record from it.
   * @returns The id each record stands for, in order: its own, or the first message's when
   *   deduplicated (a broker without deduplication may return nothing).
   */
  protected abstract write(
    records: readonly EncodedMessage[],
    groups?: readonly GroupStart[],
    plans?: readonly PlanStart[],
    callId?: string,
  ): Promise<readonly string[] | void>;

  /**
   * Reads a pipeline's plan: the ids of its messages at position `from` or later that store
   * results (so a step that dies fails their results too); given a member pipeline's step,
   * that member's from the step on and those after its group ({@linkcode planResultIds}).
   * Changes nothing.
   *
   * @param home The queue whose hash tag holds the plan.
   * @param id The plan id.
   * @param from The first position.
   * @param member A member pipeline's step (`from` is then its group's position).
   * @returns The ids, in order; none when the plan is gone.
   */
  abstract planResults(
    home: string,
    id: string,
    from: number,
    member?: PlanMember,
  ): Promise<string[]>;

  /**
   * Promotes due delays, recovers expired leases, then leases up to `count` ready
   * messages, lowest score first, and no more than the queue's `parallelism` and `rate`
   * allow (counting only leases that have not expired).
   *
   * @param queue The queue.
   * @param options How many, and for how long.
   * @returns The claims, in the order they should run.
   */
  abstract claim(queue: string, options?: ClaimOptions): Promise<Claim[]>;

  /**
   * Leases the given messages if ready, due or lease-expired; a message whose lease holds
   * is left alone, so a duplicate push runs once. Ready messages beyond the queue's
   * `parallelism` or `rate` stay ready and are answered `busy`.
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @param options For how long, and a key to remember once with the claim.
   * @returns The claims, and the state of each message not claimed.
   */
  abstract claimById(
    queue: string,
    ids: readonly string[],
    options?: ClaimByIdOptions,
  ): Promise<ClaimByIdResult>;

  /**
   * Deletes finished messages whose lease token still matches.
   *
   * @param queue The queue.
   * @param leases The leases.
   * @returns For each lease, whether it was acknowledged (`false`: stale token).
   */
  abstract ack(queue: string, leases: readonly Lease[]): Promise<boolean[]>;

  /**
   * Retries a failed message later, or moves it to the dead letters, if its token matches.
   *
   * @param queue The queue.
   * @param lease The lease.
   * @param outcome Retry at a time, or dead with a reason; with an optional new body.
   * @returns Whether it was done (`false`: stale token).
   */
  abstract nack(queue: string, lease: Lease, outcome: NackOutcome): Promise<boolean>;

  /**
   * Acks or nacks one message and writes its effects (the next step of a pipeline, a
   * group's state or a member's report, callbacks) in the same transition, if its token
   * matches: a crash, a duplicate delivery or a retried request never loses or doubles
   * them. Without effects it costs what `ack()` or `nack()` cost.
   *
   * @param queue The queue.
   * @param lease The lease.
   * @param outcome Ack, retry or dead, with the effects.
   * @returns Whether it was done, and what its effects enqueued.
   */
  abstract settle(queue: string, lease: Lease, outcome: SettleOutcome): Promise<SettleResult>;

  /**
   * Hands leased messages back to ready, with their old place, without counting a retry.
   *
   * @param queue The queue.
   * @param leases The leases.
   * @returns For each lease, whether it was released (`false`: stale token).
   */
  abstract release(queue: string, leases: readonly Lease[]): Promise<boolean[]>;

  /**
   * Extends a lease to `now + leaseMs` if its token matches: a heartbeat.
   *
   * @param queue The queue.
   * @param lease The lease.
   * @param options The new lease duration.
   * @returns Whether the lease is still held.
   */
  abstract extendLease(queue: string, lease: Lease, options?: LeaseOptions): Promise<boolean>;

  /**
   * Extends several leases of a queue to `now + leaseMs`, each if its token matches: the
   * heartbeat of a worker holding many messages. Brokers that can do it in one round trip
   * override this; by default it calls `extendLease()` for each, concurrently.
   *
   * @param queue The queue.
   * @param leases The leases.
   * @param options The new lease duration.
   * @returns For each lease, whether it is still held.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   * import { Message } from "./message.ts";
   *
   * const broker = new MemoryBroker();
   * await broker.enqueue([new Message({ queue: "q", actor: "a", args: [] })]);
   * const [claim] = await broker.claim("q");
   * const stale = { id: claim.id, token: "not-the-token" };
   * assert.deepEqual(await broker.extendLeases("q", [claim, stale]), [true, false]);
   * ```
   */
  extendLeases(
    queue: string,
    leases: readonly Lease[],
    options: LeaseOptions = {},
  ): Promise<boolean[]> {
    return Promise.all(leases.map((lease) => this.extendLease(queue, lease, options)));
  }

  /**
   * Stores a running message's progress (what `this.progress()` reports), replacing the
   * last, for `ttlMs`; `MessageContext` calls it at most once a second per message.
   *
   * @param queue The queue.
   * @param id The message id.
   * @param value The progress, JSON-encoded.
   * @param ttlMs How long it is kept, in milliseconds.
   */
  abstract setProgress(queue: string, id: string, value: string, ttlMs: number): Promise<void>;

  /**
   * Reads a message's last reported progress.
   *
   * @param queue The queue.
   * @param id The message id.
   * @returns The value the actor passed to `this.progress()`, or `undefined` when it reported
   *   none (or its report expired).
   */
  abstract progress(queue: string, id: string): Promise<unknown>;

  /**
   * Tells where messages are, changing nothing: no lease is taken, nothing is promoted
   * or recovered (a due delay is `delayed`, an expired lease `leased`, until a claim moves
   * them, as `stats()` counts them).
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @returns The state of each, in order (`missing`: done, or never sent).
   */
  abstract state(queue: string, ids: readonly string[]): Promise<MessageState[]>;

  /**
   * Counts a queue's messages by state.
   *
   * @param queue The queue.
   * @returns The counts.
   */
  abstract stats(queue: string): Promise<QueueStats>;

  /**
   * Reads how many messages of a queue finished in each of the last minutes (acked,
   * retried, dead), when the broker counts them (the `throughput` option); else answers
   * `undefined` at no cost. On an `UpstashBroker`, one `MGET`.
   *
   * @param queue The queue.
   * @param options How many minutes, the current one included (1 to 60, default 15).
   * @returns One row per minute, oldest first, or `undefined` when the broker does not count.
   * @throws {TypeError} When the queue name is invalid.
   * @throws {RangeError} When `minutes` is not an integer from 1 to 60.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   * import { Message } from "./message.ts";
   *
   * const broker = new MemoryBroker({ throughput: true, now: () => 90_000 });
   * await broker.enqueue([new Message({ queue: "q", actor: "a", args: [] })]);
   * await broker.ack("q", await broker.claim("q"));
   * const [before, now] = (await broker.throughput("q", { minutes: 2 }))!;
   * assert.deepEqual(before, { at: 0, acked: 0, retried: 0, dead: 0 });
   * assert.deepEqual(now, { at: 60_000, acked: 1, retried: 0, dead: 0 });
   * assert.equal(await new MemoryBroker().throughput("q"), undefined);
   * ```
   */
  async throughput(
    queue: string,
    options: ThroughputOptions = {},
  ): Promise<ThroughputMinute[] | undefined> {
    this.checkArgs("read throughput", queue);
    const minutes = lastMinutes(this.now(), options.minutes ?? 15);
    if (!this.countsThroughput) return undefined;
    return await this.readThroughput(queue, minutes);
  }

  /**
   * The storage half of `throughput()`: the counts of the given minutes, 0 where none.
   *
   * @param queue The queue (checked).
   * @param minutes Minutes since the epoch, oldest first.
   * @returns One row per minute, in order.
   */
  protected abstract readThroughput(
    queue: string,
    minutes: readonly number[],
  ): Promise<ThroughputMinute[]>;

  /**
   * Lists dead letters, oldest first.
   *
   * @param queue The queue.
   * @param options How many to skip and return (default 0 and 100).
   * @returns The dead letters.
   */
  abstract deadLetters(
    queue: string,
    options?: { offset?: number; limit?: number },
  ): Promise<DeadLetter[]>;

  /**
   * Streams every dead letter of a queue, oldest first, a page at a time (`deadLetters()`
   * with a moving offset): memory and each request stay bounded however many there are.
   * Letters that die, expire or are requeued while it runs may be skipped or seen twice;
   * to requeue or purge them all, collect the ids first, or purge without ids.
   *
   * @param queue The queue.
   * @param options How many to read per page (default 100).
   * @returns The dead letters, one by one.
   * @throws {RangeError} When `pageSize` is not a positive integer.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   * import { Message } from "./message.ts";
   *
   * const broker = new MemoryBroker();
   * await broker.enqueue([new Message({ queue: "q", actor: "a", args: [] })]);
   * const [claim] = await broker.claim("q");
   * await broker.nack("q", claim, { kind: "dead", reason: "gave up" });
   * const reasons = [];
   * for await (const letter of broker.eachDeadLetter("q")) reasons.push(letter.reason);
   * assert.deepEqual(reasons, ["gave up"]);
   * ```
   */
  async *eachDeadLetter(
    queue: string,
    options: { pageSize?: number } = {},
  ): AsyncGenerator<DeadLetter, void, undefined> {
    const { pageSize = 100 } = options;
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new RangeError(
        `Cannot list dead letters: 'pageSize' must be a positive integer, received ${pageSize}`,
      );
    }
    for (let offset = 0;; offset += pageSize) {
      const page = await this.deadLetters(queue, { offset, limit: pageSize });
      yield* page;
      if (page.length < pageSize) return;
    }
  }

  /**
   * Moves dead letters back to ready; their retry count is kept.
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @returns How many were requeued.
   */
  abstract requeue(queue: string, ids: readonly string[]): Promise<number>;

  /**
   * Deletes dead letters: the given ones, or all of the queue.
   *
   * @param queue The queue.
   * @param options The ids to delete (default: all).
   * @returns How many were deleted.
   */
  abstract purgeDead(queue: string, options?: { ids?: readonly string[] }): Promise<number>;

  /**
   * Cancels messages that have not started: a ready or delayed one is removed; a leased
   * (running) one is not stopped, but its lease is removed with it, so that its ack or
   * nack is refused and nothing after it happens (no next step, no retry, no callback;
   * a worker's heartbeat then finds the lease gone and aborts its signal). A cancelled
   * group member fails its group (its `onFailure` callbacks get
   * `{ type: "Cancelled" }`), and `afterCancel` middleware runs for each (`Results`
   * stores the failure, for the message and the later steps of its pipeline). One
   * transition per call, safe to repeat with the same outcome.
   *
   * @param queue The queue.
   * @param ids The message ids, at most {@linkcode MAX_CANCEL}.
   * @returns The outcome of each id, in order.
   * @throws {TypeError} When the queue name is invalid or an id is not a string.
   * @throws {RangeError} When given more than {@linkcode MAX_CANCEL} ids.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   * import { Message } from "./message.ts";
   *
   * const broker = new MemoryBroker();
   * const [sent] = await broker.enqueue([new Message({ queue: "q", actor: "a", args: [], delay: 60_000 })]);
   * assert.deepEqual(await broker.cancel("q", [sent.id, "unknown"]), ["cancelled", "missing"]);
   * assert.equal((await broker.stats("q")).delayed, 0);
   * ```
   */
  async cancel(queue: string, ids: readonly string[]): Promise<CancelOutcome[]> {
    this.checkArgs("cancel messages", queue);
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== "string")) {
      throw new TypeError("Cannot cancel messages: 'ids' must be an array of strings");
    }
    if (ids.length > MAX_CANCEL) {
      throw new RangeError(
        `Cannot cancel messages: at most ${MAX_CANCEL} ids per call, received ${ids.length}`,
      );
    }
    if (ids.length === 0) return [];
    const { outcomes, bodies, enqueued } = await this.cancelStored(queue, ids);
    for (const body of bodies.values()) {
      let message: Message;
      try {
        message = Message.decode(body);
      } catch {
        continue; // a body that cannot be decoded has nothing after it to fail
      }
      await emit(this, "afterCancel", [this, message], { reverse: true });
    }
    // The groups' failure callbacks: `Push` pushes them, as it pushes what an ack enqueued.
    announceEnqueued(this, enqueued);
    return outcomes;
  }

  /**
   * The storage half of `cancel()`: removes ready and delayed messages and the leases of
   * leased ones, fails the groups of cancelled members, in one transition. The ids are
   * checked; they may repeat.
   *
   * @param queue The queue.
   * @param ids The message ids (1 to {@linkcode MAX_CANCEL}).
   * @returns The outcome of each id, and the bodies of those cancelled or stopped.
   */
  protected abstract cancelStored(queue: string, ids: readonly string[]): Promise<CancelStored>;

  /**
   * Removes every ready, delayed and dead message of a queue, as Dramatiq's `flush`
   * (its delay queue and dead letters included); leased messages are left to finish.
   * Nothing else happens to what is removed (no group fails, no middleware runs): use
   * `cancel()` for that. Each script call removes at most 1000 of each, so a large queue
   * takes several.
   *
   * @param queue The queue.
   * @returns How many were removed, by state.
   * @throws {TypeError} When the queue name is invalid.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   * import { Message } from "./message.ts";
   *
   * const broker = new MemoryBroker();
   * await broker.enqueue([new Message({ queue: "q", actor: "a", args: [] })]);
   * assert.deepEqual(await broker.flush("q"), { ready: 1, delayed: 0, dead: 0 });
   * ```
   */
  abstract flush(queue: string): Promise<FlushCounts>;

  /**
   * Flushes the queues of every declared actor (and `queues`, if given).
   *
   * @param queues More queues to flush.
   * @returns The counts, by queue.
   * @throws {TypeError} When a queue name is invalid.
   */
  async flushAll(queues: readonly string[] = []): Promise<Record<string, FlushCounts>> {
    const names = new Set(actorNames().map((name) => getActor(name)!.queue));
    for (const queue of queues) names.add(queue);
    const counts: Record<string, FlushCounts> = {};
    for (const queue of [...names].sort()) counts[queue] = await this.flush(queue);
    return counts;
  }

  /**
   * Checks a storage method's arguments the same way in every implementation.
   *
   * @param method The method's name, for error messages.
   * @param queue The queue.
   * @param options The claim options.
   * @returns The count and lease duration, with defaults applied.
   * @throws {TypeError} When the queue name is invalid.
   * @throws {RangeError} When `count` or `leaseMs` is not a positive integer.
   */
  protected checkArgs(
    method: string,
    queue: string,
    options: ClaimOptions = {},
  ): { count: number; leaseMs: number } {
    if (typeof queue !== "string" || !NAME_PATTERN.test(queue)) {
      throw new TypeError(`Cannot ${method}: invalid queue name`);
    }
    const { count = 1, leaseMs = DEFAULT_LEASE_MS } = options;
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(
        `Cannot ${method}: 'count' must be a positive integer, received ${count}`,
      );
    }
    if (!Number.isInteger(leaseMs) || leaseMs < 1) {
      throw new RangeError(
        `Cannot ${method}: 'leaseMs' must be a positive integer number of milliseconds, received ${leaseMs}`,
      );
    }
    return { count, leaseMs };
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!isNonNegative(value) || value === 0) {
    throw new RangeError(
      `Cannot create broker: '${name}' must be a positive number, received ${value}`,
    );
  }
  return value;
}
