/**
 * Groups: messages (or pipelines) run in parallel, with their results gathered in order,
 * optional callbacks once all succeeded or one failed for good, and a place in pipelines
 * (fan-out, then fan-in).
 *
 * @module
 */
import { describe, integerIn } from "../_util.ts";
import type { Broker } from "../broker.ts";
import type { GroupLike, ResultOf, RunOptions, Step } from "../composition_contract.ts";
import { Message } from "../message.ts";
import type { ReadResultOptions, ResultStream } from "../result_stream.ts";
import { backendFor } from "../results/_lookup.ts";
import { brokerFor, checkDelay, compile, DEFAULT_GROUP_TTL, launch } from "./_build.ts";
import { GROUP_MARK, Pipeline } from "./pipeline.ts";

/** What a group's member may be: a message, or a pipeline of messages. */
export type Member = Message<unknown[], unknown> | Pipeline<unknown>;

/** Options of {@linkcode group}. */
export interface GroupOptions {
  /** The broker to run on (default: the first message's actor's). */
  broker?: Broker;
  /**
   * How long the broker keeps a tracked group's state while members are pending, in
   * milliseconds (default 30 days): a group with callbacks or a next step must complete
   * within it.
   */
  ttl?: number;
}

/** Options of `group.wait()`. */
export interface WaitOptions {
  /** How long to wait in all, in milliseconds (default 10 000). */
  timeout?: number;
}

/**
 * A group: build it with {@linkcode group}, then `run()` it.
 *
 * @typeParam R The members' result type.
 * @example Run three messages in parallel and gather their results
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 * import { Results } from "../results/middleware.ts";
 * import { MemoryResultBackend } from "../results/memory.ts";
 *
 * const broker = new MemoryBroker();
 * broker.addMiddleware(new Results({ backend: new MemoryResultBackend() }));
 * const frob = actor(`frob-${crypto.randomUUID()}`, (x: number, y: number) => x * y, {
 *   broker,
 *   storeResults: true,
 * });
 * const g = await group([frob.message(1, 2), frob.message(2, 3), frob.message(3, 4)]).run();
 * await broker.join("default");
 * await g.wait({ timeout: 10_000 });
 * const products: number[] = [];
 * for await (const product of g.getResults({ block: true, timeout: 5_000 })) products.push(product);
 * assert.deepEqual(products, [2, 6, 12]);
 * ```
 */
export class Group<R = unknown> implements GroupLike<R> {
  /** Marks a group for pipelines (see `GROUP_MARK`). */
  readonly [GROUP_MARK] = true as const;
  /** The group id. */
  readonly id: string;
  /** The members, in order. */
  readonly members: readonly Member[];
  /** How long a tracked group's state is kept while pending, in milliseconds. */
  readonly ttl: number;
  readonly #broker: Broker | undefined;
  readonly #onCompletion: Message[] = [];
  readonly #onFailure: Message[] = [];

  /**
   * Prefer {@linkcode group}.
   *
   * @param members Messages and pipelines of messages.
   * @param options The broker and the state's time to live.
   * @throws {TypeError} When a member is not a message or a pipeline.
   * @throws {RangeError} When `ttl` is not a positive integer.
   */
  constructor(members: readonly Member[], options: GroupOptions = {}) {
    if (!Array.isArray(members)) {
      throw new TypeError(
        `Cannot build group: the members must be an array, received ${describe(members)}`,
      );
    }
    for (const member of members) {
      if (!(member instanceof Message || member instanceof Pipeline)) {
        throw new TypeError(
          `Cannot build group: a member must be a message or a pipeline, received ${
            describe(member)
          }`,
        );
      }
    }
    const ttl = options.ttl ?? DEFAULT_GROUP_TTL;
    if (!integerIn(1, Number.MAX_SAFE_INTEGER)(ttl)) {
      throw new RangeError(
        `Cannot build group: 'ttl' must be a positive integer number of milliseconds, received ${
          describe(ttl)
        }`,
      );
    }
    this.id = crypto.randomUUID();
    this.members = [...members];
    this.ttl = ttl;
    this.#broker = options.broker;
  }

  /** How many members it has. */
  get length(): number {
    return this.members.length;
  }

  /** The messages sent once every member succeeded. */
  get completionCallbacks(): readonly Message[] {
    return this.#onCompletion;
  }

  /** The messages sent at the first member that fails for good. */
  get failureCallbacks(): readonly Message[] {
    return this.#onFailure;
  }

  /**
   * Adds a message to send once, when every member succeeded (its arguments as built).
   *
   * @param message The callback message.
   * @returns This group.
   * @throws {TypeError} When `message` is not a message.
   */
  addCompletionCallback(message: Message<unknown[], unknown>): this {
    this.#onCompletion.push(checkMessage(message, "completion callback"));
    return this;
  }

