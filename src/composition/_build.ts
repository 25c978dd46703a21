/**
 * Compiles pipelines and groups into what their first messages carry (`next`), the
 * pipeline's plan, and what `run()` enqueues. Private to skiff; works on plain specs so that it needs neither the
 * `Pipeline` nor the `Group` class.
 */
import { describe, isNonNegative } from "../_util.ts";
import type { Broker, GroupStart, MessageTemplate, PlanStart } from "../broker.ts";
import type { Message } from "../message.ts";
import { getActor } from "../registry.ts";
import type { Continuation, PendingGroup, PendingMessage, PlanRef } from "../continuation.ts";
import { groupStart, ignoresPipe, isTracked, toMessage } from "./_effects.ts";
import { makeTemplate } from "../brokers/_template.ts";

/** How long a tracked group's state is kept while members are pending: 30 days. */
export const DEFAULT_GROUP_TTL = 30 * 86_400_000;

/** The most members a tracked group may have. */
export const MAX_TRACKED_GROUP = 1000;

/** A group, as `_build` sees it (the `Group` class fits). */
export interface GroupSpec {
  /** The group id. */
  readonly id: string;
  /** Messages, and pipelines (their `steps`). */
  readonly members: readonly (Message | { readonly steps: readonly object[] })[];
  /** Completion callbacks. */
  readonly completionCallbacks: readonly Message[];
  /** Failure callbacks. */
  readonly failureCallbacks: readonly Message[];
  /** The state's time to live while pending, in milliseconds. */
  readonly ttl: number;
}

/** A step of a pipeline: a message or a group. */
export type StepSpec = Message | { group: GroupSpec };

/** What `run()` enqueues: the first messages, the groups and the plan they start. */
export interface Launch {
  /** The messages to enqueue now. */
  messages: Message[];
  /** The tracked groups among the first steps. */
  groups: GroupStart[];
  /** The pipeline's plan, when a step refers to a later one through it. */
  plans: PlanStart[];
}

/** A compiled pipeline: what its first step carries, and its plan. */
export interface Compiled {
  /** The first step: a message (`pipe`) or a group (`fan`). */
  start: Continuation;
  /** The later message steps that follow a message, stored once under the pipeline's id. */
  plan?: PlanStart;
}

/**
 * Compiles a pipeline's steps (a lone group is a pipeline of one step). A message step that
 * follows a message is stored in the plan and the step before it refers to it (`plan`), so
 * the bytes of a pipeline of messages grow linearly with its steps; a group step, and the
 * message after it, travel inline (`fan`), as do the steps of a member pipeline.
 *
 * @throws {TypeError} On an empty pipeline or group, a group after a group, a group inside
 *   a group, or a message used twice.
 * @throws {RangeError} On a tracked group of more than 1000 members.
 */
export function compile(steps: readonly StepSpec[]): Compiled {
  if (steps.length === 0) throw new TypeError("Cannot build pipeline: it has no steps");
  const ids = new Set<string>();
  const seen = (message: Message): void => {
    if (ids.has(message.id)) {
      throw new TypeError(
        `Cannot build pipeline: message ${message.id} appears twice; build a message per step`,
      );
    }
    ids.add(message.id);
  };
  const first = steps[0];
  const plan: PlanStart = {
    id: "group" in first ? first.group.id : first.id,
    home: "group" in first ? groupHome(first.group) : first.queue,
    steps: [],
    results: [],
    ttl: DEFAULT_GROUP_TTL,
  };
  // A member pipeline: each step carries the rest of the member (members are short).
  const chain = (steps: readonly Message[], member: PendingMessage["next"]): Continuation => {
    let after: Continuation = member ?? {};
    for (let i = steps.length - 1; i >= 0; i--) {
      seen(steps[i]);
      after = { pipe: toPending(steps[i], after), ...member };
    }
    return after;
  };
  const fanOf = (group: GroupSpec, next: PendingMessage | undefined, at: number): PendingGroup => {
    if (group.members.length === 0) throw new TypeError("Cannot build group: it has no members");
    const memberSteps = group.members.map((member) => {
      const steps = "steps" in member ? member.steps : [member];
      if (steps.some((step) => "members" in step)) {
        throw new TypeError("Cannot build group: a pipeline inside a group cannot hold a group");
      }
      return steps as readonly Message[];
    });
    const onCompletion = group.completionCallbacks.map((m) => toPending(m, {}));
    const onFailure = group.failureCallbacks.map((m) => toPending(m, {}));
    const tracked = next !== undefined || onCompletion.length > 0 || onFailure.length > 0;
    const size = group.members.length;
    if (tracked && size > MAX_TRACKED_GROUP) {
      throw new RangeError(
        `Cannot build group: a group with callbacks or a next step has at most ${MAX_TRACKED_GROUP} members, received ${size}`,
      );
    }
    if (memberSteps.some((steps) => steps.length === 0)) {
      throw new TypeError("Cannot build group: a member has no steps");
    }
    const home = memberSteps[0][0].queue;
    const templates = [...(next ? [next] : []), ...onCompletion, ...onFailure];
    const queues = [...new Set(templates.map((t) => t.queue))];
    const later = next ? continuationMessages({ pipe: next }) : { found: [] };
    for (const messages of memberSteps) {
      for (const message of messages) if (mayStore(message)) plan.results.push([at, message.id]);
    }
    const members = memberSteps.map((messages, index) => {
      const member = tracked
        ? {
          member: {
            group: group.id,
            home,
            index,
            size,
            keep: next !== undefined && !ignoresPipe(next),
            queues,
            after: later.found.filter(mayStore).map((m) => m.id),
            ...(later.rest ? { rest: later.rest } : {}),
          },
        }
        : undefined;
      return chain(messages, member).pipe!;
    });
    return { id: group.id, home, members, next, onCompletion, onFailure, ttl: group.ttl };
  };
  // From the last step back: `after` is what the step before carries.
  let after: Continuation = {};
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    if ("group" in step) {
      if (after.fan) {
        throw new TypeError(
          "Cannot build pipeline: a group must be followed by a message, not by another group",
        );
      }
      after = { fan: fanOf(step.group, after.pipe, i) };
      continue;
    }
    seen(step);
    const pending = toPending(step, after);
    if (mayStore(pending)) plan.results.push([i, pending.id]);
    const before = steps[i - 1];
    if (before === undefined || "group" in before) {
      after = { pipe: pending };
      continue;
    }
    const template = makeTemplate(pending, !ignoresPipe(pending));
    after = {
      plan: {
        id: plan.id,
        home: plan.home,
        at: i,
        queue: pending.queue,
        bytes: templateBytes(template),
        fill: template.fill,
        last: plan.steps.length === 0,
      },
    };
    plan.steps.push([i, template]);
  }
  plan.steps.reverse();
  plan.results.sort((a, b) => a[0] - b[0]);
  return plan.steps.length > 0 ? { start: after, plan } : { start: after };
}

