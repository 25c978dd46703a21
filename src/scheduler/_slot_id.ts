/**
 * The ids of the messages a scheduler fires: UUIDv7 (RFC 9562) whose time is the slot's, so
 * that a message tells which slot it was fired for (what the soak counts from Redis), and
 * messages fired for older slots sort first. The other 74 bits are the first bits of the
 * SHA-256 of the schedule's name and the slot: every tick, on every instance, makes the same
 * id for one (schedule, slot), so a slot's message sent twice is one message while the
 * broker holds it (a broker stores an id once). Private to skiff.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * The message id of `schedule`'s `slot` (milliseconds since the epoch, 0 to 2^48 - 1): the
 * same for the same arguments, in any process.
 */
export async function slotId(schedule: string, slot: number): Promise<string> {
  // The slot first, then the name: no (name, slot) pair reads as another one.
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(`${slot}|${schedule}`));
  const bytes = new Uint8Array(16);
  bytes.set(new Uint8Array(digest, 0, 10), 6);
  return format(stamp(bytes, slot));
}

/** `bytes` with the time `ms`, the version and the variant of a UUIDv7. */
function stamp(bytes: Uint8Array, ms: number): Uint8Array {
  // 48-bit big-endian milliseconds; Math.floor keeps it exact beyond 32 bits.
  for (let i = 5, rest = ms; i >= 0; i--, rest = Math.floor(rest / 256)) bytes[i] = rest % 256;
  bytes[6] = 0x70 | (bytes[6] & 0x0f); // version 7
  bytes[8] = 0x80 | (bytes[8] & 0x3f); // RFC variant
  return bytes;
}

/** 16 bytes as a UUID. */
function format(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/**
 * A fresh token for the records a tick writes: a UUIDv7 whose time is the tick's (`at`) and
 * whose other bits are random, so that a record tells when it was written.
 */
export function tickToken(at: number): string {
  return format(stamp(crypto.getRandomValues(new Uint8Array(16)), Math.max(0, at)));
}

/** The slot of an id made by {@linkcode slotId} (the time of any UUIDv7); `undefined` if none. */
export function slotOfId(id: string): number | undefined {
  const match = /^([0-9a-f]{8})-([0-9a-f]{4})-7/i.exec(id);
  return match ? parseInt(match[1] + match[2], 16) : undefined;
}
