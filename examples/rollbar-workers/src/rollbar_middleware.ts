/**
 * Reports actor exceptions to Rollbar, with the message id, actor, queue and attempt as the
 * item's custom data. Argument values are not sent: they are user data. Copy this file into
 * your project.
 *
 * @module
 */
import type Rollbar from "rollbar";
import { type MessageContext, Middleware, type ProcessOutcome } from "skiff";

/** A skiff middleware that reports every failed attempt of an actor to Rollbar. */
export class RollbarMiddleware extends Middleware {
  readonly #rollbar: Rollbar;

  /** @param rollbar The Rollbar client the reports go through. */
  constructor(rollbar: Rollbar) {
    super();
    this.#rollbar = rollbar;
  }

  /**
   * Called after each attempt, before the ack or nack: every failed attempt is reported, also
   * those that will be retried (`skiff.attempt` tells them apart). The returned promise
   * settles when Rollbar has answered, so the report is sent within the invocation that runs
   * the message; a report that fails does not fail the message.
   */
  afterProcessMessage(context: MessageContext, outcome: ProcessOutcome): Promise<void> | void {
    if (!outcome.failed) return;
    const custom = {
      "skiff.message_id": context.message.id,
      "skiff.actor": context.message.actor,
      "skiff.queue": context.queue,
      "skiff.attempt": context.attempt,
    };
    const error = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
    return new Promise((resolve) => {
      this.#rollbar.error(error, custom, () => resolve());
    });
  }
}
