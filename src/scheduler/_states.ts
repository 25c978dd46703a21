/**
 * Where messages are, for the scheduler's `overlap: "skip"`. The `Broker` contract has no
 * read-only state query yet, so this asks, in order: a `state(queue, ids)` method if the
 * broker has one (the proposed addition), a read-only script on an `UpstashBroker`'s
 * Redis, else `claimById` followed by `release` of what it claimed (a ready message goes
 * straight back, with its place in the queue). Private to skiff.
 *
 * @module
 */
import type { Broker, MessageState } from "../broker.ts";
import { UpstashBroker } from "../brokers/upstash.ts";
import { queueKeys } from "../brokers/upstash/_keys.ts";
import { redisFailure } from "./_redis_error.ts";
import { MESSAGE_STATES } from "./_scripts.ts";

/** The proposed read-only query of the `Broker` contract. */
export interface MessageStates {
  /**
   * Where messages are, changing nothing.
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @returns The state of each, in order (`missing`: done, or never sent).
   */
  state(queue: string, ids: readonly string[]): Promise<MessageState[]>;
}

/** Whether a message in this state has yet to finish (run, or die). */
export function unfinished(state: MessageState): boolean {
  return state === "ready" || state === "delayed" || state === "leased";
}

/** Where each of the messages is, in order. */
export async function messageStates(
  broker: Broker,
  queue: string,
  ids: readonly string[],
): Promise<MessageState[]> {
  if (ids.length === 0) return [];
  const own = (broker as Partial<MessageStates>).state;
  if (typeof own === "function") return await own.call(broker, queue, ids);
  if (broker instanceof UpstashBroker) {
    const keys = queueKeys(broker.namespace, queue).slice(0, 4);
    let answer: unknown;
    try {
      answer = await MESSAGE_STATES.run(broker.redis, keys, [...ids]);
    } catch (error) {
      throw redisFailure(`read message states of queue '${queue}'`, error);
    }
    const list = typeof answer === "string" ? JSON.parse(answer) : answer;
    return ids.map((_, i) => (Array.isArray(list) ? list[i] : "missing") as MessageState);
  }
  const { claimed, unclaimed } = await broker.claimById(queue, ids, { leaseMs: 60_000 });
  if (claimed.length > 0) await broker.release(queue, claimed);
  const states = new Map<string, MessageState>(unclaimed.map((u) => [u.id, u.state]));
  for (const claim of claimed) states.set(claim.id, "ready");
  return ids.map((id) => states.get(id) ?? "missing");
}
