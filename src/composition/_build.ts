/**
 * Compiles pipelines and groups into what their first messages carry (`next`), the
 * pipeline's plan, and what `run()` enqueues. Private to skiff; works on plain specs so that
 * it needs neither the `Pipeline` nor the `Group` class.
 */
import { describe, isNonNegative } from "../_util.ts";
import {
  type Broker,
  type GroupStart,
  type MessageTemplate,
  planField,
  type PlanStart,
} from "../broker.ts";
import type { Message } from "../message.ts";
import { getActor } from "../registry.ts";
import type { Continuation, PendingMessage, PlanRef } from "../continuation.ts";
import { ignoresPipe, toMessage } from "./_effects.ts";
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

/** A compiled pipeline: what `run()` enqueues first, and its plan. */
export interface Compiled {
  /** The first step's messages: a message, or a group's members. */
  first: PendingMessage[];
  /** The state of the first step's group, when it is tracked. */
  group?: GroupStart;
  /** The later steps, messages and groups, stored once under the pipeline's id. */
  plan?: PlanStart;
}

/**
 * Compiles a pipeline's steps (a lone group is a pipeline of one step). Every step after
 * the first is stored in the plan: the message before a step refers to it (`plan`), and a
 * group's members to the step after the group (`fanIn`), so the bytes of a pipeline grow
 * linearly with its messages. A member pipeline's later steps are stored in the plan too,
 * each referring to the next of its member.
 *
 * @throws {TypeError} On an empty pipeline or group, a group after a group, a group inside
 *   a group, or a message used twice.
 * @throws {RangeError} On a tracked group, or a group after the first step, of more than
 *   1000 members.
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
  const finish = (compiled: Compiled): Compiled => {
    if (plan.steps.length === 0) return compiled;
    plan.steps.reverse();
    plan.results.sort((a, b) =>
      a[0] - b[0] || (a[2] ?? -1) - (b[2] ?? -1) || (a[3] ?? 0) - (b[3] ?? 0)
    );
    return { ...compiled, plan };
  };
  // A member pipeline: its later steps go in the plan (`<at>:<index>:<step>`), each step
  // referring to the next; the last one reports to the group (`member`).
  const chain = (
    steps: readonly Message[],
    member: Continuation,
    at: number,
    index: number,
    ends: boolean,
  ): PendingMessage => {
    let after: Continuation = member;
    for (let s = steps.length - 1; s >= 0; s--) {
      seen(steps[s]);
      const pending = toPending(steps[s], after);
      if (mayStore(pending)) plan.results.push([at, pending.id, index, s]);
      if (s === 0) return pending;
      const template = makeTemplate(pending, !ignoresPipe(pending));
      plan.steps.push([planField(at, { index, step: s }), template]);
      after = {
        plan: {
          id: plan.id,
          home: plan.home,
          at,
          member: index,
          step: s,
          queue: pending.queue,
          bytes: templateBytes(template),
          fill: template.fill,
          last: ends && s === steps.length - 1,
        },
        ...member,
      };
    }
    throw new TypeError("Cannot build group: a member has no steps");
  };
  const fanOf = (group: GroupSpec, fanIn: PlanRef | undefined, at: number) => {
    if (group.members.length === 0) throw new TypeError("Cannot build group: it has no members");
    const memberSteps = group.members.map((member) => {
      const steps = "steps" in member ? member.steps : [member];
      if (steps.some((step) => "members" in step)) {
        throw new TypeError("Cannot build group: a pipeline inside a group cannot hold a group");
      }
      return steps as readonly Message[];
    });
    const onCompletion = group.completionCallbacks.map((m) =>
      makeTemplate(toPending(m, {}), false)
    );
    const onFailure = group.failureCallbacks.map((m) => makeTemplate(toPending(m, {}), true));
    const tracked = fanIn !== undefined || onCompletion.length > 0 || onFailure.length > 0;
    const size = group.members.length;
    if ((tracked || at > 0) && size > MAX_TRACKED_GROUP) {
      throw new RangeError(
        `Cannot build group: a group with callbacks, a next step or a step before it has at most ${MAX_TRACKED_GROUP} members, received ${size}`,
      );
    }
    if (memberSteps.some((steps) => steps.length === 0)) {
      throw new TypeError("Cannot build group: a member has no steps");
    }
    const home = memberSteps[0][0].queue;
    const templates = [...onCompletion, ...onFailure];
    const queues = unique([...(fanIn ? [fanIn.queue] : []), ...templates.map((t) => t.queue)]);
    // A group that ends the plan: its members' last stored steps delete it (`open`).
    const ends = fanIn === undefined;
    const open = memberSteps.filter((messages) => messages.length > 1).length;
    if (ends && open > 0) plan.open = open;
    const members = memberSteps.map((messages, index) =>
      chain(
        messages,
        tracked
          ? {
            member: {
              group: group.id,
              home,
              index,
              size,
              keep: fanIn?.fill ?? false,
              queues,
              ...(fanIn ? { fanIn } : {}),
            },
          }
          : {},
        at,
        index,
        ends,
      )
    );
    const state: GroupStart | undefined = tracked
      ? { id: group.id, home, size, onCompletion, onFailure, ttl: group.ttl }
      : undefined;
    return { members, state };
  };
  // From the last step back: `ref` refers to the step after the current one.
  let ref: PlanRef | undefined;
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    const last = i === steps.length - 1;
    if ("group" in step) {
      if (!last && "group" in steps[i + 1]) {
        throw new TypeError(
          "Cannot build pipeline: a group must be followed by a message, not by another group",
        );
      }
      const { members, state } = fanOf(step.group, ref, i);
      if (i === 0) return finish(state ? { first: members, group: state } : { first: members });
      const templates = members.map((member) => makeTemplate(member, !ignoresPipe(member)));
      plan.steps.push([i, state ? { members: templates, group: state } : { members: templates }]);
      ref = {
        id: plan.id,
        home: plan.home,
        at: i,
        queue: templates[0].queue,
        bytes: Math.max(...templates.map(templateBytes)),
        fill: templates.some((t) => t.fill),
        last: last && plan.open === undefined,
        fan: {
          queues: unique(templates.map((t) => t.queue)),
          ...(state ? { group: state.id, home: state.home } : {}),
        },
      };
      continue;
    }
    seen(step);
    const pending = toPending(step, ref ? { plan: ref } : {});
    if (mayStore(pending)) plan.results.push([i, pending.id]);
    if (i === 0) return finish({ first: [pending] });
    const template = makeTemplate(pending, !ignoresPipe(pending));
    plan.steps.push([i, template]);
    ref = {
      id: plan.id,
      home: plan.home,
      at: i,
      queue: pending.queue,
      bytes: templateBytes(template),
      fill: template.fill,
      last,
    };
  }
  throw new TypeError("Cannot build pipeline: it has no steps");
}

/** What `run()` enqueues for a compiled pipeline, with an optional delay on its first step. */
export function launch(compiled: Compiled, delay?: number): Launch {
  const { first, group, plan } = compiled;
  return {
    messages: first.map((pending) =>
      toMessage(delay === undefined ? pending : { ...pending, delay, eta: undefined })
    ),
    groups: group ? [group] : [],
    plans: plan ? [plan] : [],
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

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
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
