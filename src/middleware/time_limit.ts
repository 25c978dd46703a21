/**
 * Aborts an attempt that runs past its actor's `timeLimit`.
 *
 * @module
 */
import { integerIn, MAX_TIMER_MS } from "../_util.ts";
import type { MessageContext } from "../context.ts";
import { TimeLimitExceeded } from "../errors.ts";
import { type ActorOptionSpec, declareActorOptions } from "../options.ts";
import { Middleware } from "./middleware.ts";

/** The actor options `TimeLimit` reads. */
export const TIME_LIMIT_OPTIONS: Readonly<Record<string, ActorOptionSpec>> = {
  timeLimit: {
    type: "number",
    expected: `a positive integer number of milliseconds up to ${MAX_TIMER_MS}`,
    check: integerIn(1, MAX_TIMER_MS),
    perMessage: true,
  },
};
declareActorOptions(TIME_LIMIT_OPTIONS);

/** Options of {@linkcode TimeLimit}. */
export interface TimeLimitOptions {
  /** The default time limit in milliseconds (default 10 minutes). */
  timeLimit?: number;
}

/**
 * At `timeLimit` after the actor starts, aborts the context's `signal` with
 * `TimeLimitExceeded`, which fails the attempt at once (and `Retries` retries it). An
 * actor that ignores its signal keeps running in the background, but its result is
 * dropped. Installed on every broker by default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 * import { TimeLimitExceeded } from "../errors.ts";
 * import type { MessageContext } from "../context.ts";
 *
 * const logger = { ...console, error() {} }; // the failure is expected here
 * const broker = new MemoryBroker({ logger });
 * const slow = actor(`slow-${crypto.randomUUID()}`, function (this: MessageContext) {
 *   return new Promise((_, reject) => this.signal.addEventListener("abort", () => reject(this.signal.reason)));
 * }, { broker, timeLimit: 10, maxRetries: 0 });
 * await slow.send();
 * await broker.join("default").catch((error) => assert(error instanceof TimeLimitExceeded));
 * ```
 */
export class TimeLimit extends Middleware {
  /** The actor options it reads. */
  override readonly actorOptions: Readonly<Record<string, ActorOptionSpec>> = TIME_LIMIT_OPTIONS;
  /** The default time limit in milliseconds. */
  readonly timeLimit: number;
  /** Running attempts and when each must stop (`performance.now()` time). */
  readonly #deadlines = new Map<MessageContext, { at: number; limit: number }>();
  /** One timer for every running attempt, set for the earliest deadline. */
  #timer?: ReturnType<typeof setTimeout>;
  #timerAt = Infinity;

  /**
   * Creates the TimeLimit middleware.
   *
   * @param options The default time limit.
   * @throws {RangeError} When the time limit is not a positive integer up to 2^31 - 1.
   */
  constructor(options: TimeLimitOptions = {}) {
    super();
    this.timeLimit = options.timeLimit ?? 600_000;
    if (!integerIn(1, MAX_TIMER_MS)(this.timeLimit)) {
      throw new RangeError(
        `Cannot create TimeLimit: 'timeLimit' must be ${TIME_LIMIT_OPTIONS.timeLimit.expected}, received ${this.timeLimit}`,
      );
    }
  }

  /**
   * Starts counting the attempt's time.
   *
   * @param context The message's context.
   */
  override beforeProcessMessage(context: MessageContext): void {
    const limit = context.option<number>("timeLimit") ?? this.timeLimit;
    const at = performance.now() + limit;
    this.#deadlines.set(context, { at, limit });
    if (at < this.#timerAt) this.#arm(at);
  }

  /**
   * Stops counting the attempt's time.
   *
   * @param context The message's context.
   */
  override afterProcessMessage(context: MessageContext): void {
    this.#deadlines.delete(context);
    if (this.#deadlines.size === 0) this.#arm(Infinity);
  }

  /**
   * Stops counting the attempt's time.
   *
   * @param context The message's context.
   */
  override afterSkipMessage(context: MessageContext): void {
    this.afterProcessMessage(context);
  }

  /** Sets the one timer for `at`, or clears it (`Infinity`). */
  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, Math.ceil(at - performance.now())));
  }

  #expire(): void {
    const now = performance.now();
    let next = Infinity;
    for (const [context, { at, limit }] of this.#deadlines) {
      if (at <= now) {
        this.#deadlines.delete(context);
        context.abort(new TimeLimitExceeded(limit));
      } else {
        next = Math.min(next, at);
      }
    }
    this.#arm(next);
  }
}
