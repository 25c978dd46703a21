/**
 * Time-sortable message ids: UUIDv7 (RFC 9562) with a monotonic counter, so that ids
 * created later in the same process sort later, even within one millisecond. Brokers
 * break score ties by id, which makes FIFO within a priority hold.
 */
import { randomBytes } from "./_random.ts";
import { hex } from "./_util.ts";

let lastMs = -1;
let counter = 0;

/** Returns a new UUIDv7 string, lowercase, greater than every id returned before. */
export function newId(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      ms = ++lastMs;
      counter = 0;
    }
  } else {
    counter = 0;
  }
  lastMs = ms;
  const bytes = randomBytes(16);
  // 48-bit big-endian milliseconds; Math.floor keeps it exact beyond 32 bits.
  for (let i = 5, rest = ms; i >= 0; i--, rest = Math.floor(rest / 256)) bytes[i] = rest % 256;
  bytes[6] = 0x70 | (counter >> 8); // version 7, then the counter's high 4 bits
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8] & 0x3f); // RFC variant
  return uuidText(bytes);
}

/** 16 bytes in the UUID form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
export function uuidText(bytes: Uint8Array): string {
  const h = hex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
