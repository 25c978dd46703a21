/**
 * Errors that callers and actors catch or throw on purpose. Bad arguments are reported
 * with the built-in `TypeError` and `RangeError` instead.
 *
 * @module
 */

/** Options of {@linkcode SkipMessage}. */
export interface SkipMessageOptions {
  /** Move the message to the dead letters instead of acknowledging it (default `false`). */
  deadLetter?: boolean;
}

/**
 * Thrown by a `beforeProcessMessage` hook (or an actor) to skip the actor: the message is
 * acknowledged, or dead-lettered with the reason when `deadLetter` is set.
 *
 * @example Skip from a middleware
 * ```ts
 * import assert from "node:assert/strict";
 * const skip = new SkipMessage("the tenant is suspended");
 * assert(skip.deadLetter === false && skip.name === "SkipMessage");
 * ```
 */
export class SkipMessage extends Error {
  /** Whether the skipped message goes to the dead letters. */
  readonly deadLetter: boolean;

  /**
   * Creates a SkipMessage.
   *
   * @param reason Why the message is skipped; becomes the dead letter's reason.
   * @param options Whether to dead-letter the message.
   */
  constructor(reason = "skipped by middleware", options: SkipMessageOptions = {}) {
    super(reason);
    this.name = "SkipMessage";
    this.deadLetter = options.deadLetter ?? false;
  }
}

/** Options of {@linkcode Retry}. */
export interface RetryOptions {
  /** Retry after this many milliseconds instead of the computed backoff. */
  delay?: number;
  /** What made the actor ask for a retry. */
  cause?: unknown;
}

/**
 * Thrown by an actor to ask for a retry, optionally after an explicit delay. It counts
 * against `maxRetries` like any other error, but is not logged as a failure.
 *
 * @throws {RangeError} When `delay` is negative or not finite.
 * @example Retry in five seconds
 * ```ts
 * import assert from "node:assert/strict";
 * const retry = new Retry({ delay: 5_000 });
 * assert(retry.delay === 5_000);
 * ```
 */
export class Retry extends Error {
  /** The requested delay in milliseconds, if any. */
  readonly delay: number | undefined;

  /**
   * Creates a Retry.
   *
   * @param options The delay and the cause.
   */
  constructor(options: RetryOptions = {}) {
    const { delay, cause } = options;
    if (delay !== undefined && !(Number.isFinite(delay) && delay >= 0)) {
      throw new RangeError(
        `Cannot create Retry: 'delay' must be a non-negative number of milliseconds, received ${delay}`,
      );
    }
    super(
      delay === undefined ? "Retry requested" : `Retry requested in ${delay} ms`,
      cause === undefined ? undefined : { cause },
    );
    this.name = "Retry";
    this.delay = delay;
  }
}

/**
 * Thrown by a rate limiter's `acquire()` when it cannot acquire (and `raiseOnFailure` is
 * not `false`). It is a {@linkcode Retry}: the `Retries` middleware retries the message with
 * backoff and no failure is logged; it counts against `maxRetries` unless the actor option
 * `rateLimitRetriesCount` is `false`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const error = new RateLimitExceeded("distributed-mutex");
 * assert(error instanceof Retry && error.key === "distributed-mutex");
 * assert(error.message === "Cannot acquire rate limiter 'distributed-mutex': its limit is reached");
 * ```
 */
export class RateLimitExceeded extends Retry {
  /** The rate limiter's key. */
  readonly key: string;

  /**
   * Creates a RateLimitExceeded.
   *
   * @param key The rate limiter's key.
   */
  constructor(key: string) {
    super();
    this.name = "RateLimitExceeded";
    this.message = `Cannot acquire rate limiter '${key}': its limit is reached`;
    this.key = key;
  }
}

/**
 * The reason of a message context's `signal` when the actor ran past its `timeLimit`; the
 * attempt fails with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const error = new TimeLimitExceeded(1_000);
 * assert(error.limit === 1_000);
 * ```
 */
export class TimeLimitExceeded extends Error {
  /** The time limit in milliseconds. */
  readonly limit: number;

  /**
   * Creates a TimeLimitExceeded.
   *
   * @param limit The time limit in milliseconds.
   */
  constructor(limit: number) {
    super(`Time limit exceeded: the actor ran for more than ${limit} ms`);
    this.name = "TimeLimitExceeded";
    this.limit = limit;
  }
}

/**
 * Thrown at send when an encoded message is larger than the broker's `maxMessageBytes`;
 * nothing is written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const error = new MessageTooLarge(300_000, 262_144);
 * assert(error instanceof RangeError && error.size === 300_000);
 * ```
 */
export class MessageTooLarge extends RangeError {
  /** The encoded size in bytes. */
  readonly size: number;
  /** The limit in bytes. */
  readonly limit: number;

  /**
   * Creates a MessageTooLarge.
   *
   * @param size The encoded size in bytes.
   * @param limit The limit in bytes.
   */
  constructor(size: number, limit: number) {
    super(
      `Cannot send message: the encoded message is ${size} bytes, more than the limit of ${limit} bytes`,
    );
    this.name = "MessageTooLarge";
    this.size = size;
    this.limit = limit;
  }
}

/**
 * Thrown by `broker.join()` and `worker.join()` when their `timeout` passes first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const error = new JoinTimeout("queue 'default'", 100);
 * assert(error.timeout === 100);
 * ```
 */
export class JoinTimeout extends Error {
  /** The timeout in milliseconds. */
  readonly timeout: number;

  /**
   * Creates a JoinTimeout.
   *
   * @param what What was being joined, as in "queue 'default'".
   * @param timeout The timeout in milliseconds.
   */
  constructor(what: string, timeout: number) {
    super(`Cannot join ${what}: still busy after ${timeout} ms`);
    this.name = "JoinTimeout";
    this.timeout = timeout;
  }
}
