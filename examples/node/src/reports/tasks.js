// The report actors: long-running, so their queue is left to the pull worker (worker.sh).
import { actor } from "skiff";

/** Builds a monthly report. */
export const buildReport = actor(
  "reports.build",
  /**
   * @this {import("skiff").MessageContext}
   * @param {string} month
   */
  function (month) {
    console.log(`report for ${month} built (message ${this.message.id})`);
  },
  { queue: "reports", timeLimit: 10 * 60_000 },
);
