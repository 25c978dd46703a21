/**
 * The actor options of results: `storeResults` and `resultTtl`, declared in the options
 * table when imported (`actor.ts` imports this module, so that they are known before any
 * actor is declared).
 *
 * @module
 */
import { integerIn } from "../_util.ts";
import { type ActorOptionSpec, declareActorOptions } from "../options.ts";

/** The default of `resultTtl`: 10 minutes. */
export const DEFAULT_RESULT_TTL = 600_000;

/**
 * The actor options the `Results` middleware reads; both may be set per message.
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
