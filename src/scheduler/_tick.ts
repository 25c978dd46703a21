/**
 * One scheduler tick: plan each schedule's due slots, check overlaps, compare-and-set the
 * records (one store request per round), then send what was won. When the store can write
 * a schedule's broker (its own broker: the default), the slot's message is encoded first
 * (`beforeEnqueue` runs here) and rides on the swap, stored in the same transition as the
 * record: then there is no send that could fail, only `afterEnqueue`. A failed tick leaves its
 * unfinished work to the next tick of the same scheduler, which does it first: a store call
 * whose answer never came (every retry failed) is made again with the same call id (the
 * store answers what the first run did, so a slot it won is sent, not lost); messages that
 * could not be sent are sent again as the same call (same encoded records, same call id:
 * a send that landed is not stored twice, even after its message ran); and what the failed
 * tick did fire is reported by the next tick that succeeds. Private to skiff; see `docs/scheduling.md`,
 * "Exactly once".
 *
 * @module
 */
import type { Broker, EncodedMessage, Logger } from "../broker.ts";
import type { Message } from "../message.ts";
import type { Entry } from "./_declare.ts";
import { planSlots, type SlotPlan } from "./_plan.ts";
import { slotId } from "./_slot_id.ts";
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
  /** Where to log slots whose messages could not be sent yet. */
  logger: Logger;
  /** What earlier ticks left to this one; kept across ticks. */
  unsettled: Unsettled;
}

/** What a tick that failed leaves to the next tick of the same scheduler and store. */
export interface Unsettled {
  /** The store call of an earlier tick that failed, if any: made again first. */
  call?: UnsettledCall;
  /** Sends that failed: made again first, as the same call. */
  unsent?: Send[];
  /** What failed ticks did (fired, skipped): part of the next successful tick's report. */
  unreported?: SchedulerTickReport;
}

/** A store call whose answer was lost: its call id, and the steps it swapped. */
export interface UnsettledCall {
  /** The call id to make it again with. */
  id: string;
  /** What it swapped, with the messages it would send. */
  steps: Step[];
}

/**
 * One send of won slots' messages to a broker: made again, as it was, until it succeeds.
 * The call id and the encoded records are kept so that a send that landed (its answer
 * lost) is recognised by the broker and stores nothing twice, even after its messages ran
 * and were acked: the same records split into the same script calls.
 */
export interface Send {
  broker: Broker;
  steps: Step[];
  /** The id the broker derives each script call's record from. */
  callId: string;
  /** The messages through `beforeEnqueue`, encoded; set once encoding succeeded. */
  encoded?: { messages: Message[]; records: EncodedMessage[] };
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
  /** Its messages ride on the swap: stored with the record, not sent after it. */
  carried?: boolean;
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
  // Sends an earlier tick could not make: made again first, as the same calls.
  const resend = unsettled.unsent ?? [];
  unsettled.unsent = undefined;
  const done: Step[] = [];
  let failure: { error: unknown } | undefined;
  try {
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
    await plannedRounds(entries, at, context, done);
  } catch (error) {
    failure = { error };
  }
  // What was won is sent even when a later step failed; what cannot be sent is kept.
  const sent = await send(done, resend, context);
  failure ??= sent.failure;
  const report = reportOf(sent.steps);
  if (failure) {
    // Reported by the next tick that succeeds: a slot this tick fired is never unreported.
    unsettled.unreported = merge(unsettled.unreported, report);
    throw failure.error;
  }
  const earlier = unsettled.unreported;
  unsettled.unreported = undefined;
  return merge(earlier, report);
}

