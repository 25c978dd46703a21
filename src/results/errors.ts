/**
 * The errors of reading results: classes callers catch. None quotes a result, an
 * argument or the failed actor's error message in its own message; `ResultFailure` keeps
 * the actor's error message in a field.
 *
 * @module
 */

/**
 * The base class of the result errors, to catch them all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert(new ResultMissing("m1") instanceof ResultError);
 * ```
 */
export class ResultError extends Error {
  /** The id of the message whose result was asked for. */
  readonly messageId: string;

  /**
   * Creates a ResultError.
   *
   * @param messageId The message id.
   * @param message What went wrong.
   */
  constructor(messageId: string, message: string) {
    super(message);
    this.name = "ResultError";
    this.messageId = messageId;
  }
}

/**
 * Thrown by a non-blocking read when the result is not stored: the message has not
 * finished yet, or its result expired (`resultTtl`, 10 minutes by default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const error = new ResultMissing("m1");
 * assert(error.message === "Cannot get the result of message m1: it is not stored (not finished yet, or expired)");
 * ```
 */
export class ResultMissing extends ResultError {
  /**
   * Creates a ResultMissing.
   *
   * @param messageId The message id.
   */
  constructor(messageId: string) {
    super(
      messageId,
      `Cannot get the result of message ${messageId}: it is not stored (not finished yet, or expired)`,
    );
    this.name = "ResultMissing";
  }
}

/**
 * Thrown by a blocking read when its timeout passes before the result is stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const error = new ResultTimeout("m1", 5_000);
 * assert(error.timeout === 5_000 && error instanceof ResultError);
 * ```
 */
export class ResultTimeout extends ResultError {
  /** The timeout in milliseconds. */
  readonly timeout: number;

  /**
   * Creates a ResultTimeout.
   *
   * @param messageId The message id.
   * @param timeout The timeout in milliseconds.
   */
  constructor(messageId: string, timeout: number) {
    super(
      messageId,
      `Cannot get the result of message ${messageId}: not stored after ${timeout} ms`,
    );
    this.name = "ResultTimeout";
    this.timeout = timeout;
  }
}

/** How a failure is stored: what the actor threw, by name and message. */
export interface FailureData {
  /** The error's name (its class), as `"TypeError"`. */
  type: string;
  /** The error's message. */
  message: string;
  /** Its stack, when the `Results` middleware keeps stacks. */
  stack?: string;
}

/**
 * Thrown when reading the result of a message that failed for good (dead), or of a later
 * step of a pipeline that stopped there. The actor's error is in `errorType`,
 * `errorMessage` and, when kept, `errorStack`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const error = new ResultFailure("m1", { type: "RangeError", message: "too big" });
 * assert(error.errorType === "RangeError" && error.errorMessage === "too big");
 * assert(error.message === "Cannot get the result of message m1: the actor failed with RangeError");
 * ```
 */
export class ResultFailure extends ResultError {
  /** The name of what the actor threw. */
  readonly errorType: string;
  /** Its message. */
  readonly errorMessage: string;
  /** Its stack, if stored. */
  readonly errorStack: string | undefined;

  /**
   * Creates a ResultFailure.
   *
   * @param messageId The message id.
   * @param failure The stored failure.
   */
  constructor(messageId: string, failure: FailureData) {
    super(
      messageId,
      `Cannot get the result of message ${messageId}: the actor failed with ${failure.type}`,
    );
    this.name = "ResultFailure";
    this.errorType = failure.type;
    this.errorMessage = failure.message;
    this.errorStack = failure.stack;
  }
}
