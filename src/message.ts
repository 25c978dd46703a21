/**
 * Messages and their wire format: a versioned JSON envelope checked with valibot.
 *
 * @module
 */
import * as v from "valibot";
import { newId } from "./_id.ts";
import { describe, isNonNegative, MAX_PRIORITY, MIN_PRIORITY, NAME_PATTERN } from "./_util.ts";
import { type Continuation, ContinuationSchema } from "./continuation.ts";
import type { PipelineLike, ResultOf, Step } from "./composition_contract.ts";
import type { ReadResultOptions } from "./result_stream.ts";
import { getActor } from "./registry.ts";

/**
 * How `Message.pipe()` makes a pipeline. The composition layer provides it when it loads
 * (`composition/pipeline.ts`, which every entry point loads), so that the message layer does
 * not import the layer above it.
 */
let makePipeline: ((steps: readonly Step[]) => unknown) | undefined;

/**
 * Provides `Message.pipe()` with the function that makes pipelines; private to skiff.
 *
 * @param make Makes a pipeline of steps.
 */
export function providePipe(make: (steps: readonly Step[]) => unknown): void {
  makePipeline = make;
}

/**
 * How `Message.getResult()` reads a result. The results layer provides it when it loads
 * (`results/_lookup.ts`, which every entry point loads), like `providePipe` for `pipe()`.
 */
let readResult: ((message: Message, options: ReadResultOptions) => Promise<unknown>) | undefined;

/**
 * Provides `Message.getResult()` with the function that reads results; private to skiff.
 *
 * @param read Reads a message's result.
 */
export function provideResults(
  read: (message: Message, options: ReadResultOptions) => Promise<unknown>,
): void {
  readResult = read;
}

/** The envelope version this code writes and reads. */
export const ENVELOPE_VERSION = 1;

/** A message as stored in a broker (version 1). */
export interface Envelope {
  /** The envelope version, {@linkcode ENVELOPE_VERSION}. */
  v: 1;
  /** The message id, time-sortable. */
  id: string;
  /** The queue the message was sent to. */
  queue: string;
  /** The name of the actor that runs it. */
  actor: string;
  /** The positional arguments, JSON values. */
  args: unknown[];
  /** Actor options overridden for this message. */
  options: Record<string, unknown>;
  /** Lower runs first; an integer in [-255, 255]. */
  priority: number;
  /** When the message was enqueued, in milliseconds since the epoch. */
  enqueuedAt: number;
  /** When the message was first due, if it was sent with a delay or an eta. */
  eta?: number;
  /** How many times it has been retried. */
  retries: number;
  /** What follows it in a pipeline or a group (see `docs/lifecycle.md`, "Continuations"). */
  next?: Continuation;
  /** Its flow key (a tenant id, say): see `docs/flow_control.md`, "Per key". */
  flowKey?: string;
}

const name = v.pipe(v.string(), v.regex(NAME_PATTERN));
const millis = v.pipe(v.number(), v.integer(), v.minValue(0));

/**
 * The valibot schema of {@linkcode Envelope}. Unknown fields are accepted (and dropped),
 * so that a later version may add optional ones without breaking older workers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 * const envelope = { v: 1, id: "x", queue: "default", actor: "add", args: [1, 2], options: {},
 *   priority: 0, enqueuedAt: 0, retries: 0 };
 * assert(v.is(EnvelopeSchema, envelope));
 * ```
 */
export const EnvelopeSchema: v.GenericSchema<unknown, Envelope> = v.looseObject({
  v: v.literal(ENVELOPE_VERSION),
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
  queue: name,
  actor: name,
  args: v.array(v.unknown()),
  options: v.record(v.string(), v.unknown()),
  priority: v.pipe(v.number(), v.integer(), v.minValue(MIN_PRIORITY), v.maxValue(MAX_PRIORITY)),
  enqueuedAt: millis,
  eta: v.optional(millis),
  retries: v.pipe(v.number(), v.integer(), v.minValue(0)),
  next: v.optional(ContinuationSchema),
  flowKey: v.optional(name),
});

