/**
 * Pipelines: steps run one after another, each result appended to the next step's
 * arguments. The broker writes each next step in the same transition as the current
 * step's ack, so whoever processes a step (a pull worker, `join()`, the push endpoint)
 * continues the pipeline.
 *
 * @module
 */
import { describe } from "../_util.ts";
import type { Broker } from "../broker.ts";
import type {
  GroupLike,
  PipelineLike,
  ResultOf,
  RunOptions,
  Step,
} from "../composition_contract.ts";
import { Message, providePipe } from "../message.ts";
import type { ReadResultOptions, ResultStream } from "../result_stream.ts";
import { backendFor } from "../results/_lookup.ts";
import { brokerFor, checkDelay, compile, launch, type StepSpec } from "./_build.ts";

/**
 * What marks a `Group`: groups import pipelines, so pipelines recognise a group by this mark
 * rather than by importing its class back (no import cycle). Private to skiff.
 */
export const GROUP_MARK: unique symbol = Symbol.for("skiff.group");

/** Whether a step is a `Group`. */
function isGroup(step: unknown): step is GroupLike {
  return typeof step === "object" && step !== null && GROUP_MARK in step;
}

/** Options of {@linkcode pipeline}. */
export interface PipelineOptions {
  /** The broker to run on (default: the first message's actor's). */
  broker?: Broker;
}

/**
 * Each pipeline's broker, when one was given. Kept outside the instance (not in a private
 * field) so that `Pipeline` is structural: `Message.pipe()` returns the core's
 * `PipelineLike`, which must stay assignable to `Pipeline`.
 */
const brokers = new WeakMap<Pipeline<unknown>, Broker>();

/**
 * A pipeline: build it with {@linkcode pipeline} or `message.pipe()`, then `run()` it.
 *
 * @typeParam R The last step's result type.
 * @example Count the words of a page
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 * import { Results } from "../results/middleware.ts";
 * import { MemoryResultBackend } from "../results/memory.ts";
 * import "./pipeline.ts";
 *
 * const broker = new MemoryBroker();
 * broker.addMiddleware(new Results({ backend: new MemoryResultBackend(), storeResults: true }));
 * const fetchPage = actor(`fetch-${crypto.randomUUID()}`, (uri: string) => `words at ${uri}`, { broker });
 * const countWords = actor(`count-${crypto.randomUUID()}`, (_uri: string, text: string) =>
 *   text.split(" ").length, { broker });
 * const pipe = await fetchPage.message("a.test").pipe(countWords.message("a.test")).run();
 * await broker.join("default");
 * const count: number = await pipe.getResult({ block: true });
 * assert(count === 3);
 * assert.deepEqual(await pipe.getResults().toArray(), ["words at a.test", 3]);
 * ```
 */
export class Pipeline<R = unknown> implements PipelineLike<R> {
  /** The steps, pipelines flattened: messages and groups. */
  readonly steps: readonly (Message | GroupLike)[];

  /**
   * Prefer {@linkcode pipeline}.
   *
   * @param steps The steps; pipelines among them are flattened.
   * @param options The broker.
   * @throws {TypeError} When a step is not a message, a group or a pipeline.
   */
  constructor(steps: readonly Step[], options: PipelineOptions = {}) {
    if (!Array.isArray(steps)) {
      throw new TypeError(
        `Cannot build pipeline: the steps must be an array, received ${describe(steps)}`,
      );
    }
    this.steps = steps.flatMap((step): (Message | GroupLike)[] => {
      if (step instanceof Pipeline) return [...step.steps];
      if (step instanceof Message || isGroup(step)) return [step];
      throw new TypeError(
        `Cannot build pipeline: a step must be a message, a group or a pipeline, received ${
          describe(step)
        }`,
      );
    });
    if (options.broker) brokers.set(this, options.broker);
  }

  /** How many steps it has. */
  get length(): number {
    return this.steps.length;
  }

  /**
   * Chains one more step.
   *
   * @param next A message, a group or a pipeline.
   * @returns A new pipeline; this one is unchanged.
   * @throws {TypeError} When `next` is not a message, a group or a pipeline.
   */
  pipe<N extends Step>(next: N): Pipeline<ResultOf<N>> {
    return new Pipeline<ResultOf<N>>([...this.steps, next], { broker: brokers.get(this) });
  }

