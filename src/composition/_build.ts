/**
 * Compiles pipelines and groups into what their first messages carry (`next`), and what
 * `run()` enqueues. Private to skiff; works on plain specs so that it needs neither the
 * `Pipeline` nor the `Group` class.
 */
import { describe, isNonNegative } from "../_util.ts";
import type { Broker, GroupStart } from "../broker.ts";
import type { Message } from "../message.ts";
import { getActor } from "../registry.ts";
import type { Continuation, PendingGroup, PendingMessage } from "../continuation.ts";
import { groupStart, ignoresPipe, isTracked, toMessage } from "./_effects.ts";

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

/** What `run()` enqueues: the first messages, and the groups whose state to create. */
export interface Launch {
  /** The messages to enqueue now. */
  messages: Message[];
  /** The tracked groups among the first steps. */
  groups: GroupStart[];
}

/**
 * Compiles a pipeline's steps (a lone group is a pipeline of one step).
 *
 * @throws {TypeError} On an empty pipeline or group, a group after a group, a group inside
 *   a group, or a message used twice.
 * @throws {RangeError} On a tracked group of more than 1000 members.
 */
export function compile(steps: readonly StepSpec[]): Continuation {
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
  const chain = (steps: readonly StepSpec[], member?: PendingMessage["next"]): Continuation => {
    let after: Continuation = member ?? {};
    for (let i = steps.length - 1; i >= 0; i--) {
      const step = steps[i];
      if ("group" in step) {
        if (member) {
          throw new TypeError("Cannot build group: a pipeline inside a group cannot hold a group");
        }
        if (after.fan) {
          throw new TypeError(
            "Cannot build pipeline: a group must be followed by a message, not by another group",
          );
        }
        after = { fan: fanOf(step.group, after.pipe) };
        continue;
      }
      seen(step);
      const pending = toPending(step, after);
      after = member ? { pipe: pending, ...member } : { pipe: pending };
    }
    return after;
  };
  const fanOf = (group: GroupSpec, next: PendingMessage | undefined): PendingGroup => {
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
    const after = next ? [next, ...continuationMessages(next.next)] : [];
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
            after: after.filter(mayStore).map((m) => m.id),
          },
        }
        : undefined;
      return chain(messages, member).pipe!;
    });
    return { id: group.id, home, members, next, onCompletion, onFailure, ttl: group.ttl };
  };
  return chain(steps);
}

/** What `run()` enqueues for a compiled pipeline, with an optional delay on its first step. */
export function launch(start: Continuation, delay?: number): Launch {
  const first = (pending: PendingMessage) =>
    toMessage(delay === undefined ? pending : { ...pending, delay, eta: undefined });
  if (start.pipe) return { messages: [first(start.pipe)], groups: [] };
  const fan = start.fan!;
  return {
    messages: fan.members.map(first),
    groups: isTracked(fan) ? [groupStart(fan)] : [],
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
  if (after.pipe || after.fan || after.member) pending.next = after;
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

/** Every message in a continuation (later steps, members, fan-in steps), in order. */
function continuationMessages(next: Continuation | undefined): PendingMessage[] {
  const found: PendingMessage[] = [];
  const walk = (cont: Continuation | undefined): void => {
    if (cont?.pipe) {
      found.push(cont.pipe);
      walk(cont.pipe.next);
    }
    if (cont?.fan) {
      for (const member of cont.fan.members) walk({ pipe: member });
      if (cont.fan.next) walk({ pipe: cont.fan.next });
    }
  };
  walk(next);
  return found;
}
