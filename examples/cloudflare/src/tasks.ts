/**
 * The Worker's actors, declared at module top level with no broker and no secrets: the
 * broker arrives with each request (see `index.ts`).
 *
 * @module
 */
import { actor, type MessageContext } from "skiff";

/** Sends the welcome email of a new user (here it only logs; call your email API). */
export const sendWelcome = actor(
  "signup.send-welcome",
  function (this: MessageContext, userId: number) {
    console.log(
      `welcome email sent to user ${userId} (message ${this.message.id})`,
    );
  },
  { queue: "signup", maxRetries: 5 },
);

/** Runs once per minute slot, from the cron trigger: purge what expired, say. */
export const purgeExpired = actor(
  "maintenance.purge-expired",
  function (this: MessageContext) {
    console.log(`purged expired sessions (message ${this.message.id})`);
  },
  { queue: "maintenance" },
);
