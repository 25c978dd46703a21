// A tasks package: every module in a directory named tasks/ is found by worker.sh too.
import { actor } from "skiff";

/** Sends an invoice. */
export const sendInvoice = actor(
  "billing.send-invoice",
  /**
   * @this {import("skiff").MessageContext}
   * @param {number} invoiceId
   */
  function (invoiceId) {
    console.log(`invoice ${invoiceId} sent (message ${this.message.id})`);
  },
  { queue: "billing" },
);
