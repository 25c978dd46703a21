/**
 * What both brokers share for debounce and cancel; private to skiff. See
 * `docs/flow_control.md`.
 *
 * @module
 */
import { CANCELLED } from "../_cancelled.ts";
import type { MemberReport } from "../broker.ts";
import { Message } from "../message.ts";

/**
 * The body of a debounced message replaced by a later send: the later send's envelope,
 * under the waiting message's id and with its new eta. The envelope starts with
 * `{"v":1,"id":"<id>"` and, having no `next` (debounce refuses compositions), ends with
 * `,"eta":<eta>}`; `UpstashBroker`'s script does the same with the same strings.
 *
 * @param body The later send's encoded envelope.
 * @param from The later send's id.
 * @param to The waiting message's id.
 * @param eta The new eta, in milliseconds since the epoch.
 * @returns The body to store under `to`.
 * @throws {TypeError} When the body does not have that shape.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const body = '{"v":1,"id":"b","queue":"q","args":[2],"eta":20}';
 * assert.equal(rebody(body, "b", "a", 30), '{"v":1,"id":"a","queue":"q","args":[2],"eta":30}');
 * ```
 */
export function rebody(body: string, from: string, to: string, eta: number): string {
  const head = `{"v":1,"id":${JSON.stringify(from)}`;
  const tail = /,"eta":\d+}$/;
  if (!body.startsWith(head) || !tail.test(body)) {
    throw new TypeError("Cannot debounce a message: its envelope has an unexpected shape");
  }
  return `{"v":1,"id":${JSON.stringify(to)}${body.slice(head.length)}`.replace(
    tail,
    `,"eta":${eta}}`,
  );
}

/**
 * The failure report a cancelled group member makes to its group, as a member that died
 * would (`messageData,exceptionData`, the exception being {@linkcode CANCELLED}).
 *
 * @param body The cancelled message's encoded envelope.
 * @returns The report, or `undefined` when the message is no group member (or cannot be
 *   decoded).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(cancelReport('{"v":1}'), undefined);
 * ```
 */
export function cancelReport(body: string): MemberReport | undefined {
  let message: Message;
  try {
    message = Message.decode(body);
  } catch {
    return undefined;
  }
  const membership = message.next?.member;
  if (!membership) return undefined;
  const { next: _, ...data } = message.toEnvelope();
  const { group, home, index, size, keep, queues } = membership;
  return {
    group,
    home,
    index,
    size,
    keep,
    queues,
    failure: `${JSON.stringify(data)},${JSON.stringify(CANCELLED)}`,
  };
}