  /**
   * Adds a message to send once, at the first member that fails for good, with
   * `(messageData, exceptionData)` of that member appended to its arguments.
   *
   * @param message The callback message.
   * @returns This group.
   * @throws {TypeError} When `message` is not a message.
   */
  addFailureCallback(message: Message<unknown[], unknown>): this {
    this.#onFailure.push(checkMessage(message, "failure callback"));
    return this;
  }

  /**
   * Chains a step after the group: it receives the list of the members' results.
   *
   * @param next A message (or a pipeline starting with one).
   * @returns A pipeline of this group and `next`, not run yet.
   * @throws {TypeError} When `next` is not a message, a group or a pipeline.
   */
  pipe<N extends Step>(next: N): Pipeline<ResultOf<N>> {
    return new Pipeline<ResultOf<N>>([this, next], { broker: this.#broker });
  }

  /**
   * Enqueues every member's first message, and the group's state when it has callbacks,
   * in one request.
   *
   * @param options A delay for every member.
   * @returns This group.
   * @throws {TypeError} On an empty group, or a pipeline member holding a group.
   * @throws {RangeError} On a negative delay, or over 1000 members with callbacks.
   * @throws {MessageTooLarge} When a message is too large.
   */
  async run(options: RunOptions = {}): Promise<this> {
    const delay = checkDelay(options.delay, "group");
    const { messages, groups, plans } = launch(compile([{ group: this }]), delay);
    const broker = brokerFor(messages[0], this.#broker, "group");
    await broker.enqueue(messages, { groups, plans });
    return this;
  }

  /**
   * Waits until every member has finished.
   *
   * @param options How long to wait in all (default 10 000 ms).
   * @returns When every member's result is stored.
   * @throws {ResultTimeout} When the timeout passes first.
   * @throws {ResultFailure} When a member failed for good.
   * @throws {TypeError} At once, when a member's actor does not store results.
   */
  async wait(options: WaitOptions = {}): Promise<void> {
    await this.getResults({ block: true, timeout: options.timeout }).toArray();
  }

  /**
   * Reads the members' results in the order they were added (a pipeline member's is its
   * last step's): iterate with `for await`, or `toArray()`.
   *
   * @param options Whether to wait, and how long in all (default: no, 10 000 ms).
   * @returns The results, as they land.
   * @throws {TypeError} At once, when a member's actor does not store results.
   */
  getResults(options: ReadResultOptions = {}): ResultStream<R> {
    const last = this.lastMessages();
    const backend = backendFor(last, this.#broker);
    return backend.getResults(last.map((m) => m.id), options) as ResultStream<R>;
  }

  /**
   * Each member's last message, whose result is the member's.
   *
   * @returns The messages, in member order.
   */
  lastMessages(): Message[] {
    return this.members.map((member) =>
      member instanceof Pipeline ? lastOf(member) : member as Message
    );
  }
}

/**
 * Builds a group of messages (or pipelines of messages) that run in parallel. Without
 * callbacks or a next step, it costs nothing beyond its messages; with them, the broker
 * tracks which members succeeded (a set of member positions, updated in the same
 * transition as each member's ack, so a duplicate delivery cannot count twice) and sends
 * the completion callbacks, or the next step with the list of results, exactly once.
 *
 * @param members Messages and pipelines of messages.
 * @param options The broker and the state's time to live.
 * @returns The group, not run yet.
 * @throws {TypeError} When a member is not a message or a pipeline.
 * @example A completion callback
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 *
 * const broker = new MemoryBroker();
 * const done: string[] = [];
 * const work = actor(`work-${crypto.randomUUID()}`, (_n: number) => {}, { broker });
 * const finish = actor(`finish-${crypto.randomUUID()}`, (label: string) => { done.push(label) }, { broker });
 * const g = group([work.message(1), work.message(2)]).addCompletionCallback(finish.message("all"));
 * await g.run();
 * await broker.join("default");
 * assert.deepEqual(done, ["all"]);
 * ```
 */
export function group<const M extends readonly Member[]>(
  members: M,
  options: GroupOptions = {},
): Group<ResultOf<M[number]>> {
  return new Group<ResultOf<M[number]>>(members, options);
}

function checkMessage(message: unknown, what: string): Message {
  if (!(message instanceof Message)) {
    throw new TypeError(`Cannot add ${what}: it must be a message, received ${describe(message)}`);
  }
  return message;
}

function lastOf(member: Pipeline): Message {
  const last = member.steps[member.steps.length - 1];
  if (last instanceof Group) {
    throw new TypeError("Cannot build group: a pipeline inside a group cannot hold a group");
  }
  return last as Message; // a pipeline's steps are messages and groups
}