/** What `run()` enqueues for a compiled pipeline, with an optional delay on its first step. */
export function launch(compiled: Compiled, delay?: number): Launch {
  const { start, plan } = compiled;
  const plans = plan ? [plan] : [];
  const first = (pending: PendingMessage) =>
    toMessage(delay === undefined ? pending : { ...pending, delay, eta: undefined });
  if (start.pipe) return { messages: [first(start.pipe)], groups: [], plans };
  const fan = start.fan!;
  return {
    messages: fan.members.map(first),
    groups: isTracked(fan) ? [groupStart(fan)] : [],
    plans,
  };
}

/**
 * The broker to run a composition on: the given one, else the first message's actor's.
 *
 * @throws {TypeError} When the first message's actor is not declared here.
 */
export function brokerFor(first: Message, broker: Broker | undefined, what: string): Broker {
  if (broker) return broker;
  const actor = getActor(first.actor);
  if (!actor) {
    throw new TypeError(`Cannot run ${what}: no actor named '${first.actor}' is declared here`);
  }
  return actor.broker;
}

function toPending(message: Message, after: Continuation): PendingMessage {
  const pending: PendingMessage = {
    id: message.id,
    queue: message.queue,
    actor: message.actor,
    args: message.args,
    options: { ...message.options },
    priority: message.priority,
  };
  if (message.delay !== undefined) pending.delay = message.delay;
  if (message.eta !== undefined) pending.eta = message.eta;
  if (after.pipe || after.fan || after.plan || after.member) pending.next = after;
  return pending;
}

/** Whether a message may store results: neither it nor its actor turned them off. */
function mayStore(pending: PendingMessage): boolean {
  const own = pending.options.storeResults as boolean | undefined;
  return (own ?? getActor(pending.actor)?.options.storeResults) !== false;
}

/**
 * Checks a `run()` delay.
 *
 * @throws {RangeError} When it is not a non-negative number.
 */
export function checkDelay(delay: number | undefined, what: string): number | undefined {
  if (delay !== undefined && !isNonNegative(delay)) {
    throw new RangeError(
      `Cannot run ${what}: 'delay' must be a non-negative number of milliseconds, received ${
        describe(delay)
      }`,
    );
  }
  return delay === undefined ? undefined : Math.ceil(delay);
}

/**
 * Every message in a continuation (later steps, members, fan-in steps), in order, up to the
 * plan the last of them refers to (`rest`).
 */
function continuationMessages(
  next: Continuation | undefined,
): { found: PendingMessage[]; rest?: PlanRef } {
  const found: PendingMessage[] = [];
  let rest: PlanRef | undefined;
  const walk = (cont: Continuation | undefined): void => {
    if (cont?.pipe) {
      found.push(cont.pipe);
      walk(cont.pipe.next);
    }
    if (cont?.fan) {
      for (const member of cont.fan.members) walk({ pipe: member });
      if (cont.fan.next) walk({ pipe: cont.fan.next });
    }
    if (cont?.plan) rest = cont.plan;
  };
  walk(next);
  return rest ? { found, rest } : { found };
}

/** The first member's queue: where a group's state lives. */
function groupHome(group: GroupSpec): string {
  const first = group.members[0];
  const message = first && ("steps" in first ? first.steps[0] : first);
  return (message as Message | undefined)?.queue ?? "default";
}

/**
 * The bytes of a template's envelope without its fill: `enqueuedAt` at 13 digits, an
 * `eta` field, and the closing brace counted in.
 */
function templateBytes(template: MessageTemplate): number {
  const encoder = new TextEncoder();
  const text = template.head + template.sep + template.middle;
  return encoder.encode(text).byteLength + 13 + `,"eta":`.length + 13 + 1;
}
