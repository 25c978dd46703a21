/**
 * Retries failed messages with exponential backoff and jitter, then dead-letters them.
 *
 * @module
 */
import { errorSummary, integerIn } from "../_util.ts";
import type { NackOutcome } from "../broker.ts";
import type { MessageContext } from "../context.ts";
import { RateLimitExceeded, Retry } from "../errors.ts";
import { Message } from "../message.ts";
import { type ActorOptionSpec, declareActorOptions } from "../options.ts";
import { Middleware, type ProcessOutcome } from "./middleware.ts";

const millis = {
  type: "number",
  expected: "a non-negative integer number of milliseconds",
  check: integerIn(0, Number.MAX_SAFE_INTEGER),
  perMessage: true,
} as const satisfies ActorOptionSpec;

/** The actor options `Retries` reads. */
export const RETRIES_OPTIONS: Readonly<Record<string, ActorOptionSpec>> = {
  maxRetries: {
    type: "number",
    expected: "a non-negative integer",
    check: integerIn(0, Number.MAX_SAFE_INTEGER),
    perMessage: true,
  },
  minBackoff: millis,
  maxBackoff: millis,
  retryWhen: {
    type: "function",
    expected: "a function (retries, error) => boolean",
    perMessage: false,
  },
  throws: {
    type: "object",
    expected: "an array of error classes",
    check: (value) => Array.isArray(value) && value.every((c) => typeof c === "function"),
    perMessage: false,
  },
  rateLimitRetriesCount: {
    type: "boolean",
    expected: "a boolean",
    perMessage: true,
  },
};
declareActorOptions(RETRIES_OPTIONS);

/** Options of {@linkcode Retries}: defaults for actors that do not set their own. */
export interface RetriesOptions {
  /** Retries before the message is dead (default 20). */
  maxRetries?: number;
  /** The first backoff, in milliseconds (default 15 s). */
  minBackoff?: number;
  /** The largest backoff, in milliseconds (default 7 days). */
  maxBackoff?: number;
  /** A random number in [0, 1) for the jitter (default `Math.random`); inject one in tests. */
  random?: () => number;
  /**
   * Whether retries after `RateLimitExceeded` count against `maxRetries` (default `true`,
   * as in Dramatiq). With `false`, such a retry keeps the message's retry count and
   * attempt number, waits the backoff of its current count, and is never dead for it
   * (`maxAge` still applies). Actors may set the same option.
   */
  rateLimitRetriesCount?: boolean;
}

/** Options of {@linkcode computeBackoff}. */
export interface BackoffOptions {
  /** The first backoff, in milliseconds. */
  minBackoff: number;
  /** The largest backoff, in milliseconds. */
  maxBackoff: number;
  /** A random number in [0, 1) (default `Math.random`). */
  random?: () => number;
}

/**
 * The delay before retry number `retry`: `minBackoff * 2^(retry - 1)`, plus up to as much
 * again of jitter, never more than `maxBackoff`.
 *
 * @param retry Which retry this is, from 1.
 * @param options The bounds and the random source.
 * @returns The delay in milliseconds, in `[minBackoff, maxBackoff]`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const options = { minBackoff: 1_000, maxBackoff: 10_000, random: () => 0.5 };
 * assert(computeBackoff(1, options) === 1_500);
 * assert(computeBackoff(3, options) === 6_000);
 * assert(computeBackoff(9, options) === 10_000);
 * ```
 */
export function computeBackoff(retry: number, options: BackoffOptions): number {
  const { minBackoff, maxBackoff, random = Math.random } = options;
  const base = minBackoff * 2 ** Math.min(Math.max(retry - 1, 0), 52);
  const delay = Math.floor(base + random() * base);
  return Math.max(minBackoff, Math.min(delay, maxBackoff));
}

