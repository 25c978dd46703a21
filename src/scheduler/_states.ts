/**
 * Where messages are, for the scheduler's `overlap: "skip"`: the broker's own read-only
 * `state()`. Private to skiff.
 *
 * @module
 */
import type { Broker, MessageState } from "../broker.ts";

/** Whether a message in this state has yet to finish (run, or die). */
export function unfinished(state: MessageState): boolean {
  return state === "ready" || state === "delayed" || state === "leased";
}

/** Where each of the messages is, in order; no request when there are none. */
export async function messageStates(
  broker: Broker,
  queue: string,
  ids: readonly string[],
): Promise<MessageState[]> {
  if (ids.length === 0) return [];
  return await broker.state(queue, ids);
}
