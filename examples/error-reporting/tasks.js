// An actor that fails: its card token must never reach Sentry.
import { actor } from "skiff";

export const chargeCard = actor(
  "payments.charge-card",
  /**
   * @param {number} orderId
   * @param {string} cardToken
   */
  (orderId, cardToken) => {
    if (orderId > 0 && cardToken) throw new Error("card declined by the payment gateway");
  },
  { queue: "payments", maxRetries: 1, minBackoff: 100, maxBackoff: 100 },
);