/**
 * Decides what happens to a failed attempt: an error listed in `throws` is dead at once;
 * otherwise the message is retried while `retryWhen(retries, error)` (or, without it,
 * `retries < maxRetries`) holds, after `computeBackoff()` or a `Retry`'s explicit delay.
 * A `RateLimitExceeded` is retried the same way, unless `rateLimitRetriesCount` is `false`
 * (actor option, else this middleware's): then it is always retried, without counting.
 * Installed on every broker by default.
 *
 * @example Retry an actor's failure twice, then dead-letter it
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 *
 * let time = 0;
 * const logger = { ...console, warn() {}, error() {} }; // failures are expected here
 * const broker = new MemoryBroker({ now: () => time, logger });
 * const flaky = actor(`flaky-${crypto.randomUUID()}`, () => {
 *   throw new Error("boom");
 * }, { broker, maxRetries: 2, minBackoff: 100 });
 * await flaky.send();
 * for (let i = 0; i < 3; i++) {
 *   await broker.join("default", { failFast: false });
 *   time += 1_000;
 * }
 * const [dead] = await broker.deadLetters("default");
 * assert(dead.reason.startsWith("Retries exhausted after 2 retries"));
 * ```
 */
export class Retries extends Middleware {
  /** The actor options it reads. */
  override readonly actorOptions: Readonly<Record<string, ActorOptionSpec>> = RETRIES_OPTIONS;
  /** The default of `maxRetries`. */
  readonly maxRetries: number;
  /** The default of `minBackoff`, in milliseconds. */
  readonly minBackoff: number;
  /** The default of `maxBackoff`, in milliseconds. */
  readonly maxBackoff: number;
  /** The default of `rateLimitRetriesCount`. */
  readonly rateLimitRetriesCount: boolean;
  readonly #random: () => number;
  /** Attempts retried after a rate limit without counting, until their nack. */
  readonly #uncounted = new WeakSet<MessageContext>();

  /**
   * Creates the Retries middleware.
   *
   * @param options Defaults for actors that do not set their own.
   */
  constructor(options: RetriesOptions = {}) {
    super();
    this.maxRetries = options.maxRetries ?? 20;
    this.minBackoff = options.minBackoff ?? 15_000;
    this.maxBackoff = options.maxBackoff ?? 7 * 86_400_000;
    this.#random = options.random ?? Math.random;
    this.rateLimitRetriesCount = options.rateLimitRetriesCount ?? true;
  }

  /**
   * Sets `outcome.retryAt` or `outcome.deadReason` for a failed attempt.
   *
   * @param context The message's context.
   * @param outcome The attempt's outcome.
   */
  override afterProcessMessage(context: MessageContext, outcome: ProcessOutcome): void {
    if (!outcome.failed) return;
    const { error } = outcome;
    const retries = context.message.retries;
    const throws = context.option<(abstract new (...args: never[]) => unknown)[]>("throws");
    if (throws?.some((type) => error instanceof type)) {
      outcome.deadReason = `${errorSummary(error)} (listed in 'throws', not retried)`;
      outcome.deadCause = "listed in 'throws', not retried";
      return;
    }
    const retryWhen = context.option<(retries: number, error: unknown) => boolean>("retryWhen");
    const maxRetries = context.option<number>("maxRetries") ?? this.maxRetries;
    const uncounted = error instanceof RateLimitExceeded &&
      !(context.option<boolean>("rateLimitRetriesCount") ?? this.rateLimitRetriesCount);
    if (uncounted) this.#uncounted.add(context);
    else if (retryWhen ? !retryWhen(retries, error) : retries >= maxRetries) {
      const count = `${retries} ${retries === 1 ? "retry" : "retries"}`;
      outcome.deadReason = `Retries exhausted after ${count}: ${errorSummary(error)}`;
      outcome.deadCause = retryWhen
        ? `retryWhen refused retry ${retries + 1}`
        : `retries exhausted after ${count}`;
      return;
    }
    const delay = error instanceof Retry && error.delay !== undefined
      ? error.delay
      : computeBackoff(retries + 1, {
        minBackoff: context.option<number>("minBackoff") ?? this.minBackoff,
        maxBackoff: context.option<number>("maxBackoff") ?? this.maxBackoff,
        random: this.#random,
      });
    outcome.retryAt = context.broker.now() + delay;
  }

  /**
   * Keeps the retry count of a message retried after a rate limit without counting:
   * `processMessage` wrote the retry's body with the count plus one.
   *
   * @param context The message's context.
   * @param outcome The nack about to be written.
   */
  override beforeNack(context: MessageContext, outcome: NackOutcome): void {
    if (!this.#uncounted.delete(context) || outcome.kind !== "retry" || !outcome.body) return;
    outcome.body = Message.decode(outcome.body).copy({ retries: context.message.retries }).encode();
  }
}
