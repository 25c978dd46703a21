/** The scheduler's Redis errors; private to skiff. */
import { redisFailureText } from "../_util.ts";

/**
 * The error to throw when Redis fails: `@upstash/redis` quotes the whole request in its
 * messages (message bodies included), so only what precedes the quote is kept.
 */
export function redisFailure(action: string, error: unknown): Error {
  return new Error(`Cannot ${action}: ${redisFailureText(error)}`);
}
