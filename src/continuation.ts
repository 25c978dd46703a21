/**
 * What a message carries about the composition it is part of (its envelope's `next`):
 * the next step of its pipeline, the group it fans out into, the group it reports to.
 * `pipeline()` and `group()` build it; `docs/lifecycle.md` ("Continuations") describes the
 * model. A pipeline's later steps, messages and groups, are stored once, in its plan
 * (`PlanStart`): a step refers to the next by position (`plan`), and a group's members to
 * the step after the group (`fanIn`), so the bytes of a pipeline grow linearly with its
 * messages. A member pipeline's later steps are stored in the plan too, each step referring
 * to the next of its member (`plan` with `member`).
 *
 * @module
 */
import * as v from "valibot";
import { MAX_PRIORITY, MIN_PRIORITY, NAME_PATTERN } from "./_util.ts";

/** A message not enqueued yet: a later step, a group member, a callback. */
export interface PendingMessage {
  /** The message id, fixed when the composition was built. */
  id: string;
  /** Its queue. */
  queue: string;
  /** Its actor's name. */
  actor: string;
  /** Its arguments; a pipeline appends the previous result unless `pipeIgnore`. */
  args: unknown[];
  /** Actor options set for this message. */
  options: Record<string, unknown>;
  /** Its priority. */
  priority: number;
  /** Ready this many milliseconds after it is enqueued. */
  delay?: number;
  /** Ready no earlier than this time, in milliseconds since the epoch. */
  eta?: number;
  /** What comes after it. */
  next?: Continuation;
}

/** A group a step fans out into. */
export interface PendingGroup {
  /** The group id. */
  id: string;
  /** The queue whose hash tag holds the group's state. */
  home: string;
  /** The first step of each member, in order; each ends with a report to this group. */
  members: PendingMessage[];
  /** The step after the group (fan-in): it receives the list of results. */
  next?: PendingMessage;
  /** Enqueued once every member succeeded. */
  onCompletion: PendingMessage[];
  /** Enqueued at the first member that fails for good, with `(messageData, exceptionData)`. */
  onFailure: PendingMessage[];
  /** How long the group's state is kept while members are pending, in milliseconds. */
  ttl: number;
}

/** The group a member belongs to; every step of a tracked group's member pipeline carries it. */
export interface Membership {
  /** The group id. */
  group: string;
  /** The queue whose hash tag holds the group's state. */
  home: string;
  /** The member's position, from 0. */
  index: number;
  /** How many members the group has. */
  size: number;
  /** Whether the group keeps results (a fan-in step receives them). */
  keep: boolean;
  /** The queues the group's completion and failure write to. */
  queues: string[];
  /** Ids of the messages after the group, whose results fail when this member does. */
  after?: string[];
  /** The plan of the steps after those: their results fail too. */
  rest?: PlanRef;
  /**
   * The step after the group, in the plan: enqueued with the list of results by the
   * member whose success completes the group; its results, and later ones, fail when this
   * member does.
   */
  fanIn?: PlanRef;
}

/**
 * A step of a pipeline's plan: the pipeline's later message steps are stored once, under
 * the pipeline's id, and a step refers to the next one by its position (`PlanStart`).
 */
export interface PlanRef {
  /** The plan id (the pipeline's first message's id). */
  id: string;
  /** The queue whose hash tag holds the plan. */
  home: string;
  /** The position of the step this reference points to (a member pipeline's: its group's). */
  at: number;
  /** A step of a group's member pipeline: the member's index, from 0. */
  member?: number;
  /** A step of a group's member pipeline: its index in the member, from 1. */
  step?: number;
  /** That step's queue (its keys are written to). */
  queue: string;
  /** Its template's bytes without the fill: the size check of the step, made before the ack. */
  bytes: number;
  /** Whether the previous result is appended to its arguments (no `pipeIgnore`). */
  fill: boolean;
  /**
   * Whether it is the last step stored in the plan (the plan is deleted once it is
   * enqueued); for a member pipeline's step, its member's last, in a plan its group ends.
   */
  last: boolean;
  /** A group step: its members' queues, and the group whose state it starts when tracked. */
  fan?: PlanFanRef;
}

