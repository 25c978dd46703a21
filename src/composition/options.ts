/**
 * The actor options of composition: `onSuccess`, `onFailure` (callbacks: an actor, kept
 * by its name) and `pipeIgnore`, declared in the options table when imported (`actor.ts` imports this
 * module).
 *
 * @module
 */
import { NAME_PATTERN } from "../_util.ts";
import { type ActorOptionSpec, declareActorOptions } from "../options.ts";

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
