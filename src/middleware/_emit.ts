/** Runs one hook over a broker's middleware stack; private to skiff. */
import type { Broker } from "../broker.ts";
import { SkipMessage } from "../errors.ts";
import { errorName } from "../_util.ts";
import type { HookName, Middleware } from "./middleware.ts";

/**
 * Calls `hook` on every middleware that defines it: in stack order, or in reverse for
 * after-hooks. A hook's error is logged and swallowed, except `SkipMessage` when
 * `allowSkip` is set. Returns the last non-undefined value a hook returned.
 *
 * Synchronous while the hooks are: it returns a promise only from the first hook that
 * returns one (then awaits that hook and runs the rest in order), so a stack of
 * synchronous hooks costs no promise and no microtask per message. Callers `await` the
 * answer either way (or test it with {@linkcode isPromise} first); a skip thrown by a
 * synchronous hook is thrown synchronously.
 */
export function emit(
  broker: Broker,
  hook: HookName,
  args: unknown[],
  options: { reverse?: boolean; allowSkip?: boolean } = {},
): unknown {
  // A copy (a few references): a hook that adds middleware changes the next run only.
  const stack = broker.middleware.slice();
  const reverse = options.reverse === true;
  let returned: unknown;
  for (let n = 0; n < stack.length; n++) {
    const i = reverse ? stack.length - 1 - n : n;
    const middleware = stack[i];
    const fn = (middleware as unknown as Record<string, unknown>)[hook];
    if (typeof fn !== "function") continue;
    let value: unknown;
    try {
      value = fn.apply(middleware, args);
    } catch (error) {
      failed(broker, hook, middleware.name, error, options.allowSkip);
      continue;
    }
    if (isPromise(value)) {
      return finish(broker, hook, args, options, stack, n, value, returned);
    }
    if (value !== undefined) returned = value;
  }
  return returned;
}

/** Whether `value` is a thenable, to be awaited. */
export function isPromise(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}

/** The rest of `emit` once a hook returned a promise: the `n`-th one, in run order. */
async function finish(
  broker: Broker,
  hook: HookName,
  args: unknown[],
  options: { reverse?: boolean; allowSkip?: boolean },
  stack: readonly Middleware[],
  n: number,
  pending: PromiseLike<unknown>,
  returned: unknown,
): Promise<unknown> {
  const at = (k: number) => stack[options.reverse ? stack.length - 1 - k : k];
  try {
    const value = await pending;
    if (value !== undefined) returned = value;
  } catch (error) {
    failed(broker, hook, at(n).name, error, options.allowSkip);
  }
  for (let k = n + 1; k < stack.length; k++) {
    const middleware = at(k);
    const fn = (middleware as unknown as Record<string, unknown>)[hook];
    if (typeof fn !== "function") continue;
    try {
      const value = await fn.apply(middleware, args);
      if (value !== undefined) returned = value;
    } catch (error) {
      failed(broker, hook, middleware.name, error, options.allowSkip);
    }
  }
  return returned;
}

function failed(
  broker: Broker,
  hook: HookName,
  name: string,
  error: unknown,
  allowSkip?: boolean,
): void {
  if (allowSkip && error instanceof SkipMessage) throw error;
  broker.logger.error(
    `Middleware '${name}' failed in '${hook}' with ${errorName(error)}; continuing`,
    { middleware: name, hook, error },
  );
}
