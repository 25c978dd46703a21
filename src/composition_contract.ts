/**
 * What the core knows of pipelines and groups: the shapes `Message.pipe()` takes and
 * returns. The composition layer's `Pipeline` and `Group` classes implement them, and a
 * `PipelineLike` is assignable to a `Pipeline`, so the core declares `pipe()` without
 * naming a type of the layer above it.
 *
 * @module
 */
import type { Message } from "./message.ts";
import type { ReadResultOptions, ResultStream } from "./result_stream.ts";

/** Options of `run()` of pipelines and groups. */
export interface RunOptions {
  /** Delay the first step (every member of a group) by this many milliseconds. */
  delay?: number;
}

/**
 * A pipeline, as `Message.pipe()` returns it: the public face of `Pipeline`, which
 * implements it (and to which it is assignable).
 *
 * @typeParam R The last step's result type.
 */
export interface PipelineLike<R = unknown> {
  /** The steps, pipelines flattened: messages and groups. */
  readonly steps: readonly (Message | GroupLike)[];
  /** How many steps it has. */
  readonly length: number;
  /**
   * Chains one more step.
   *
   * @param next A message, a group or a pipeline.
   * @returns A new pipeline; this one is unchanged.
   */
  pipe<N extends Step>(next: N): PipelineLike<ResultOf<N>>;
  /**
   * Enqueues the first step (or every member of a first group), with the pipeline's plan.
   *
   * @param options A delay for the first step.
   * @returns This pipeline.
   */
  run(options?: RunOptions): Promise<this>;
  /**
   * Reads the last step's result (a list, when the last step is a group).
   *
   * @param options Whether to wait, and how long.
   * @returns The result.
   */
  getResult(options?: ReadResultOptions): Promise<R>;
  /**
   * Reads every step's result, in order (a group's as a list).
   *
   * @param options Whether to wait, and how long in all.
   * @returns The results, as they land.
   */
  getResults(options?: ReadResultOptions): ResultStream<unknown>;
}

/**
 * A group, as a pipeline's step: what the core knows of `Group`, which implements it
 * (adding callbacks and `wait()`).
 *
 * @typeParam R The members' result type.
 */
export interface GroupLike<R = unknown> {
  /** The group id. */
  readonly id: string;
  /** The members, in order: messages, and pipelines of messages. */
  readonly members: readonly (Message<unknown[], unknown> | PipelineLike<unknown>)[];
  /** How long a tracked group's state is kept while pending, in milliseconds. */
  readonly ttl: number;
  /** How many members it has. */
  readonly length: number;
  /** The messages sent once every member succeeded. */
  readonly completionCallbacks: readonly Message[];
  /** The messages sent at the first member that fails for good. */
  readonly failureCallbacks: readonly Message[];
  /**
   * Each member's last message, whose result is the member's.
   *
   * @returns The messages, in member order.
   */
  lastMessages(): Message[];
  /**
   * Chains a step after the group: it receives the list of the members' results.
   *
   * @param next A message (or a pipeline starting with one).
   * @returns A pipeline of this group and `next`, not run yet.
   */
  pipe<N extends Step>(next: N): PipelineLike<ResultOf<N>>;
  /**
   * Enqueues every member's first message.
   *
   * @param options A delay for every member.
   * @returns This group.
   */
  run(options?: RunOptions): Promise<this>;
  /**
   * Reads the members' results in the order they were added.
   *
   * @param options Whether to wait, and how long in all.
   * @returns The results, as they land.
   */
  getResults(options?: ReadResultOptions): ResultStream<R>;
}

/** What a pipeline's step or a group's member may be. */
export type Step = Message<unknown[], unknown> | GroupLike<unknown> | PipelineLike<unknown>;

/** The result type of a step: a message's, a group's list, a pipeline's last step's. */
export type ResultOf<S> = S extends Message<unknown[], infer R> ? R
  : S extends GroupLike<infer R> ? R[]
  : S extends PipelineLike<infer R> ? R
  : unknown;