  /**
   * Enqueues the first step (or every member of a first group) in one request, with the
   * pipeline's plan: its later steps, stored once, each read by the step before it. Ids are fixed when the pipeline is built: running it again while its
   * first step is still stored enqueues nothing new.
   *
   * @param options A delay for the first step.
   * @returns This pipeline.
   * @throws {TypeError} On a composition skiff cannot run (see {@linkcode pipeline}).
   * @throws {RangeError} On a negative delay, or a tracked group of over 1000 members.
   * @throws {MessageTooLarge} When a first message is too large.
   */
  async run(options: RunOptions = {}): Promise<this> {
    const delay = checkDelay(options.delay, "pipeline");
    const specs = this.steps.map((step): StepSpec => isGroup(step) ? { group: step } : step);
    const { messages, groups, plans } = launch(compile(specs), delay);
    const broker = brokerFor(messages[0], brokers.get(this), "pipeline");
    await broker.enqueue(messages, { groups, plans });
    return this;
  }

  /**
   * Reads the last step's result (a list, when the last step is a group).
   *
   * @param options Whether to wait, and how long (default: no, 10 000 ms).
   * @returns The result.
   * @throws {ResultMissing} When not stored yet and not blocking.
   * @throws {ResultTimeout} When blocking and the timeout passes first.
   * @throws {ResultFailure} When a step failed for good: the pipeline stopped there.
   * @throws {TypeError} At once, when the last step's actor does not store results.
   */
  async getResult(options: ReadResultOptions = {}): Promise<R> {
    const last = this.steps[this.steps.length - 1];
    const [result] = await resultsOf([last], brokers.get(this), options).toArray();
    return result as R;
  }

  /**
   * Reads every step's result, in order (a group's as a list).
   *
   * @param options Whether to wait, and how long in all.
   * @returns The results, as they land.
   * @throws {TypeError} At once, when a step's actor does not store results.
   */
  getResults(options: ReadResultOptions = {}): ResultStream<unknown> {
    return resultsOf(this.steps, brokers.get(this), options);
  }
}

/** Reads the results of steps: a message's, or a group's list. */
function resultsOf(
  steps: readonly (Message | GroupLike)[],
  broker: Broker | undefined,
  options: ReadResultOptions,
): ResultStream<unknown> {
  const slots = steps.map((step) => isGroup(step) ? step.lastMessages() : step);
  const backend = backendFor(slots.flat(), broker);
  return backend.getResults(
    slots.map((slot) => Array.isArray(slot) ? slot.map((m) => m.id) : (slot as Message).id),
    options,
  );
}

/**
 * Builds a pipeline: each step's result is appended to the next message's arguments,
 * unless that message (or its actor) has `pipeIgnore`. A step may be a group (fan-out):
 * its members all receive the previous result, and the step after it receives the list
 * of their results, in order (fan-in). A group must be followed by a message, and a
 * pipeline inside a group holds messages only. Each next step is written in the same
 * transition as the current step's ack.
 *
 * @param steps Messages, groups and pipelines.
 * @param options The broker to run on.
 * @returns The pipeline, not run yet.
 * @throws {TypeError} When a step is not a message, a group or a pipeline.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 *
 * const broker = new MemoryBroker();
 * const seen: number[] = [];
 * const inc = actor(`inc-${crypto.randomUUID()}`, (n: number) => n + 1, { broker });
 * const log = actor(`log-${crypto.randomUUID()}`, (n: number) => { seen.push(n) }, { broker });
 * await pipeline([inc.message(1), inc.message(), log.message()]).run();
 * await broker.join("default");
 * assert.deepEqual(seen, [3]);
 * ```
 */
export function pipeline<const S extends readonly Step[]>(
  steps: S,
  options: PipelineOptions = {},
): Pipeline<ResultOf<S extends readonly [...unknown[], infer L] ? L : S[number]>> {
  return new Pipeline(steps, options);
}

providePipe((steps) => new Pipeline(steps));
