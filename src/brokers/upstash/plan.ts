/**
 * The plan read of `UpstashBroker`: which later steps of a pipeline store results.
 *
 * @module
 */
import { Script } from "../../redis/script.ts";

/**
 * Reads the ids of a pipeline's messages that store results, with their positions, from
 * its plan (a hash, see `settle.ts`), changing nothing: 1 command (`HGET`). A step that
 * dies fails their results too.
 *
 * - KEYS: the plan.
 * - Returns: JSON `[[position, id]...]`, `[]` when the plan is gone.
 *
 * @example
 * ```ts ignore
 * const json = await PLAN_RESULTS.run(redis, [planKey(namespace, home, id)], []);
 * ```
 */
export const PLAN_RESULTS: Script<unknown> = new Script(
  "skiff-plan-results",
  `#!lua flags=allow-key-locking
local state = KEYS[1]
return redis.call("HGET", state, "results") or "[]"
`,
);
