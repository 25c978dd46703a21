/**
 * What a processed message's transition writes besides itself: the next step of its
 * pipeline (built here, or read from its plan by the broker), the group it fans out into, its
 * report to its group, its callbacks. Private to skiff; provided to `processMessage` when this
 * module loads (the core owns the contract, `EffectsBuilder`), which hands the effects to
 * `broker.settle()`.
 */
import { errorName } from "../_util.ts";
import type {
  Broker,
  Effects,
  GroupStart,
  MemberReport,
  NackOutcome,
  PlanStep,
} from "../broker.ts";
import { MessageTooLarge } from "../errors.ts";
import { Message } from "../message.ts";
import { provideEffects } from "../process.ts";
import { getActor } from "../registry.ts";
import { toFailureData } from "../results/_failure.ts";
import type { Membership, PendingGroup, PendingMessage, PlanRef } from "../continuation.ts";
import { makeTemplate } from "../brokers/_template.ts";

/** Whether a pending message ignores the previous result: its option, else its actor's. */
export function ignoresPipe(pending: Pick<PendingMessage, "actor" | "options">): boolean {
  const own = pending.options.pipeIgnore as boolean | undefined;
  return own ?? getActor(pending.actor)?.options.pipeIgnore ?? false;
}

/** The message a pending one becomes, with `value` appended unless it ignores it. */
export function toMessage(pending: PendingMessage, value?: { value: unknown }): Message {
  const args = value && !ignoresPipe(pending) ? [...pending.args, value.value] : pending.args;
  return new Message({
    id: pending.id,
    queue: pending.queue,
    actor: pending.actor,
    args,
    options: pending.options,
    priority: pending.priority,
    delay: pending.delay,
    eta: pending.eta,
    next: pending.next,
  });
}

/** Whether a group needs its completion tracked: a fan-in step or callbacks. */
export function isTracked(fan: PendingGroup): boolean {
  return fan.next !== undefined || fan.onCompletion.length > 0 || fan.onFailure.length > 0;
}

/** The state a tracked group starts with. */
export function groupStart(fan: PendingGroup): GroupStart {
  const onCompletion = fan.onCompletion.map((pending) => makeTemplate(pending, false));
  if (fan.next) onCompletion.unshift(makeTemplate(fan.next, !ignoresPipe(fan.next)));
  return {
    id: fan.id,
    home: fan.home,
    size: fan.members.length,
    onCompletion,
    onFailure: fan.onFailure.map((pending) => makeTemplate(pending, true)),
    ttl: fan.ttl,
  };
}

/**
 * The effects of a success (or of a skip, with `null` and no callbacks).
 *
 * @throws {TypeError} When the result is not JSON-serializable and something needs it.
 * @throws {MessageTooLarge} When the next step, with the result appended, is too large.
 */
export function successEffects(
  broker: Broker,
  message: Message,
  result: unknown,
  callbacks: boolean,
): Effects | undefined {
  const value = result === undefined ? null : result;
  const next = message.next;
  // Checked first, so that the error names this message, not the next one.
  const json = next ? toJson(message, value) : "null";
  const steps: Message[] = [];
  const groups: GroupStart[] = [];
  let member: MemberReport | undefined;
  let plan: PlanStep | undefined;
  if (next?.plan) {
    plan = planStep(broker, next.plan, json);
  } else if (next?.pipe) {
    steps.push(toMessage(next.pipe, { value }));
  } else if (next?.fan) {
    steps.push(...next.fan.members.map((pending) => toMessage(pending, { value })));
    if (isTracked(next.fan)) groups.push(groupStart(next.fan));
  } else if (next?.member) {
    member = report(next.member, { result: next.member.keep ? json : "null" });
    if (next.member.fanIn) plan = { ...planStep(broker, next.member.fanIn, ""), fanIn: true };
  }
  const extra = callbacks ? callback(broker, message, "onSuccess", [dataOf(message), value]) : [];
  return pack(broker, steps, extra, groups, member, plan);
}

