/** Runs one hook over a broker's middleware stack; private to skiff. */
import type { Broker } from "../broker.ts";
import { SkipMessage } from "../errors.ts";
import { errorName } from "../_util.ts";
import type { HookName } from "./middleware.ts";

/**
 * Calls `hook` on every middleware that defines it: in stack order, or in reverse for
 * after-hooks. A hook's error is logged and swallowed, except `SkipMessage` when
 * `allowSkip` is set. Returns the last non-undefined value a hook returned.
 */
export async function emit(
  broker: Broker,
  hook: HookName,
  args: unknown[],
  options: { reverse?: boolean; allowSkip?: boolean } = {},
): Promise<unknown> {
  const stack = options.reverse ? [...broker.middleware].reverse() : broker.middleware;
  let returned: unknown;
  for (const middleware of stack) {
    const fn = (middleware as unknown as Record<string, unknown>)[hook];
    if (typeof fn !== "function") continue;
    try {
      const value = await fn.apply(middleware, args);
      if (value !== undefined) returned = value;
    } catch (error) {
      if (options.allowSkip && error instanceof SkipMessage) throw error;
      broker.logger.error(
        `Middleware '${middleware.name}' failed in '${hook}' with ${errorName(error)}; continuing`,
        error,
      );
    }
  }
  return returned;
}
