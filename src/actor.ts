/**
 * Actors: functions declared once, at module top level, and run from messages.
 *
 * @module
 */
import * as v from "valibot";
import {
  describe,
  integerIn,
  isNonNegative,
  MAX_PRIORITY,
  MIN_PRIORITY,
  NAME_PATTERN,
} from "./_util.ts";
import type { Broker } from "./broker.ts";
import type { MessageContext } from "./context.ts";
import { getBroker } from "./global_broker.ts";
import { type DebounceOptions, type Envelope, Message, type ThrottleOptions } from "./message.ts";
import {
  type ActorOptionSpec,
  checkActorOptions,
  declareActorOptions,
  namesForActors,
} from "./options.ts";
import { registerActor } from "./registry.ts";
// The built-in middleware declare their actor options when imported.
import "./middleware/age_limit.ts";
import "./middleware/retries.ts";
import "./middleware/time_limit.ts";

/** A valibot schema for an actor's positional arguments, such as `v.tuple([...])`. */
export type ArgsSchema = v.GenericSchema<unknown[], unknown[]>;

/** An error class, as listed in `throws`. */
export type ErrorClass = abstract new (...args: never[]) => unknown;

/** Dramatiq's `message_data`: what callbacks receive first, the message without its continuation. */
export type MessageData = Omit<Envelope, "next">;

/** Dramatiq's `exception_data`: what an `onFailure` callback receives second. */
export type ExceptionData = {
  /** The error's name (its class), as `"TypeError"`. */
  type: string;
  /** The error's message. */
  message: string;
};

/**
 * An actor that can be sent `Args`, as `onSuccess` and `onFailure` take: its arguments
 * must accept them (checked strictly: a callback typed for a narrower result is refused).
 */
export interface CallbackActor<Args extends unknown[]> {
  /** The actor's name, which the option keeps. */
  readonly name: string;
  /** Its send, whose parameters must accept `Args`. */
  readonly send: (...args: Args) => unknown;
}

/**
 * Options of {@linkcode actor}: Dramatiq's, in camelCase.
 *
 * @typeParam Result What the actor returns, which an `onSuccess` actor must accept
 *   (`actor()` infers it from the function; by default, an `onSuccess` actor must accept
 *   any result).
 */
export interface ActorOptions<Result = unknown> {
  /** The queue its messages go to (default "default"). */
  queue?: string;
  /** Lower runs first; an integer in [-255, 255] (default 0). */
  priority?: number;
  /** The broker to send through (default: the global broker, looked up at each send). */
  broker?: Broker;
  /** A valibot schema for the arguments, checked at send and again before each run. */
  args?: ArgsSchema;
  /** Retries before the message is dead (default 20). */
  maxRetries?: number;
  /** The first retry's backoff, in milliseconds (default 15 s). */
  minBackoff?: number;
  /** The largest backoff, in milliseconds (default 7 days). */
  maxBackoff?: number;
  /** Decides whether to retry, instead of `maxRetries`. */
  retryWhen?: (retries: number, error: unknown) => boolean;
  /** Errors that are never retried: the message is dead at once. */
  throws?: ErrorClass[];
  /** How long one attempt may run, in milliseconds (default 10 minutes). */
  timeLimit?: number;
  /** Dead-letter messages older than this, in milliseconds, instead of running them. */
  maxAge?: number;
  /** Whether retries after `RateLimitExceeded` count against `maxRetries` (default true). */
  rateLimitRetriesCount?: boolean;
  /** Store results for `getResult()` (needs the `Results` middleware; default `false`). */
  storeResults?: boolean;
  /** How long results are kept, in milliseconds (default 10 minutes). */
  resultTtl?: number;
  /** An actor (or its name) sent `(messageData, result)` when a message succeeds. */
  onSuccess?: string | CallbackActor<[messageData: MessageData, result: Result]>;
  /** An actor (or its name) sent `(messageData, exceptionData)` each time a message fails. */
  onFailure?: string | CallbackActor<[messageData: MessageData, exceptionData: ExceptionData]>;
  /** In a pipeline, do not append the previous step's result to the arguments. */
  pipeIgnore?: boolean;
}