/**
 * The next step read from the plan (a message, or a group's members), checked for size as
 * a send is (its largest template's bytes and the result). A fan-in is checked without the
 * results, which only its group's last report knows.
 *
 * @throws {MessageTooLarge} When the step, with the result appended, is too large.
 */
function planStep(broker: Broker, ref: PlanRef, json: string): PlanStep {
  const fill = ref.fill ? json : "";
  const size = ref.bytes + new TextEncoder().encode(fill).byteLength + 1;
  if (size > broker.maxMessageBytes) throw new MessageTooLarge(size, broker.maxMessageBytes);
  const { id, home, at, queue, last, fan, member, step: index } = ref;
  const step: PlanStep = { id, home, at, queue, last, fill };
  if (member !== undefined && index !== undefined) step.member = { index: member, step: index };
  if (fan) {
    const { queues, group, home: state } = fan;
    step.fan = group && state ? { queues, group: { id: group, home: state } } : { queues };
  }
  return step;
}

/** The effects of a failure: the `onFailure` callback, and a dead member's report. */
export function failureEffects(
  broker: Broker,
  message: Message,
  outcome: NackOutcome,
  error: unknown,
): Effects | undefined {
  const data = dataOf(message);
  const { type, message: text } = toFailureData(error);
  const exception = { type, message: text };
  const membership = message.next?.member;
  const member = outcome.kind === "dead" && membership
    ? report(membership, { failure: `${JSON.stringify(data)},${JSON.stringify(exception)}` })
    : undefined;
  const extra = callback(broker, message, "onFailure", [data, exception]);
  return pack(broker, [], extra, [], member);
}

function report(membership: Membership, part: Partial<MemberReport>): MemberReport {
  const { group, home, index, size, keep, queues } = membership;
  return { group, home, index, size, keep, queues, ...part };
}

/** Dramatiq's `message_data`: the envelope, without what follows it in a composition. */
function dataOf(message: Message): Record<string, unknown> {
  const { next: _, ...data } = message.toEnvelope();
  return data;
}

function toJson(message: Message, value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    throw new TypeError(
      `Cannot continue message ${message.id}: the result is not JSON-serializable`,
    );
  }
}

/** The callback message an option names, or none (logged) when it cannot be built. */
function callback(
  broker: Broker,
  message: Message,
  option: "onSuccess" | "onFailure",
  args: unknown[],
): Message[] {
  const name = (message.options[option] ?? getActor(message.actor)?.options[option]) as
    | string
    | undefined;
  if (name === undefined) return [];
  const what = `Cannot send the ${option} callback of message ${message.id}`;
  const target = getActor(name);
  if (!target) {
    broker.logger.error(`${what}: no actor named '${name}' is declared`, {
      id: message.id,
      actor: message.actor,
    });
    return [];
  }
  try {
    return [target.messageWithOptions({ args } as never)];
  } catch (error) {
    broker.logger.error(`${what}: ${errorName(error)}`, {
      id: message.id,
      actor: message.actor,
      error,
    });
    return [];
  }
}

/** Encodes the effects; a callback that cannot be encoded is dropped (logged), a step not. */
function pack(
  broker: Broker,
  steps: Message[],
  callbacks: Message[],
  groups: GroupStart[],
  member: MemberReport | undefined,
  plan?: PlanStep,
): Effects | undefined {
  const records = broker.encodeMessages(steps).records;
  for (const message of callbacks) {
    try {
      records.push(...broker.encodeMessages([message]).records);
    } catch (error) {
      broker.logger.error(
        `Cannot send callback message ${message.id} of actor '${message.actor}': ${
          errorName(error)
        }`,
        { id: message.id, actor: message.actor, error },
      );
    }
  }
  if (records.length === 0 && groups.length === 0 && !member && !plan) return undefined;
  const effects: Effects = {};
  if (records.length > 0) effects.messages = records;
  if (groups.length > 0) effects.groups = groups;
  if (member) effects.member = member;
  if (plan) effects.plan = plan;
  return effects;
}

provideEffects({ success: successEffects, failure: failureEffects });
