/**
 * The Worker's actors, declared at module top level with no broker and no secrets: the
 * broker arrives with each request (see `index.ts`).
 *
 * @module
 */
import { actor } from "skiff";

/** Charges a card; here it always fails, and its card token must never reach Rollbar. */
export const chargeCard = actor(
  "payments.charge-card",
  (orderId: number, cardToken: string) => {
    if (orderId > 0 && cardToken) throw new Error("card declined by the payment gateway");
  },
  // The retry runs when a tick finds it due: at the next cron trigger.
  { queue: "payments", maxRetries: 1, minBackoff: 100, maxBackoff: 100 },
);