/**
 * Actor options that may be set per message: their values survive JSON (an actor given
 * for `onSuccess` or `onFailure` is kept as its name).
 */
export type PerMessageOptions<Result = unknown> = Pick<
  ActorOptions<Result>,
  | "maxRetries"
  | "minBackoff"
  | "maxBackoff"
  | "timeLimit"
  | "maxAge"
  | "rateLimitRetriesCount"
  | "storeResults"
  | "resultTtl"
  | "onSuccess"
  | "onFailure"
  | "pipeIgnore"
>;

/**
 * A tuple without its last element: the arguments of a message built for a pipeline,
 * which appends the previous step's result.
 */
export type DropLast<T extends unknown[]> = T extends [...infer Head, unknown] ? Head : T;

/** Options of `messageWithOptions()` and `sendWithOptions()`. */
export type MessageOptions<Args extends unknown[], Result = unknown> =
  & PerMessageOptions<Result>
  & ([] extends Args ? { args?: Args } : { args: Args })
  & {
    /** Run no earlier than this many milliseconds after send. */
    delay?: number;
    /** Run no earlier than this time (a `Date`, or milliseconds since the epoch). */
    eta?: number | Date;
    /** Overrides the actor's priority. */
    priority?: number;
    /**
     * Producer deduplication: a send with a key already sent to this queue inside the
     * window is not enqueued; it returns a message with the first one's id and
     * `deduplicated: true`. 1 to 200 of A-Z a-z 0-9 _ . : @ / -.
     */
    dedupKey?: string;
    /** The dedup window, in milliseconds (default 5 minutes, at most 24 hours). */
    dedupTtl?: number;
    /**
     * Debounce: the first send with this key waits `delay`; a later send with the same key
     * while it waits replaces its arguments and pushes it back to now + `delay`, never
     * past first send + `maxDelay`, and returns it with `debounced: true`. Not with
     * `delay`, `eta` or `dedupKey`. See `docs/flow_control.md`.
     */
    debounce?: DebounceOptions;
    /**
     * Throttle: a send within `period` of the last send stored with this key is dropped
     * and returned with `throttled: true` (its id names nothing). See `docs/flow_control.md`.
     */
    throttle?: ThrottleOptions;
    /**
     * Per-key flow control (a tenant id, say): at most the queue's `keyParallelism`
     * messages with this key run at once. 1 to 200 of A-Z a-z 0-9 _ . : @ / -. See
     * `docs/flow_control.md`, "Per key".
     */
    flowKey?: string;
  };

/** The function of an actor; its `this` is the running message's context. */
export type ActorFunction = (this: MessageContext, ...args: never[]) => unknown;

const priorityCheck = integerIn(MIN_PRIORITY, MAX_PRIORITY);

/** The options the core reads. */
export const CORE_ACTOR_OPTIONS: Readonly<Record<string, ActorOptionSpec>> = {
  queue: {
    type: "string",
    expected: "1 to 200 of A-Z a-z 0-9 _ . : @ / -",
    check: (value) => NAME_PATTERN.test(value as string),
    perMessage: false,
  },
  priority: {
    type: "number",
    expected: `an integer between ${MIN_PRIORITY} and ${MAX_PRIORITY}`,
    check: priorityCheck,
    perMessage: false,
  },
  broker: {
    type: "object",
    expected: "a Broker",
    check: (value) => typeof (value as Broker)?.enqueue === "function",
    perMessage: false,
  },
  args: {
    type: "object",
    expected: "a synchronous valibot schema",
    check: (value) =>
      typeof (value as { "~run"?: unknown })?.["~run"] === "function" &&
      (value as { async?: unknown }).async === false,
    perMessage: false,
  },
  // Declared here, not by the tracing middleware: a worker that does not trace must still
  // accept messages sent by one that does.
  traceparent: {
    type: "string",
    expected: "a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)",
    check: (value) => /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(value as string),
    perMessage: true,
  },
};
declareActorOptions(CORE_ACTOR_OPTIONS);