/** How long a dedup key holds by default, in milliseconds: 5 minutes. */
export const DEFAULT_DEDUP_TTL = 5 * 60_000;

/** The longest window a dedup key may hold, in milliseconds: 24 hours. */
export const MAX_DEDUP_TTL = 24 * 60 * 60_000;

/**
 * The valibot schema of a producer deduplication key: 1 to 200 of A-Z a-z 0-9 _ . : @ / -
 * (the characters of queue names: no braces, which would move a Redis hash tag).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 *
 * assert(v.is(DedupKeySchema, "order:42"));
 * assert(!v.is(DedupKeySchema, "order {42}"));
 * ```
 */
export const DedupKeySchema: v.GenericSchema<string> = v.pipe(v.string(), v.regex(NAME_PATTERN));

/**
 * The valibot schema of a dedup window: an integer number of milliseconds from 1 to
 * {@linkcode MAX_DEDUP_TTL}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 *
 * assert(v.is(DedupTtlSchema, 60_000));
 * assert(!v.is(DedupTtlSchema, 0));
 * ```
 */
export const DedupTtlSchema: v.GenericSchema<number> = v.pipe(
  v.number(),
  v.integer(),
  v.minValue(1),
  v.maxValue(MAX_DEDUP_TTL),
);

/** The longest debounce delay, maxDelay or throttle period, in milliseconds: 24 hours. */
export const MAX_CONTROL_MS = 24 * 60 * 60_000;

/** Debounce options: see `docs/flow_control.md`. */
export interface DebounceOptions {
  /** Sends with the same key (on the same queue) collapse into one message. */
  key: string;
  /** How long a send waits for a later one, in milliseconds (1 to 24 hours). */
  delay: number;
  /**
   * How long after the first send the message runs at the latest, however many sends
   * push it back, in milliseconds (at least `delay`, at most 24 hours; default 10 times
   * `delay`, at most 24 hours).
   */
  maxDelay?: number;
}

/** Throttle options: see `docs/flow_control.md`. */
export interface ThrottleOptions {
  /** Sends with the same key (on the same queue) share one period. */
  key: string;
  /** A send within this many milliseconds of the last one stored is dropped (1 to 24 hours). */
  period: number;
}

const controlMs = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_CONTROL_MS));

/**
 * The valibot schema of {@linkcode DebounceOptions}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 *
 * assert(v.is(DebounceSchema, { key: "user:1", delay: 5_000, maxDelay: 60_000 }));
 * assert(!v.is(DebounceSchema, { key: "user:1", delay: 0 }));
 * ```
 */
export const DebounceSchema: v.GenericSchema<unknown, DebounceOptions> = v.pipe(
  v.strictObject({ key: DedupKeySchema, delay: controlMs, maxDelay: v.optional(controlMs) }),
  v.check((d) => d.maxDelay === undefined || d.maxDelay >= d.delay, "'maxDelay' >= 'delay'"),
);

/**
 * The valibot schema of {@linkcode ThrottleOptions}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 *
 * assert(v.is(ThrottleSchema, { key: "report", period: 60_000 }));
 * assert(!v.is(ThrottleSchema, { key: "report" }));
 * ```
 */
export const ThrottleSchema: v.GenericSchema<unknown, ThrottleOptions> = v.strictObject({
  key: DedupKeySchema,
  period: controlMs,
});

