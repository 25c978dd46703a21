/**
 * What a tick does with one schedule's due slots, decided from the last slot handled: the
 * misfire policy as a pure function. Private to skiff.
 *
 * @module
 */
import type { ScheduleRecord } from "./store.ts";

/** The parts of a schedule's policy that decide which slots fire. */
export interface SlotPolicy {
  /** How many missed slots to fire late (0: skip them). */
  catchUp: number;
  /** How late a slot may be and still fire as on time, in milliseconds. */
  grace: number;
}

/** What to do with a schedule at one tick. */
export interface SlotPlan {
  /** The slots to fire, oldest first. */
  fire: number[];
  /** The slots seen but not fired: missed, beyond `catchUp`. */
  missed: number[];
  /** The latest due slot: the record moves to it, fired or not. */
  newest: number;
}

/**
 * Decides a tick: the slots after the record are due. The newest fires if the tick comes
 * within `grace` of it; the others (and a newest that is too late) are missed, and the
 * latest `catchUp` of them fire late. With no record there is nothing to catch up: only an
 * on-time newest slot fires, so a schedule declared today does not fire yesterday's slot.
 *
 * @param slots The latest `catchUp + 1` slots at or before `now`, oldest first.
 * @param record The schedule's record, or `null` when it has none.
 * @param now The tick's time.
 * @param policy `catchUp` and `grace`.
 * @returns The plan, or `undefined` when no slot is due.
 */
export function planSlots(
  slots: readonly number[],
  record: ScheduleRecord | null,
  now: number,
  policy: SlotPolicy,
): SlotPlan | undefined {
  const due = record ? slots.filter((slot) => slot > record.slot) : slots.slice(-1);
  if (due.length === 0) return undefined;
  const newest = due[due.length - 1];
  const onTime = now - newest <= policy.grace;
  const late = onTime ? due.slice(0, -1) : due;
  const caught = record && policy.catchUp > 0 ? late.slice(-policy.catchUp) : [];
  return {
    fire: onTime ? [...caught, newest] : caught,
    missed: late.slice(0, late.length - caught.length),
    newest,
  };
}
