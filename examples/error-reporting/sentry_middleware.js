// Reports actor exceptions to Sentry, tagged with the message id, actor, queue and attempt.
// Argument values are not sent: they are user data. Copy this file into your project.
import * as Sentry from "@sentry/node";
import { Middleware } from "skiff";

export class SentryMiddleware extends Middleware {
  /**
   * Called after each attempt, before the ack or nack: every failed attempt is reported,
   * also those that will be retried (the `skiff.attempt` tag tells them apart).
   *
   * @param {import("skiff").MessageContext} context
   * @param {import("skiff").ProcessOutcome} outcome
   */
  afterProcessMessage(context, outcome) {
    if (!outcome.failed) return;
    Sentry.withScope((scope) => {
      scope.setTags({
        "skiff.message_id": context.message.id,
        "skiff.actor": context.message.actor,
        "skiff.queue": context.queue,
        "skiff.attempt": context.attempt,
      });
      Sentry.captureException(outcome.error);
    });
  }
}
