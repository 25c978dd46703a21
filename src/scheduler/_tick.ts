/**
 * One scheduler tick: plan each schedule's due slots, check overlaps, compare-and-set the
 * records (one store request per round), then send what was won and give back what could
 * not be sent. A store call whose answer never came (every retry failed) is made again,
 * with the same call id, by the next tick before anything else: the store answers what the
 * first run did, so a slot it won is sent, not lost. Private to skiff; see
 * `docs/scheduling.md`, "Exactly once".
 *
 * @module
 */
import { newId } from "../_id.ts";
import type { Broker, Logger } from "../broker.ts";
import type { Message } from "../message.ts";
import type { Entry } from "./_declare.ts";
import { planSlots, type SlotPlan } from "./_plan.ts";
import { messageStates, unfinished } from "./_states.ts";
import type { RecordSwap, ScheduleRecord, ScheduleStore, SwapResult } from "./store.ts";
import type { SchedulerTickReport } from "./types.ts";

/** What a tick works with. */
export interface TickContext {
  /** Where the records are. */
  store: ScheduleStore;
  /** What this scheduler last saw of each record (`null`: none); updated by the tick. */
  seen: Map<string, ScheduleRecord | null>;
  /** The broker of a schedule's messages. */
  brokerFor: (entry: Entry) => Broker;
  /** Where to log a slot that could be neither sent nor given back. */
  logger: Logger;
  /** The store call of an earlier tick that failed, if any; kept across ticks. */
  unsettled: { call?: UnsettledCall };
}

/** A store call whose answer was lost: its call id, and the steps it swapped. */
export interface UnsettledCall {
  /** The call id to make it again with. */
  id: string;
  /** What it swapped, with the messages it would send. */
  steps: Step[];
}

/** One schedule's part in a round of a tick. */
export interface Step {
  entry: Entry;
  broker: Broker;
  record: ScheduleRecord | null;
  /** `undefined`: only read the record. */
  plan?: SlotPlan;
  overlapped?: boolean;
  messages: Message[];
  swap?: RecordSwap;
}

/** Records outlive their last write by at least this much. */
const MIN_TTL = 7 * 86_400_000;
/** Rounds of compare-and-set per tick: a lost race re-plans with what the winner wrote. */
const MAX_ROUNDS = 4;

/** Fires the due slots of `entries` at `at`. */
export async function fireDue(
  entries: readonly Entry[],
  at: number,
  context: TickContext,
): Promise<SchedulerTickReport> {
  const { store, seen, unsettled } = context;
  const done: Step[] = [];
  const earlier = unsettled.call;
  if (earlier) {
    // Made again with its id: what the first run wrote is answered written. Taken out
    // first, so that a tick running at the same time does not make it too.
    unsettled.call = undefined;
    let results: SwapResult[];
    try {
      results = await store.swap(earlier.steps.map((step) => step.swap!), {
        callId: earlier.id,
      });
    } catch (error) {
      unsettled.call ??= earlier;
      throw error;
    }
    results.forEach((result, i) => {
      const step = earlier.steps[i];
      if (result.written) done.push(step);
      seen.set(step.entry.name, result.written ? step.swap!.next ?? null : result.current);
    });
  }
  let pending = entries;
  let failure: { error: unknown } | undefined;
  for (let round = 0; round < MAX_ROUNDS && pending.length > 0; round++) {
    const steps = plan(pending, at, context);
    if (steps.length === 0) break;
    await checkOverlaps(steps);
    const token = crypto.randomUUID();
    for (const step of steps) step.swap = swapOf(step, at, token);
    // One id per call, made here and reused by every retry of the call, also a later tick's.
    const callId = crypto.randomUUID();
    let results: SwapResult[];
    try {
      results = await store.swap(steps.map((step) => step.swap!), { callId });
    } catch (error) {
      if (steps.some((step) => step.plan)) unsettled.call = { id: callId, steps };
      failure = { error };
      break;
    }
    const lost: Entry[] = [];
    results.forEach((result, i) => {
      const step = steps[i];
      if (result.written) {
        seen.set(step.entry.name, step.swap!.next ?? null);
        done.push(step);
      } else {
        // Lost a race, or only read: plan again with what is there now.
        seen.set(step.entry.name, result.current);
        lost.push(step.entry);
      }
    });
    pending = lost;
  }
  // What earlier rounds won is sent even when a later round failed.
  await send(done, context);
  if (failure) throw failure.error;
  const report: SchedulerTickReport = { fired: [], skipped: [] };
  for (const { entry, plan, messages, overlapped } of done) {
    plan!.fire.forEach((slot, i) => {
      if (overlapped) report.skipped.push({ schedule: entry.name, slot, reason: "overlap" });
      else report.fired.push({ schedule: entry.name, slot, id: messages[i].id });
    });
    for (const slot of plan!.missed) {
      report.skipped.push({ schedule: entry.name, slot, reason: "misfire" });
    }
  }
  return report;
}