/** The compare-and-set rounds of a tick; adds the steps it won to `done`. */
async function plannedRounds(
  entries: readonly Entry[],
  at: number,
  context: TickContext,
  done: Step[],
): Promise<void> {
  const { store, seen, unsettled } = context;
  let pending = entries;
  for (let round = 0; round < MAX_ROUNDS && pending.length > 0; round++) {
    const steps = plan(pending, at, context);
    if (steps.length === 0) break;
    await checkOverlaps(steps);
    const token = crypto.randomUUID();
    for (const step of steps) step.swap = swapOf(step, at, token);
    await carry(steps, store);
    // One id per call, made here and reused by every retry of the call, also a later tick's.
    const callId = crypto.randomUUID();
    let results: SwapResult[];
    try {
      results = await store.swap(steps.map((step) => step.swap!), { callId });
    } catch (error) {
      if (steps.some((step) => step.plan)) unsettled.call = { id: callId, steps };
      throw error;
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
}

/** What the steps fired and skipped. */
function reportOf(steps: readonly Step[]): SchedulerTickReport {
  const report: SchedulerTickReport = { fired: [], skipped: [] };
  for (const { entry, plan, messages, overlapped } of steps) {
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

/** Two reports as one, by schedule then slot. */
function merge(
  a: SchedulerTickReport | undefined,
  b: SchedulerTickReport,
): SchedulerTickReport {
  if (!a) return b;
  const order = (x: { schedule: string; slot: number }, y: { schedule: string; slot: number }) =>
    x.schedule < y.schedule ? -1 : x.schedule > y.schedule ? 1 : x.slot - y.slot;
  return {
    fired: [...a.fired, ...b.fired].sort(order),
    skipped: [...a.skipped, ...b.skipped].sort(order),
  };
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
      // write that loses (2). A plan with nothing to fire or catch up needs no record, but
      // for a slot that just went past its grace: that read tells whether anyone handled
      // it, else the next round records it skipped and reports it.
      if (plan.fire.length > 0 || entry.catchUp > 0 || justLate(entry, newest, at)) {
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

/** How long after its grace a late slot is still looked up, at most: platform crons come up to an hour late. */
const LATE_LOOKUP_MS = 3_600_000;

/**
 * Whether a late newest slot is worth a read by an instance that has not read the record
 * (so that a slot no tick handled is reported skipped, as later ticks report a late slot):
 * while it is past its grace by at most an hour, and by at most a twelfth of the time since
 * the slot before it. An instance that is new at every tick (an edge isolate) then reads a
 * schedule's record for a late slot on a twelfth of its ticks at most; later than that, a
 * tick reads nothing, as before.
 */
function justLate(entry: Entry, newest: number, at: number): boolean {
  const late = at - newest - entry.grace;
  if (late <= 0) return false;
  const [before] = entry.slots.latest(newest - 1, 1);
  return before !== undefined && late <= Math.min(LATE_LOOKUP_MS, (newest - before) / 12);
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
    step.messages = plan.fire.map((slot) => entry.message.copy({ id: slotId(slot) }));
  }
  const last = step.messages[step.messages.length - 1];
  const next = { slot: plan.newest, token, id: last?.id ?? record?.id ?? "" };
  // Kept until the last slot `catchUp` could still fire, and never less than a week.
  const [keep] = entry.slots.next(plan.newest, entry.catchUp + 1).slice(-1);
  const ttl = Math.max(MIN_TTL, (keep ?? at) - at + entry.grace);
  return { name: entry.name, expect, next, ttl };
}

/**
 * Encodes the messages of the steps whose broker the store writes, and puts them on their
 * swaps: `beforeEnqueue` runs here, client-side, as for any send. A message with a dedup
 * key, a debounce or a throttle needs its broker's own send script, and a message that
 * cannot be encoded fails in the send as it would for any broker: those are sent after.
 */
async function carry(steps: readonly Step[], store: ScheduleStore): Promise<void> {
  for (const step of steps) {
    const { broker } = step;
    if (step.messages.length === 0 || !store.canWrite?.(broker)) continue;
    if (step.messages.some((m) => m.dedupKey !== undefined || m.debounce || m.throttle)) continue;
    const replaced = await broker.emitBeforeEnqueue(step.messages);
    let encoded: ReturnType<Broker["encodeMessages"]>;
    try {
      encoded = broker.encodeMessages(replaced);
    } catch {
      continue;
    }
    step.messages = encoded.messages;
    step.swap!.messages = encoded.records;
    step.carried = true;
  }
}

/** Runs `afterEnqueue` for the messages stored with their records (Push pushes them). */
async function stored(steps: readonly Step[]): Promise<void> {
  for (const { broker, messages } of steps) await broker.emitAfterEnqueue(messages);
}

/**
 * Sends what was won, per broker, after the sends an earlier tick could not make. The sends
 * that fail are kept for the next tick, which makes each again as the same call: the same
 * encoded messages (same ids) under the same call id. The record has moved on, so no other
 * tick fires those slots; an id still stored is left alone; and a send that did land before
 * its error is recognised by its call id (a broker that may repeat a write keeps its call
 * record, `EnqueueOptions.callId`), so a message that ran and was acked in between is not
 * stored again.
 */
async function send(
  steps: readonly Step[],
  resend: readonly Send[],
  context: TickContext,
): Promise<{ steps: Step[]; failure?: { error: unknown } }> {
  const groups = new Map<Broker, Step[]>();
  const sent: Step[] = [];
  const carried = steps.filter((step) => step.carried);
  await stored(carried);
  for (const step of steps) {
    if (step.messages.length === 0 || step.carried) sent.push(step);
    else groups.set(step.broker, [...(groups.get(step.broker) ?? []), step]);
  }
  const sends: Send[] = [
    ...resend,
    ...[...groups].map(([broker, group]) => ({ broker, steps: group, callId: newSendId() })),
  ];
  let failure: { error: unknown } | undefined;
  const unsent: Send[] = [];
  await Promise.all(sends.map(async (call) => {
    const { broker, steps: group } = call;
    try {
      call.encoded ??= broker.encodeMessages(
        await broker.emitBeforeEnqueue(group.flatMap((step) => step.messages)),
      );
      const answer = await broker.enqueueEncoded(call.encoded, { callId: call.callId });
      let i = 0;
      for (const step of group) step.messages = step.messages.map(() => answer[i++]);
      sent.push(...group);
    } catch (error) {
      failure ??= { error };
      unsent.push(call);
    }
  }));
  if (unsent.length > 0) {
    context.unsettled.unsent = [...(context.unsettled.unsent ?? []), ...unsent];
    const slots = unsent.reduce(
      (n, call) => n + call.steps.reduce((m, step) => m + step.messages.length, 0),
      0,
    );
    context.logger.warn(
      `Cannot send the messages of ${slots} slot(s) now; the next tick of this scheduler ` +
        "sends them again",
      { count: slots },
    );
  }
  return { steps: sent, failure };
}

/** A send's call id: the broker derives its script calls' records from it. */
function newSendId(): string {
  return `schedule-${crypto.randomUUID()}`;
}
