// The signup actors. Their queue, "signup", is pushed to the web server's /skiff/messages.
import { actor } from "skiff";

/** Sends the welcome email of a new user (here it only logs; call your email API). */
export const sendWelcome = actor(
  "signup.send-welcome",
  /**
   * @this {import("skiff").MessageContext}
   * @param {number} userId
   */
  function (userId) {
    console.log(`welcome email sent to user ${userId} (message ${this.message.id})`);
  },
  { queue: "signup", maxRetries: 5 },
);
