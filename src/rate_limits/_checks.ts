/** Argument checks shared by the rate limiters and their backends; private to skiff. */
import { describe, NAME_PATTERN } from "../_util.ts";

/** The largest count or duration accepted: far beyond any use, and exact in Lua's doubles. */
export const MAX_SETTING = 2 ** 31 - 1;

/**
 * Checks an optional clock.
 *
 * @returns The clock, or `Date.now`.
 * @throws {TypeError} When it is set and not a function.
 */
export function checkClock(now: unknown, what: string): () => number {
  if (now === undefined) return Date.now;
  if (typeof now !== "function") {
    throw new TypeError(
      `Cannot create ${what}: 'now' must be a function, received ${describe(now)}`,
    );
  }
  return now as () => number;
}

/**
 * Checks a key or a namespace: it goes inside Redis keys and hash tags, so no braces.
 *
 * @throws {TypeError} When it is not 1 to 200 of A-Z a-z 0-9 _ . : @ / -.
 */
export function checkName(value: unknown, name: string, context: string): string {
  if (typeof value !== "string" || !NAME_PATTERN.test(value)) {
    throw new TypeError(
      `${context}: '${name}' must be 1 to 200 of A-Z a-z 0-9 _ . : @ / -, received ${
        describe(value)
      }`,
    );
  }
  return value;
}

/**
 * Checks an optional positive integer setting.
 *
 * @returns The value, or the default.
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is not an integer in `[1, MAX_SETTING]`.
 */
export function checkPositive(
  value: unknown,
  name: string,
  context: string,
  fallback?: number,
): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const unit = name === "limit" || name === "parties" ? "" : " number of milliseconds";
  const problem = `${context}: '${name}' must be a positive integer${unit}, received ${
    describe(value)
  }`;
  if (typeof value !== "number") throw new TypeError(problem);
  if (!Number.isInteger(value) || value < 1 || value > MAX_SETTING) throw new RangeError(problem);
  return value;
}

/**
 * Checks that a backend has the methods limiters call.
 *
 * @throws {TypeError} When it does not.
 */
export function checkBackend(backend: unknown, context: string): void {
  const methods = ["now", "acquireConcurrent", "acquireWindow", "createBarrier"];
  if (
    typeof backend !== "object" || backend === null ||
    methods.some((m) => typeof (backend as Record<string, unknown>)[m] !== "function")
  ) {
    throw new TypeError(
      `${context}: 'backend' must be a RateLimiterBackend, received ${describe(backend)}`,
    );
  }
}
