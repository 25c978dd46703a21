/** How `UpstashBroker` hands a transition's effects to the SETTLE script; private to skiff. */
import type {
  EncodedMessage,
  EnqueuedMessage,
  GroupStart,
  Lease,
  MessageTemplate,
  PlanFan,
  SettleOutcome,
} from "../../broker.ts";
import { planField } from "../../broker.ts";
import type { ScriptArg } from "../../redis/script.ts";
import { readyScore } from "../_score.ts";
import { callKeys, delayedScore, groupKey, planKey, queueKeys } from "./_keys.ts";
import { fromJson } from "./_codec.ts";

/** Whether an outcome has effects to write (else ACK or NACK does the job for less). */
export function hasEffects(outcome: SettleOutcome): boolean {
  const { messages = [], groups = [], member, plan } = outcome.effects ?? {};
  return messages.length > 0 || groups.length > 0 || member !== undefined ||
    (plan !== undefined && outcome.kind === "ack");
}

/** The score and set of a message to write: `r` ready or `d` delayed. */
export function placement(record: EncodedMessage, now: number): ["r" | "d", number] {
  return record.readyAt > now
    ? ["d", delayedScore(record.priority, record.readyAt)]
    : ["r", readyScore(record.priority, record.readyAt)];
}

/** A template as the script reads it: a JSON array, numbers as strings. */
export function templateJson(templates: readonly MessageTemplate[]): string {
  return JSON.stringify(templates.map((t) => [
    t.queue,
    t.id,
    String(t.priority),
    String(t.delay),
    String(t.eta),
    t.fill ? 1 : 0,
    t.head,
    t.sep,
    t.middle,
  ]));
}

/**
 * A step of a plan as the script reads it: a message's template (a list of one), or a
 * group step, `{"n": size, "t": ttl, "d": doneJson, "f": failJson, "m": [member...]}`
 * (`n`, `t`, `d` and `f` only when the group is tracked).
 */
export function planEntryJson(entry: MessageTemplate | PlanFan): string {
  if (!("members" in entry)) return templateJson([entry]);
  const members = templateJson(entry.members);
  if (!entry.group) return `{"m":${members}}`;
  const { size, ttl, onCompletion, onFailure } = entry.group;
  const state = JSON.stringify({
    n: String(size),
    t: String(ttl),
    d: templateJson(onCompletion),
    f: templateJson(onFailure),
  });
  return `${state.slice(0, -1)},"m":${members}}`;
}

/** Options of {@linkcode settleRequest}. */
export interface SettleRequestOptions {
  /** The key prefix. */
  namespace: string;
  /** The broker's clock, whole milliseconds. */
  now: number;
  /** How long dead letters are kept (also a failed group's state). */
  deadLetterTtl: number;
  /** How long a completed group's state is kept. */
  completedTtl: number;
  /** With `keyParallelism`: the queue's flow and parked keys (`flowKeys()`), passed last. */
  flow?: readonly string[];
  /** The counter of the minute to add the message to (the broker option `throughput`). */
  counter?: string;
}

/** The KEYS and ARGV of one SETTLE call (with a fresh call record: reuse them for its retries). */
export function settleRequest(
  queue: string,
  lease: Lease,
  outcome: SettleOutcome,
  options: SettleRequestOptions,
): { keys: string[]; args: ScriptArg[] } {
  const { namespace, now, deadLetterTtl, completedTtl } = options;
  const { messages = [], groups = [], member } = outcome.effects ?? {};
  const plan = outcome.kind === "ack" ? outcome.effects?.plan : undefined;
  const queues = [queue];
  const writes = [...messages.map((m) => m.queue), ...(member?.queues ?? [])];
  if (plan) writes.push(...plan.fan?.queues ?? [plan.queue]);
  for (const name of writes) {
    if (!queues.includes(name)) queues.push(name);
  }
  const keys = callKeys(namespace, queue);
  for (const name of queues.slice(1)) keys.push(...queueKeys(namespace, name).slice(0, 3));
  const state = (key: string): string => {
    keys.push(key);
    return String(keys.length - 6 - 3 * (queues.length - 1));
  };
  const effects: Record<string, unknown> = { q: queues };
  if (messages.length > 0) {
    effects.w = messages.map((record) => {
      const [set, score] = placement(record, now);
      return [record.queue, record.id, set, String(score), record.body];
    });
  }
  if (groups.length > 0) {
    effects.g = groups.map((group: GroupStart) => [
      state(groupKey(namespace, group.home, group.id)),
      String(group.size),
      templateJson(group.onCompletion),
      templateJson(group.onFailure),
      String(group.ttl),
    ]);
  }
  if (member) {
    const report: Record<string, unknown> = {
      s: state(groupKey(namespace, member.home, member.group)),
      i: String(member.index),
      n: String(member.size),
      k: member.keep ? 1 : 0,
    };
    if (member.result !== undefined) report.r = member.result;
    if (member.failure !== undefined) report.f = member.failure;
    effects.m = report;
  }
  if (plan) {
    const step: Record<string, unknown> = {
      s: state(planKey(namespace, plan.home, plan.id)),
      a: planField(plan.at, plan.member),
      f: plan.fill,
      l: plan.last && !plan.member ? 1 : 0,
    };
    if (plan.last && plan.member) step.o = 1;
    if (plan.fan) step.m = 1;
    if (plan.fan?.group) {
      step.g = state(groupKey(namespace, plan.fan.group.home, plan.fan.group.id));
    }
    if (plan.fanIn) step.c = 1;
    effects.p = step;
  }
  if (options.counter !== undefined) effects.c = state(options.counter);
  if (options.flow) {
    effects.k = 1;
    keys.push(...options.flow);
  }
  const kind = outcome.kind === "ack" ? "a" : outcome.kind === "retry" ? "r" : "d";
  const args: ScriptArg[] = [
    lease.id,
    lease.token,
    kind,
    outcome.kind === "retry" ? Math.ceil(outcome.at) : now,
    outcome.kind === "dead" ? outcome.reason : "",
    now - deadLetterTtl,
    outcome.kind === "ack" ? "" : outcome.body ?? "",
    now,
    JSON.stringify(effects),
    completedTtl,
    deadLetterTtl,
  ];
  return { keys, args };
}

/** What SETTLE answered: `[1, [[queue, id, "r"|"d"]...], lost, planLost]` or `[0]`. */
export function toSettled(
  answer: unknown,
): { done: boolean; enqueued: EnqueuedMessage[]; lost: boolean; planLost: boolean } {
  const [done, written, lost, planLost] = fromJson(answer);
  const enqueued = fromJson(written).map((row) => {
    const [queue, id, set] = row as string[];
    return { id: String(id), queue: String(queue), delayed: set === "d" };
  });
  return {
    done: Number(done) === 1,
    enqueued,
    lost: Number(lost) === 1,
    planLost: Number(planLost) === 1,
  };
}