/** What each schedule needs this round: nothing, a read, or a write. */
function plan(entries: readonly Entry[], at: number, context: TickContext): Step[] {
  const steps: Step[] = [];
  for (const entry of entries) {
    const [newest] = entry.slots.latest(at, 1);
    const known = context.seen.has(entry.name);
    const record = context.seen.get(entry.name) ?? null;
    // The common case, every second of a timer: nothing after the record, nothing to do.
    if (newest === undefined || (record && newest <= record.slot)) continue;
    const slots = entry.catchUp > 0 ? entry.slots.latest(at, entry.catchUp + 1) : [newest];
    const plan = planSlots(slots, record, at, entry);
    if (!plan) continue;
    const broker = context.brokerFor(entry);
    if (!known) {
      // Read first: records almost always exist, and a read (1 command) is cheaper than a
      // write that loses (2). A plan with nothing to fire or catch up needs no record.
      if (plan.fire.length > 0 || entry.catchUp > 0) {
        steps.push({ entry, broker, record, messages: [] });
      }
      continue;
    }
    if (entry.overlap === "skip" && plan.fire.length > 1) {
      // Slots caught up at once would overlap each other: the latest stands for them.
      plan.missed.push(...plan.fire.slice(0, -1));
      plan.missed.sort((a, b) => a - b);
      plan.fire = plan.fire.slice(-1);
    }
    steps.push({ entry, broker, record, plan, messages: [] });
  }
  return steps;
}

/** Marks the steps whose previous message is unfinished: one query per broker and queue. */
async function checkOverlaps(steps: readonly Step[]): Promise<void> {
  const groups = new Map<Broker, Map<string, Step[]>>();
  for (const step of steps) {
    if (step.entry.overlap !== "skip" || !step.plan?.fire.length || !step.record?.id) continue;
    const queues = groups.get(step.broker) ?? new Map<string, Step[]>();
    groups.set(step.broker, queues);
    const queue = step.entry.message.queue;
    queues.set(queue, [...(queues.get(queue) ?? []), step]);
  }
  const queries: Promise<void>[] = [];
  for (const [broker, queues] of groups) {
    for (const [queue, group] of queues) {
      queries.push(
        messageStates(broker, queue, group.map((s) => s.record!.id)).then((states) => {
          group.forEach((step, i) => step.overlapped = unfinished(states[i]));
        }),
      );
    }
  }
  await Promise.all(queries);
}

/** The compare-and-set of one step, and the fresh messages it fires. */
function swapOf(step: Step, at: number, token: string): RecordSwap {
  const { entry, record, plan } = step;
  const expect = record?.token ?? "";
  if (!plan) return { name: entry.name, expect, ttl: 0 };
  if (!step.overlapped) {
    step.messages = plan.fire.map(() => entry.message.copy({ id: newId() }));
  }
  const last = step.messages[step.messages.length - 1];
  const next = { slot: plan.newest, token, id: last?.id ?? record?.id ?? "" };
  // Kept until the last slot `catchUp` could still fire, and never less than a week.
  const [keep] = entry.slots.next(plan.newest, entry.catchUp + 1).slice(-1);
  const ttl = Math.max(MIN_TTL, (keep ?? at) - at + entry.grace);
  return { name: entry.name, expect, next, ttl };
}

/** Sends what was won, per broker; gives the slots of a failed send back. */
async function send(steps: readonly Step[], context: TickContext): Promise<void> {
  const groups = new Map<Broker, Step[]>();
  for (const step of steps) {
    if (step.messages.length === 0) continue;
    groups.set(step.broker, [...(groups.get(step.broker) ?? []), step]);
  }
  let failure: { error: unknown } | undefined;
  await Promise.all([...groups].map(async ([broker, group]) => {
    try {
      const sent = await broker.enqueue(group.flatMap((step) => step.messages));
      let i = 0;
      for (const step of group) step.messages = step.messages.map(() => sent[i++]);
    } catch (error) {
      failure ??= { error };
      await giveBack(group, context);
    }
  }));
  if (failure) throw failure.error;
}

/** Puts back the records a failed send won, so that a later tick fires the slots. */
async function giveBack(steps: readonly Step[], context: TickContext): Promise<void> {
  const swaps = steps.map((step): RecordSwap => ({
    name: step.entry.name,
    expect: step.swap!.next!.token,
    next: step.record,
    ttl: step.swap!.ttl,
  }));
  for (const step of steps) context.seen.delete(step.entry.name);
  try {
    await context.store.swap(swaps);
  } catch {
    context.logger.error(
      `Cannot give back the slots of ${steps.length} schedule(s) after a failed send; ` +
        "they are skipped",
    );
  }
}