/** The default of `resultTtl`: 10 minutes. */
export const DEFAULT_RESULT_TTL = 600_000;

/**
 * The actor options the `Results` middleware reads; both may be set per message. Declared
 * here, with the actor options type, so that they are known before any actor is declared.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert(RESULTS_OPTIONS.storeResults.perMessage);
 * ```
 */
export const RESULTS_OPTIONS: Readonly<Record<string, ActorOptionSpec>> = {
  storeResults: { type: "boolean", expected: "a boolean", perMessage: true },
  resultTtl: {
    type: "number",
    expected: "a positive integer number of milliseconds",
    check: integerIn(1, Number.MAX_SAFE_INTEGER),
    perMessage: true,
  },
};
declareActorOptions(RESULTS_OPTIONS);

const callback = {
  type: "string",
  expected: "an actor or an actor's name",
  check: (value) => NAME_PATTERN.test(value as string),
  perMessage: true,
  namesActor: true,
} as const satisfies ActorOptionSpec;

/**
 * The actor options of callbacks and pipelines; all may be set per message.
 *
 * - `onSuccess`: an actor (or its name) sent `(messageData, result)` when a message
 *   succeeds, in the same transition as the ack.
 * - `onFailure`: an actor (or its name) sent `(messageData, exceptionData)` each time a
 *   message fails, also when it will be retried (`messageData.retries` counts them).
 * - `pipeIgnore`: in a pipeline, do not append the previous step's result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert(COMPOSITION_OPTIONS.pipeIgnore.type === "boolean");
 * ```
 */
export const COMPOSITION_OPTIONS: Readonly<Record<string, ActorOptionSpec>> = {
  onSuccess: callback,
  onFailure: callback,
  pipeIgnore: { type: "boolean", expected: "a boolean", perMessage: true },
};
declareActorOptions(COMPOSITION_OPTIONS);

/**
 * A declared actor: sends messages that run its function on a worker.
 *
 * @typeParam Args The arguments `send()` takes.
 * @typeParam Result What the function resolves to: the type of `getResult()`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "./brokers/memory.ts";
 *
 * const broker = new MemoryBroker();
 * const add = actor(`add-${crypto.randomUUID()}`, (x: number, y: number) => x + y, { broker });
 * const message = await add.sendWithOptions({ args: [1, 2], delay: 60_000 });
 * assert(message.eta !== undefined && (await broker.stats("default")).delayed === 1);
 * ```
 */
export class Actor<Args extends unknown[] = unknown[], Result = unknown> {
  /** The actor's name: unique, and what messages refer to. */
  readonly name: string;
  /** The function, run with the message's context as `this`. */
  readonly fn: ActorFunction;
  /** The options, as declared (an actor given for a callback is kept as its name). */
  readonly options: Readonly<ActorOptions>;
  /** The queue its messages go to. */
  readonly queue: string;
  /** Its messages' default priority. */
  readonly priority: number;

