/**
 * The demo's actors: a small shop's background jobs. Declared at module top level with
 * no broker and no secrets, as every skiff app declares them; `examples/demo.ts` picks the
 * broker, and `skiff worker examples/shop.ts` can run them as well.
 *
 * @module
 */
import { actor, type MessageContext, Retry } from "../mod.ts";

/** What the actors did, in order, for the demo's report. */
export const log: string[] = [];

function say(line: string): void {
  const stamp = new Date().toISOString().slice(11, 23);
  console.log(`  ${stamp}  ${line}`);
  log.push(line);
}

/** Sends an order confirmation: always works. */
export const confirmOrder = actor("shop.confirm-order", (orderId: number, email: string) => {
  say(`confirmed order #${orderId} to ${email.replace(/(?<=.).+(?=@)/, "***")}`);
});

/** Charges a card through a payment API that fails twice before it answers. */
export const chargeCard = actor(
  "shop.charge-card",
  function (this: MessageContext, orderId: number, cents: number) {
    if (this.attempt < 3) {
      say(`charge for order #${orderId} failed (attempt ${this.attempt}): gateway timeout`);
      throw new Error("gateway timeout");
    }
    say(`charged ${(cents / 100).toFixed(2)} EUR for order #${orderId} (attempt ${this.attempt})`);
  },
  { maxRetries: 5, minBackoff: 200, maxBackoff: 1_000 },
);

/** Asks the warehouse for stock, which says when to ask again. */
export const reserveStock = actor(
  "shop.reserve-stock",
  function (this: MessageContext, sku: string) {
    if (this.attempt === 1) {
      say(`stock for ${sku} is being counted: retry in 300 ms`);
      throw new Retry({ delay: 300 });
    }
    say(`reserved ${sku} (attempt ${this.attempt})`);
  },
);

/** Sends a review request; the demo sends it with a delay. */
export const askForReview = actor("shop.ask-for-review", (orderId: number) => {
  say(`asked for a review of order #${orderId}`);
});

/** Imports a broken feed: never works, so it ends in the dead letters. */
export const importFeed = actor(
  "shop.import-feed",
  (url: string) => {
    say(`feed import from ${new URL(url).host} failed: malformed CSV`);
    throw new Error("malformed CSV");
  },
  { maxRetries: 1, minBackoff: 100, maxBackoff: 100 },
);