/** What a {@linkcode Message} is made of; only `queue`, `actor` and `args` are required. */
export interface MessageInit<Args extends unknown[] = unknown[]> {
  /** The message id; a new time-sortable id by default. */
  id?: string;
  /** The queue to send it to. */
  queue: string;
  /** The name of the actor that runs it. */
  actor: string;
  /** The positional arguments; they must survive `JSON.stringify`. */
  args: Args;
  /** Actor options overridden for this message. */
  options?: Record<string, unknown>;
  /** Lower runs first; an integer in [-255, 255] (default 0). */
  priority?: number;
  /** When it was enqueued; set by the broker at send. */
  enqueuedAt?: number;
  /** Run no earlier than this time, in milliseconds since the epoch. */
  eta?: number;
  /** Run no earlier than this many milliseconds after send; turned into `eta` at send. */
  delay?: number;
  /** How many times it has been retried (default 0). */
  retries?: number;
  /** What follows it in a pipeline or a group; set by `pipeline()` and `group()`. */
  next?: Continuation;
  /**
   * Producer deduplication: a send with a key already sent to the same queue inside its
   * window returns the first message's id instead of enqueuing (see `docs/concepts.md`).
   * Used at send only; not stored in the envelope.
   */
  dedupKey?: string;
  /** How long the dedup key holds, in milliseconds (default 5 minutes, at most 24 hours). */
  dedupTtl?: number;
  /** Set by the broker at send: `true` when a send with the same dedup key came first. */
  deduplicated?: boolean;
  /** Debounce: collapse sends with the same key into one message (used at send only). */
  debounce?: DebounceOptions;
  /** Throttle: drop sends within a period of the last one stored (used at send only). */
  throttle?: ThrottleOptions;
  /**
   * Per-key flow control: at most the queue's `keyParallelism` messages with the same key
   * are leased at once (see `docs/flow_control.md`, "Per key"). Kept in the envelope.
   */
  flowKey?: string;
  /** Set by the broker at send: `true` when the send replaced a waiting debounced message. */
  debounced?: boolean;
  /** Set by the broker at send: `true` when the send was dropped by its throttle. */
  throttled?: boolean;
}

/**
 * One invocation of an actor: what `actor.message()` builds and `actor.send()` enqueues.
 * Messages are immutable; `copy()` makes changed ones.
 *
 * @typeParam Args The actor's arguments.
 * @typeParam Result What the actor returns: the type of `getResult()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const message = new Message({ queue: "default", actor: "add", args: [1, 2] });
 * const sent = message.copy({ enqueuedAt: 1_000 });
 * const again = Message.decode(sent.encode());
 * assert(again.id === message.id && again.args[1] === 2);
 * ```
 */
export class Message<Args extends unknown[] = unknown[], Result = unknown> {
  #id: string | undefined;
  /** The queue it is sent to. */
  readonly queue: string;
  /** The name of the actor that runs it. */
  readonly actor: string;
  /** The positional arguments. */
  readonly args: Args;
  /** Actor options overridden for this message. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Lower runs first. */
  readonly priority: number;
  /** When it was enqueued; `undefined` until sent. */
  readonly enqueuedAt: number | undefined;
  /** When it was first due, if sent with a delay or an eta. */
  readonly eta: number | undefined;
  /** The delay asked for before it was sent; `undefined` once sent. */
  readonly delay: number | undefined;
  /** How many times it has been retried. */
  readonly retries: number;
  /** What follows it in a pipeline or a group, if anything. */
  readonly next: Continuation | undefined;
  /** Its producer deduplication key, if any (used at send only). */
  readonly dedupKey: string | undefined;
  /** How long its dedup key holds, in milliseconds, if set. */
  readonly dedupTtl: number | undefined;
  /**
   * Whether the send that returned this message was deduplicated: then `id` is the first
   * message's (sent earlier with the same dedup key) and nothing new was enqueued.
   */
  readonly deduplicated: boolean;
  /** Its debounce options, if any (used at send only), with `maxDelay` filled in. */
  readonly debounce: Required<DebounceOptions> | undefined;
  /** Its throttle options, if any (used at send only). */
  readonly throttle: ThrottleOptions | undefined;
  /** Its flow key, if any: see `docs/flow_control.md`, "Per key". */
  readonly flowKey: string | undefined;
  /**
   * Whether the send that returned this message replaced a debounced message still
   * waiting: then `id` is that message's, which runs once with these arguments.
   */
  readonly debounced: boolean;
  /**
   * Whether the send that returned this message was dropped by its throttle: nothing was
   * stored, and its `id` names no message.
   */
  readonly throttled: boolean;

  /**
   * The message id, time-sortable. Made when first read (at send, at the latest), so that
   * a message can be built where randomness is not allowed, such as a Cloudflare Worker's
   * global scope (a schedule declared at module top level).
   */
  get id(): string {
    return this.#id ??= newId();
  }

