/**
 * Dead-letters messages older than their actor's `maxAge` instead of running them.
 *
 * @module
 */
import { integerIn } from "../_util.ts";
import type { MessageContext } from "../context.ts";
import { SkipMessage } from "../errors.ts";
import { type ActorOptionSpec, declareActorOptions } from "../options.ts";
import { Middleware } from "./middleware.ts";

/** The actor options `AgeLimit` reads. */
export const AGE_LIMIT_OPTIONS: Readonly<Record<string, ActorOptionSpec>> = {
  maxAge: {
    type: "number",
    expected: "a non-negative integer number of milliseconds",
    check: integerIn(0, Number.MAX_SAFE_INTEGER),
    perMessage: true,
  },
};
declareActorOptions(AGE_LIMIT_OPTIONS);

/** Options of {@linkcode AgeLimit}. */
export interface AgeLimitOptions {
  /** The default age limit in milliseconds (default: none). */
  maxAge?: number;
}

/**
 * Skips a message whose age, counted from when it was due (its eta, else its enqueue
 * time), exceeds `maxAge`, and moves it to the dead letters. Installed on every broker by
 * default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 *
 * let time = 0;
 * const logger = { ...console, info() {} }; // the skip is expected here
 * const broker = new MemoryBroker({ now: () => time, logger });
 * const stale = actor(`stale-${crypto.randomUUID()}`, () => {}, { broker, maxAge: 1_000 });
 * await stale.send();
 * time = 5_000;
 * await broker.join("default", { failFast: false });
 * assert((await broker.stats("default")).dead === 1);
 * ```
 */
export class AgeLimit extends Middleware {
  /** The actor options it reads. */
  override readonly actorOptions: Readonly<Record<string, ActorOptionSpec>> = AGE_LIMIT_OPTIONS;
  /** The default age limit in milliseconds, if any. */
  readonly maxAge: number | undefined;

  /**
   * Creates the AgeLimit middleware.
   *
   * @param options The default age limit.
   */
  constructor(options: AgeLimitOptions = {}) {
    super();
    this.maxAge = options.maxAge;
  }

  /**
   * Throws `SkipMessage` (dead letter) when the message is too old.
   *
   * @param context The message's context.
   * @throws {SkipMessage} When the message is older than its `maxAge`.
   */
  override beforeProcessMessage(context: MessageContext): void {
    const maxAge = context.option<number>("maxAge") ?? this.maxAge;
    if (maxAge === undefined) return;
    const { eta, enqueuedAt = 0 } = context.message;
    const age = context.broker.now() - (eta ?? enqueuedAt);
    if (age > maxAge) {
      throw new SkipMessage(`Message is older than its maxAge of ${maxAge} ms`, {
        deadLetter: true,
      });
    }
  }
}
