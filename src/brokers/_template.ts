/**
 * Message templates: envelopes with gaps that a broker fills when a group completes or
 * fails, inside its transition (the Lua script for `UpstashBroker`). Private to skiff.
 *
 * A filled body is `head [sep fill] middle <now> [,"eta":<due>] }`, so the broker never
 * parses or re-encodes user data: it only joins strings. `enqueuedAt` comes last.
 */
import type { EncodedMessage, MessageTemplate } from "../broker.ts";
import { ENVELOPE_VERSION } from "../message.ts";
import type { PendingMessage } from "../continuation.ts";

/**
 * How long a group's state is kept once complete, in milliseconds: its set of members
 * still turns away a late duplicate report, then it expires.
 */
export const COMPLETED_GROUP_TTL = 600_000;

/**
 * Makes the template of a pending message.
 *
 * @param fill Whether the fill is appended to its arguments.
 * @throws {TypeError} When its arguments or options are not JSON-serializable.
 */
export function makeTemplate(pending: PendingMessage, fill: boolean): MessageTemplate {
  const { id, queue, actor, args, options, priority } = pending;
  try {
    const head = JSON.stringify({ v: ENVELOPE_VERSION, id, queue, actor }).slice(0, -1) +
      `,"args":${JSON.stringify(args).slice(0, -1)}`;
    let middle = `],"options":${JSON.stringify(options)},"priority":${priority},"retries":0`;
    if (pending.next) middle += `,"next":${JSON.stringify(pending.next)}`;
    middle += `,"enqueuedAt":`;
    return {
      id,
      queue,
      priority,
      delay: pending.delay ?? 0,
      eta: pending.eta ?? 0,
      fill,
      head,
      sep: args.length > 0 ? "," : "",
      middle,
    };
  } catch {
    throw new TypeError(
      `Cannot build message ${id}: its arguments or options are not JSON-serializable`,
    );
  }
}

/** Fills a template at `now` (whole milliseconds): what the Lua script does too. */
export function fillTemplate(template: MessageTemplate, fill: string, now: number): EncodedMessage {
  const due = Math.max(now + template.delay, template.eta);
  let body = template.head + (template.fill && fill !== "" ? template.sep + fill : "") +
    template.middle + now;
  if (template.delay > 0 || template.eta > 0) body += `,"eta":${due}`;
  return {
    id: template.id,
    queue: template.queue,
    priority: template.priority,
    readyAt: Math.max(now, due),
    body: body + "}",
  };
}
