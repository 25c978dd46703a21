/** The scheduler's Redis errors; private to skiff. */
import { errorName } from "../_util.ts";

/**
 * The error to throw when Redis fails: `@upstash/redis` quotes the whole request in its
 * messages (message bodies included), so only what precedes the quote is kept.
 */
export function redisFailure(action: string, error: unknown): Error {
  const text = error instanceof Error
    ? error.message.split(", command was:")[0].split("\n")[0].slice(0, 200)
    : "";
  return new Error(`Cannot ${action}: ${errorName(error)}${text ? `: ${text}` : ""}`);
}