/** What a reference to a group step in a plan names besides the plan (see {@linkcode PlanRef}). */
export interface PlanFanRef {
  /** The queues of the members' first messages (`queue` is the first of them). */
  queues: string[];
  /** The tracked group's id (its state is created with the members); none when untracked. */
  group?: string;
  /** The queue whose hash tag holds the group's state. */
  home?: string;
}

/** What comes after a message: at most one of `pipe`, `fan` and `plan`, and maybe `member`. */
export interface Continuation {
  /** The next step of the pipeline, a message. */
  pipe?: PendingMessage;
  /** The next step of the pipeline, a group. */
  fan?: PendingGroup;
  /** The next step of the pipeline, a message or a group stored in the pipeline's plan. */
  plan?: PlanRef;
  /** The group this message's member belongs to: reported to when no step follows. */
  member?: Membership;
}

const name = v.pipe(v.string(), v.regex(NAME_PATTERN));
const id = v.pipe(v.string(), v.minLength(1), v.maxLength(100));
/** Group ids become part of Redis keys: no braces, which would move the hash tag. */
const groupId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.:@\/-]{1,100}$/));
const millis = v.pipe(v.number(), v.integer(), v.minValue(0));
const count = v.pipe(v.number(), v.integer(), v.minValue(1));

const PendingMessageSchema: v.GenericSchema<PendingMessage> = v.object({
  id,
  queue: name,
  actor: name,
  args: v.array(v.unknown()),
  options: v.record(v.string(), v.unknown()),
  priority: v.pipe(v.number(), v.integer(), v.minValue(MIN_PRIORITY), v.maxValue(MAX_PRIORITY)),
  delay: v.optional(millis),
  eta: v.optional(millis),
  next: v.optional(v.lazy(() => ContinuationSchema)),
});

const PendingGroupSchema: v.GenericSchema<PendingGroup> = v.object({
  id: groupId,
  home: name,
  members: v.pipe(v.array(PendingMessageSchema), v.minLength(1)),
  next: v.optional(PendingMessageSchema),
  onCompletion: v.array(PendingMessageSchema),
  onFailure: v.array(PendingMessageSchema),
  ttl: count,
});

const PlanFanRefSchema: v.GenericSchema<PlanFanRef> = v.object({
  queues: v.pipe(v.array(name), v.minLength(1)),
  group: v.optional(groupId),
  home: v.optional(name),
});

const PlanRefSchema: v.GenericSchema<PlanRef> = v.object({
  id,
  home: name,
  at: millis,
  member: v.optional(millis),
  step: v.optional(count),
  queue: name,
  bytes: count,
  fill: v.boolean(),
  last: v.boolean(),
  fan: v.optional(PlanFanRefSchema),
});

const MembershipSchema: v.GenericSchema<Membership> = v.object({
  group: groupId,
  home: name,
  index: millis,
  size: count,
  keep: v.boolean(),
  queues: v.array(name),
  after: v.optional(v.array(id)),
  rest: v.optional(PlanRefSchema),
  fanIn: v.optional(PlanRefSchema),
});

/**
 * The valibot schema of {@linkcode Continuation}, checked when an envelope is decoded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as v from "valibot";
 *
 * const step = { id: "m2", queue: "default", actor: "count", args: [], options: {}, priority: 0 };
 * assert(v.is(ContinuationSchema, { pipe: step }));
 * assert(!v.is(ContinuationSchema, { pipe: { ...step, queue: "no spaces" } }));
 * ```
 */
export const ContinuationSchema: v.GenericSchema<Continuation> = v.object({
  pipe: v.optional(PendingMessageSchema),
  fan: v.optional(PendingGroupSchema),
  plan: v.optional(PlanRefSchema),
  member: v.optional(MembershipSchema),
});