  /**
   * Prefer {@linkcode actor}, which also registers the actor.
   *
   * @param name The actor's name.
   * @param fn The function.
   * @param options The options.
   * @throws {TypeError} On an invalid name, an unknown option or a value of the wrong type.
   * @throws {RangeError} On a value out of range.
   */
  constructor(name: string, fn: ActorFunction, options: ActorOptions<Result> = {}) {
    const context = `Cannot declare actor '${typeof name === "string" ? name : "?"}'`;
    if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
      throw new TypeError(
        `Cannot declare actor: the name must be 1 to 200 of A-Z a-z 0-9 _ . : @ / -, received ${
          describe(name)
        }`,
      );
    }
    if (typeof fn !== "function") {
      throw new TypeError(`${context}: the actor must be a function, received ${describe(fn)}`);
    }
    const named = namesForActors(options as Record<string, unknown>);
    checkActorOptions(named, context);
    this.name = name;
    this.fn = fn;
    this.options = Object.freeze(named as ActorOptions);
    this.queue = options.queue ?? "default";
    this.priority = options.priority ?? 0;
  }

  /** The broker to send through: the `broker` option, else the global broker now. */
  get broker(): Broker {
    return this.options.broker ?? getBroker();
  }

  /**
   * Builds an unsent message, for composition or for `broker.enqueue()` in a batch. The
   * last argument may be left out, for a pipeline to append the previous step's result.
   *
   * @param args The arguments.
   * @returns The message.
   * @throws {TypeError} When the arguments do not match the `args` schema.
   */
  message(...args: Args | DropLast<Args>): Message<Args, Result> {
    return this.#build({ args } as MessageOptions<Args, Result>, true);
  }

  /**
   * Builds an unsent message with options: a delay or an eta, a priority, or actor
   * options for this message only (`pipeIgnore`, `onSuccess`, ...). The last argument may
   * be left out, for a pipeline to append the previous step's result.
   *
   * @param options The arguments and the options.
   * @returns The message.
   * @throws {TypeError} On arguments that do not match the schema, an unknown option, or
   *   both `delay` and `eta`.
   * @throws {RangeError} On a negative delay or an out-of-range option.
   */
  messageWithOptions(
    options: MessageOptions<Args, Result> | MessageOptions<DropLast<Args>, Result>,
  ): Message<Args, Result> {
    return this.#build(options as MessageOptions<Args, Result>, true);
  }

  #build(options: MessageOptions<Args, Result>, partial: boolean): Message<Args, Result> {
    const context = `Cannot send message to actor '${this.name}'`;
    const {
      args = [] as unknown[] as Args,
      delay,
      eta,
      priority,
      dedupKey,
      dedupTtl,
      debounce,
      throttle,
      flowKey,
      ...given
    } = options as
      & MessageOptions<Args, Result>
      & { args?: Args };
    const rest = namesForActors(given);
    if (delay !== undefined && !isNonNegative(delay)) {
      throw new RangeError(
        `${context}: 'delay' must be a non-negative number of milliseconds, received ${
          describe(delay)
        }`,
      );
    }
    const etaMs = eta instanceof Date ? eta.getTime() : eta;
    if (etaMs !== undefined && !isNonNegative(etaMs)) {
      throw new RangeError(
        `${context}: 'eta' must be a Date or a non-negative number of milliseconds since the epoch, received ${
          describe(etaMs)
        }`,
      );
    }
    if (delay !== undefined && eta !== undefined) {
      throw new TypeError(`${context}: set 'delay' or 'eta', not both`);
    }
    if (priority !== undefined && !priorityCheck(priority)) {
      throw new RangeError(
        `${context}: 'priority' must be an integer between ${MIN_PRIORITY} and ${MAX_PRIORITY}, received ${
          describe(priority)
        }`,
      );
    }
    if (debounce !== undefined && (delay !== undefined || eta !== undefined)) {
      throw new TypeError(`${context}: 'debounce' sets the delay; do not set 'delay' or 'eta'`);
    }
    checkActorOptions(rest, context, true);
    this.#checkArgs(args, context, partial);
    const message = new Message<Args, Result>({
      queue: this.queue,
      actor: this.name,
      args,
      options: Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)),
      priority: priority ?? this.priority,
      delay: delay === undefined ? undefined : Math.ceil(delay),
      eta: etaMs === undefined ? undefined : Math.ceil(etaMs),
      dedupKey,
      dedupTtl,
      debounce,
      throttle,
      flowKey,
    });
    // Checked by the Message: the debounce delay is the first send's delay.
    return message.debounce ? message.copy({ delay: message.debounce.delay }) : message;
  }

  /**
   * Sends a message to run the actor with these arguments.
   *
   * @param args The arguments.
   * @returns The enqueued message.
   * @throws {TypeError} When the arguments do not match the schema or cannot be encoded.
   * @throws {MessageTooLarge} When the encoded message is too large.
   */
  async send(...args: Args): Promise<Message<Args, Result>> {
    return await this.#enqueue(this.#build({ args } as MessageOptions<Args, Result>, false));
  }

  /**
   * Sends a message with options: see `messageWithOptions()`. With a `dedupKey` already
   * sent to this queue inside its `dedupTtl`, nothing is enqueued and the answer has the
   * first message's id and `deduplicated: true`.
   *
   * @param options The arguments and the options.
   * @returns The enqueued message.
   * @throws {TypeError} On invalid arguments or options.
   * @throws {RangeError} On out-of-range options.
   * @throws {MessageTooLarge} When the encoded message is too large.
   */
  async sendWithOptions(options: MessageOptions<Args, Result>): Promise<Message<Args, Result>> {
    return await this.#enqueue(this.#build(options, false));
  }

  async #enqueue(message: Message<Args, Result>): Promise<Message<Args, Result>> {
    const [sent] = await this.broker.enqueue([message as Message]);
    return sent as Message<Args, Result>;
  }

  #checkArgs(args: unknown, context: string, partial: boolean): void {
    if (!Array.isArray(args)) {
      throw new TypeError(`${context}: 'args' must be an array, received ${describe(args)}`);
    }
    const schema = this.options.args;
    if (!schema) return;
    const result = v.safeParse(schema, args);
    if (result.success) return;
    // A message built for a pipeline may leave out its last argument (the previous
    // result); it is checked in full before it runs.
    const missing = String(args.length);
    const onlyLast = result.issues.every((issue) =>
      issue.path?.length === 1 && String(issue.path[0].key) === missing
    );
    if (partial && onlyLast) return;
    const issue = result.issues[0];
    throw new TypeError(
      `${context}: argument ${v.getDotPath(issue) ?? "list"} must be ${issue.expected ?? "valid"}`,
    );
  }
}

