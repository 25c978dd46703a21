/** How stores keep a `ScheduleRecord`: `slot|token|id`, one string. Private to skiff. */
import type { ScheduleRecord } from "./store.ts";

/** Encodes a record. */
export function encodeRecord(record: ScheduleRecord): string {
  return `${record.slot}|${record.token}|${record.id}`;
}

/** Decodes what {@linkcode encodeRecord} wrote; `null` for none or an unreadable text. */
export function decodeRecord(text: unknown): ScheduleRecord | null {
  if (typeof text !== "string" || text === "") return null;
  const [slot, token = "", id = ""] = text.split("|");
  const ms = Number(slot);
  return slot !== "" && Number.isFinite(ms) ? { slot: ms, token, id } : null;
}
