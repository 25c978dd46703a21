// The app's actors, declared at module top level with no broker and no secrets.
import { actor } from "skiff";

/** Confirms an order by email (here it only logs; call your email API). */
export const confirmOrder = actor(
  "orders.confirm",
  /**
   * @this {import("skiff").MessageContext}
   * @param {number} orderId
   */
  function (orderId) {
    console.log(`order ${orderId} confirmed (message ${this.message.id})`);
  },
  { queue: "orders" },
);