/**
 * Declares an actor: at module top level, with no broker and no secrets needed. Declare
 * it with a `function` to read the running message's context as `this`.
 *
 * @param name A unique name; messages refer to the actor by it.
 * @param fn The function; its arguments must survive JSON.
 * @param options Dramatiq's actor options, and `args`, a valibot schema for the arguments.
 * @returns The actor.
 * @throws {TypeError} On a duplicate name, an unknown option, or a value of the wrong type.
 * @throws {RangeError} On a value out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 * import { MemoryBroker } from "./brokers/memory.ts";
 * import type { MessageContext } from "./context.ts";
 *
 * const broker = new MemoryBroker();
 * const greet = actor(`greet-${crypto.randomUUID()}`, function (this: MessageContext, who: string) {
 *   assert(this.attempt === 1 && who === "world");
 * }, { broker, args: v.tuple([v.string()]), maxRetries: 3 });
 * await greet.send("world");
 * await broker.join("default");
 * ```
 */
export function actor<S extends ArgsSchema, R>(
  name: string,
  fn: (this: MessageContext, ...args: v.InferOutput<S>) => R,
  options: ActorOptions<NoInfer<Awaited<R>>> & { args: S },
): Actor<v.InferInput<S>, Awaited<R>>;
/**
 * Declares an actor whose argument types are inferred from its function.
 *
 * @param name A unique name; messages refer to the actor by it.
 * @param fn The function; its arguments must survive JSON.
 * @param options Dramatiq's actor options.
 * @returns The actor.
 * @throws {TypeError} On a duplicate name, an unknown option, or a value of the wrong type.
 * @throws {RangeError} On a value out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const double = actor(`double-${crypto.randomUUID()}`, (n: number) => n * 2);
 * assert.deepEqual(double.message(2).args, [2]);
 * ```
 */
export function actor<A extends unknown[], R>(
  name: string,
  fn: (this: MessageContext, ...args: A) => R,
  options?: ActorOptions<NoInfer<Awaited<R>>>,
): Actor<A, Awaited<R>>;
export function actor(
  name: string,
  fn: ActorFunction,
  options: ActorOptions = {},
): Actor {
  const declared = new Actor(name, fn, options);
  registerActor(declared);
  return declared;
}
