// The maintenance actors, sent by the schedules of src/schedules.js and run by the pull worker.
import { actor } from "skiff";

/** Runs once per minute slot: purge what expired, say. */
export const purgeExpired = actor(
  "maintenance.purge-expired",
  /** @this {import("skiff").MessageContext} */
  function () {
    console.log(`purged expired sessions (message ${this.message.id})`);
  },
  { queue: "maintenance" },
);
