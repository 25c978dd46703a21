/**
 * The ids of the messages a scheduler fires: UUIDv7 (RFC 9562) whose time is the slot's, so
 * that a message tells which slot it was fired for (what the soak counts from Redis), and
 * messages fired for older slots sort first. The other 74 bits are random: two messages
 * for one slot (a bug) are two messages, never one. Private to skiff.
 *
 * @module
 */
import { uuidText } from "../_id.ts";
import { randomBytes } from "../_random.ts";

/** A new message id for `slot` (milliseconds since the epoch, 0 to 2^48 - 1). */
export function slotId(slot: number): string {
  const bytes = randomBytes(16);
  // 48-bit big-endian milliseconds; Math.floor keeps it exact beyond 32 bits.
  for (let i = 5, rest = slot; i >= 0; i--, rest = Math.floor(rest / 256)) bytes[i] = rest % 256;
  bytes[6] = 0x70 | (bytes[6] & 0x0f); // version 7
  bytes[8] = 0x80 | (bytes[8] & 0x3f); // RFC variant
  return uuidText(bytes);
}

/** The slot of an id made by {@linkcode slotId} (the time of any UUIDv7); `undefined` if none. */
export function slotOfId(id: string): number | undefined {
  const match = /^([0-9a-f]{8})-([0-9a-f]{4})-7/i.exec(id);
  return match ? parseInt(match[1] + match[2], 16) : undefined;
}
