/**
 * Retries of the calls that end a lease (ack, nack, settle), and of the result writes made
 * just before them, after a transient failure; private to skiff. Every retry sends the same
 * call (its keys name the same call record, or it is a plain `SET` of the same value), so a
 * retry whose first attempt did reach Redis answers what that attempt did.
 */
import { errorName } from "../../_util.ts";
import type { Logger } from "../../broker.ts";

/**
 * How long an ack or a nack keeps retrying, from its first attempt: half the default lease
 * (30 s), so that a message whose ack fails for a while is still acked before its lease
 * ends and another consumer runs it again; well within the call record's 60 s.
 */
export const LEASE_CALL_RETRY_MS = 15_000;

/** The first pause between attempts; it doubles up to `MAX_PAUSE_MS`, with jitter. */
const FIRST_PAUSE_MS = 50;
const MAX_PAUSE_MS = 2_000;

/**
 * Errors that the same request may not meet again: Redis refusing the command itself
 * (a script error, a wrong type, a missing permission, a request or plan limit). Anything
 * else (network errors, a 5xx whose body is not JSON, `ERR ... service unavailable`) is
 * taken as transient: retrying is safe, as every retry is recognised by its call record.
 */
const PERMANENT =
  /^(WRONGTYPE|NOPERM|NOAUTH|WRONGPASS|Unauthorized|ERR (Error running script|user_script|skiff-|unknown command|wrong number|max ))/i;

/** Whether a failed call is worth repeating. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const text = error.message.split(", command was:")[0].trim();
  return !PERMANENT.test(text);
}

/** Options of {@linkcode retryTransient}. */
export interface RetryOptions {
  /** What is attempted, for the log line: "acknowledge messages". */
  action: string;
  /** The queue, for the log line, if the call is about one. */
  queue?: string;
  /** Where retries are logged (debug); none when absent. */
  logger?: Logger;
  /** How long to keep trying, from the first attempt (default `LEASE_CALL_RETRY_MS`). */
  budgetMs?: number;
}

/**
 * Runs `attempt` until it succeeds, fails with a permanent error, or the budget is spent
 * (then its last error is thrown). Pauses double from 50 ms to 2 s, each drawn from its
 * upper half.
 */
export async function retryTransient<T>(
  attempt: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { action, queue, logger, budgetMs = LEASE_CALL_RETRY_MS } = options;
  const deadline = Date.now() + budgetMs;
  for (let n = 1;; n++) {
    try {
      return await attempt();
    } catch (error) {
      const pause = Math.min(FIRST_PAUSE_MS * 2 ** (n - 1), MAX_PAUSE_MS) *
        (0.5 + Math.random() / 2);
      if (!isTransient(error) || Date.now() + pause > deadline) throw error;
      logger?.debug(
        `Cannot ${action}${queue === undefined ? "" : ` of queue '${queue}'`} (attempt ${n}): ` +
          `${errorName(error)}; retrying the same call in ${Math.round(pause)} ms`,
        { queue, action, attempt: n, error },
      );
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