  /**
   * Creates a Message.
   *
   * @param init The fields.
   * @throws {TypeError} When a name or the arguments have the wrong shape.
   * @throws {RangeError} When a number is out of range.
   */
  constructor(init: MessageInit<Args>) {
    const fail = (field: string, expected: string, value: unknown, type = RangeError) => {
      throw new type(
        `Cannot create message: '${field}' must be ${expected}, received ${describe(value)}`,
      );
    };
    if (typeof init.queue !== "string" || !NAME_PATTERN.test(init.queue)) {
      fail("queue", "1 to 200 of A-Z a-z 0-9 _ . : @ / -", init.queue, TypeError);
    }
    if (typeof init.actor !== "string" || !NAME_PATTERN.test(init.actor)) {
      fail("actor", "1 to 200 of A-Z a-z 0-9 _ . : @ / -", init.actor, TypeError);
    }
    if (!Array.isArray(init.args)) fail("args", "an array", init.args, TypeError);
    const priority = init.priority ?? 0;
    if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
      fail("priority", `an integer between ${MIN_PRIORITY} and ${MAX_PRIORITY}`, priority);
    }
    for (const field of ["enqueuedAt", "eta", "delay", "retries"] as const) {
      const value = init[field];
      if (value !== undefined && !(isNonNegative(value) && Number.isInteger(value))) {
        fail(field, "a non-negative integer", value);
      }
    }
    if (init.dedupKey !== undefined && !v.is(DedupKeySchema, init.dedupKey)) {
      fail("dedupKey", "1 to 200 of A-Z a-z 0-9 _ . : @ / -", init.dedupKey, TypeError);
    }
    if (init.flowKey !== undefined && !v.is(DedupKeySchema, init.flowKey)) {
      fail("flowKey", "1 to 200 of A-Z a-z 0-9 _ . : @ / -", init.flowKey, TypeError);
    }
    if (init.dedupTtl !== undefined) {
      if (init.dedupKey === undefined) {
        throw new TypeError("Cannot create message: 'dedupTtl' needs a 'dedupKey'");
      }
      if (!v.is(DedupTtlSchema, init.dedupTtl)) {
        fail(
          "dedupTtl",
          `an integer number of milliseconds from 1 to ${MAX_DEDUP_TTL}`,
          init.dedupTtl,
        );
      }
    }
    const controls = [init.dedupKey, init.debounce, init.throttle].filter((c) => c !== undefined);
    if (controls.length > 1) {
      throw new TypeError(
        "Cannot create message: set one of 'dedupKey', 'debounce' and 'throttle', not several",
      );
    }
    for (
      const [field, schema] of [["debounce", DebounceSchema], ["throttle", ThrottleSchema]] as const
    ) {
      const value = init[field];
      if (value === undefined) continue;
      const result = v.safeParse(schema, value);
      if (!result.success) {
        const issue = result.issues[0];
        const path = v.getDotPath(issue);
        throw new TypeError(
          `Cannot create message: '${field}${path ? `.${path}` : ""}' must be ${
            issue.expected ?? "valid"
          }${path === "key" ? " (1 to 200 of A-Z a-z 0-9 _ . : @ / -)" : ""}${
            issue.type === "check" ? `: ${issue.message}` : ""
          }`,
        );
      }
    }
    if ((init.debounce || init.throttle) && init.next) {
      throw new TypeError(
        "Cannot create message: 'debounce' and 'throttle' apply to plain sends, not to a pipeline or group step",
      );
    }
    this.#id = init.id;
    this.queue = init.queue;
    this.actor = init.actor;
    this.args = init.args;
    this.options = Object.freeze({ ...init.options });
    this.priority = priority;
    this.enqueuedAt = init.enqueuedAt;
    this.eta = init.eta;
    this.delay = init.delay;
    this.retries = init.retries ?? 0;
    this.next = init.next;
    this.dedupKey = init.dedupKey;
    this.dedupTtl = init.dedupTtl;
    this.deduplicated = init.deduplicated ?? false;
    this.debounce = init.debounce && {
      key: init.debounce.key,
      delay: init.debounce.delay,
      maxDelay: init.debounce.maxDelay ?? Math.min(10 * init.debounce.delay, MAX_CONTROL_MS),
    };
    this.throttle = init.throttle && { key: init.throttle.key, period: init.throttle.period };
    this.flowKey = init.flowKey;
    this.debounced = init.debounced ?? false;
    this.throttled = init.throttled ?? false;
  }

  /**
   * Makes a message like this one, of the same class, with some fields changed (the id is
   * kept).
   *
   * @param changes The fields to change; an explicit `undefined` clears a field.
   * @returns The new message.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const message = new Message({ queue: "default", actor: "add", args: [1, 2] });
   * assert(message.copy({ retries: 1 }).retries === 1);
   * ```
   */
  copy(changes: Partial<MessageInit<Args>>): Message<Args, Result> {
    // The same class as this one, so that a subclass (say, one that encodes differently)
    // survives the copies a broker makes at send.
    const Class = this.constructor as new (init: MessageInit<Args>) => Message<Args, Result>;
    return new Class({ ...this.#init(), ...changes });
  }

  /**
   * Reads the result the actor stored for this message, through the `Results` middleware
   * of its actor's broker.
   *
   * @param options Whether to wait for it, and how long (default: no, 10 000 ms).
   * @returns What the actor returned.
   * @throws {ResultMissing} When not stored yet (or expired) and not blocking.
   * @throws {ResultTimeout} When blocking and the timeout passes first.
   * @throws {ResultFailure} When the message failed for good.
   * @throws {TypeError} At once, when the actor does not store results, is not declared
   *   here, or its broker has no `Results` middleware.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { actor, MemoryBroker, MemoryResultBackend, Results } from "../mod.ts";
   *
   * const broker = new MemoryBroker();
   * broker.addMiddleware(new Results({ backend: new MemoryResultBackend() }));
   * const add = actor(`add-${crypto.randomUUID()}`, (x: number, y: number) => x + y, {
   *   broker,
   *   storeResults: true,
   * });
   * const message = await add.send(1, 2);
   * await broker.join("default");
   * const sum: number = await message.getResult({ block: true, timeout: 5_000 });
   * assert(sum === 3);
   * ```
   */
  getResult(options: ReadResultOptions = {}): Promise<Result> {
    if (!readResult) {
      return Promise.reject(
        new TypeError(
          `Cannot get the result of message ${this.id}: results are not loaded; import skiff's main module`,
        ),
      );
    }
    return readResult(this as Message, options) as Promise<Result>;
  }

  /**
   * Cancels this message if it has not started, through its actor's broker: sugar for
   * `broker.cancel(queue, [id])` (see there).
   *
   * @returns `cancelled`, `running`, `dead` or `missing`.
   * @throws {TypeError} When its actor is not declared here.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   * import { actor } from "./actor.ts";
   *
   * const broker = new MemoryBroker();
   * const remind = actor(`remind-${crypto.randomUUID()}`, () => {}, { broker });
   * const message = await remind.sendWithOptions({ delay: 60_000 });
   * assert.equal(await message.cancel(), "cancelled");
   * assert.equal(await message.cancel(), "missing");
   * ```
   */
  async cancel(): Promise<"cancelled" | "running" | "dead" | "missing"> {
    const owner = getActor(this.actor);
    if (!owner) {
      throw new TypeError(
        `Cannot cancel message ${this.id}: actor '${this.actor}' is not declared here; use broker.cancel()`,
      );
    }
    const [outcome] = await owner.broker.cancel(this.queue, [this.id]);
    return outcome;
  }

  /**
   * Chains a step after this message: its result is appended to the next message's
   * arguments (unless that message has `pipeIgnore`). The chaining method is `pipe`, never
   * `then`, so that awaiting a message never runs it.
   *
   * @param next A message, a group or a pipeline.
   * @returns A `Pipeline` of this message and `next`, not run yet.
   * @throws {TypeError} On a composition skiff cannot run (see `pipeline()`).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { actor } from "./actor.ts";
   * import "./composition/pipeline.ts";
   *
   * const double = actor(`double-${crypto.randomUUID()}`, (n: number) => n * 2);
   * const pipe = double.message(1).pipe(double.message());
   * assert(pipe.steps.length === 2);
   * ```
   */
  pipe<N extends Step>(next: N): PipelineLike<ResultOf<N>> {
    if (!makePipeline) {
      throw new TypeError("Cannot pipe: pipelines are not loaded; import skiff's main module");
    }
    return makePipeline([this as Message, next]) as PipelineLike<ResultOf<N>>;
  }

  /**
   * The envelope of this message, as `encode()` writes it.
   *
   * @returns The envelope.
   * @throws {TypeError} When the message has not been enqueued (no `enqueuedAt`).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const message = new Message({ queue: "q", actor: "a", args: [], enqueuedAt: 5 });
   * assert(message.toEnvelope().enqueuedAt === 5);
   * ```
   */
  toEnvelope(): Envelope {
    if (this.enqueuedAt === undefined) {
      throw new TypeError(`Cannot encode message ${this.id}: it has not been enqueued`);
    }
    const envelope: Envelope = {
      v: ENVELOPE_VERSION,
      id: this.id,
      queue: this.queue,
      actor: this.actor,
      args: this.args,
      options: { ...this.options },
      priority: this.priority,
      enqueuedAt: this.enqueuedAt,
      retries: this.retries,
    };
    if (this.eta !== undefined) envelope.eta = this.eta;
    if (this.next !== undefined) envelope.next = this.next;
    if (this.flowKey !== undefined) envelope.flowKey = this.flowKey;
    return envelope;
  }

  /**
   * Encodes the message as JSON, for a broker to store.
   *
   * @returns The JSON text.
   * @throws {TypeError} When the message has not been enqueued, or its arguments or
   *   options cannot be encoded as JSON.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const message = new Message({ queue: "q", actor: "a", args: [1], enqueuedAt: 0 });
   * assert(JSON.parse(message.encode()).v === 1);
   * ```
   */
  encode(): string {
    const envelope = this.toEnvelope();
    try {
      return JSON.stringify(envelope);
    } catch {
      throw new TypeError(
        `Cannot encode message ${this.id}: its arguments or options are not JSON-serializable`,
      );
    }
  }

  /**
   * Decodes and validates what `encode()` wrote.
   *
   * @param body The JSON text.
   * @returns The message.
   * @throws {TypeError} When the body is not JSON or not a valid envelope; the message says
   *   which field is wrong, never what it holds.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * try {
   *   Message.decode("{");
   * } catch (error) {
   *   assert(error instanceof TypeError);
   * }
   * ```
   */
  static decode(body: string): Message {
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      throw new TypeError("Cannot decode message: the body is not JSON");
    }
    const version = (data as { v?: unknown } | null)?.v;
    if (version !== ENVELOPE_VERSION) {
      throw new TypeError(
        `Cannot decode message: unsupported envelope version ${describe(version)}`,
      );
    }
    const result = v.safeParse(EnvelopeSchema, data);
    if (!result.success) {
      const issue = result.issues[0];
      const path = v.getDotPath(issue) ?? "(root)";
      throw new TypeError(
        `Cannot decode message: '${path}' must be ${issue.expected ?? "valid"}`,
      );
    }
    const { v: _, ...init } = result.output;
    return new Message(init);
  }

  #init(): MessageInit<Args> {
    return {
      id: this.id,
      queue: this.queue,
      actor: this.actor,
      args: this.args,
      options: { ...this.options },
      priority: this.priority,
      enqueuedAt: this.enqueuedAt,
      eta: this.eta,
      delay: this.delay,
      retries: this.retries,
      next: this.next,
      dedupKey: this.dedupKey,
      dedupTtl: this.dedupTtl,
      deduplicated: this.deduplicated,
      debounce: this.debounce,
      throttle: this.throttle,
      flowKey: this.flowKey,
      debounced: this.debounced,
      throttled: this.throttled,
    };
  }
}
