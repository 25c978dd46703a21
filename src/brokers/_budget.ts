/** How much one claim, or one enqueue script call, may carry, shared by every broker; private to skiff. */

/**
 * The most body bytes one claim answers: a claim stops taking messages once the next body
 * would pass it (it always takes one), so that no script copies more than this into its
 * reply however large the bodies are (a claim of 200 bodies of 100 KB answers 10).
 */
export const MAX_CLAIM_BYTES = 1024 * 1024;

/**
 * The most body bytes one enqueue script call stores: a batch is split into calls of at
 * most 1000 messages and this many bytes (a larger body gets a call of its own), so that no
 * call holds Redis for long at any queue depth (1000 bodies of 223 B took 29.9 ms at a
 * depth of 1M in one call; 64 KiB is about 280 of them).
 */
export const MAX_WRITE_BYTES = 64 * 1024;

/** The bytes of a body as Redis counts them (UTF-8). */
export function bodyBytes(body: string): number {
  let bytes = body.length;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    // 2 bytes below U+0800, 3 above, 4 for a surrogate pair (2 units).
    if (c >= 0x80) bytes += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}
