/** Small helpers shared by the core; private to skiff. */

/**
 * Describes a value for an error message without quoting anything long: options are not
 * payloads, but a stray string may still be large.
 */
export function describe(value: unknown): string {
  if (typeof value === "string") {
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  }
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}

/** The longest `setTimeout` delay runtimes honour (about 24.8 days). */
export const MAX_TIMER_MS = 2_147_483_647;

/** A check for integers in `[min, max]`. */
export function integerIn(min: number, max: number): (value: unknown) => boolean {
  return (value) => Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** Names of queues and actors: safe in Redis keys (no braces) and in log lines. */
export const NAME_PATTERN: RegExp = /^[A-Za-z0-9_.:@\/-]{1,200}$/;

/** Lowest and highest message priority: every ready score stays an exact double. */
export const MIN_PRIORITY = -255;
/** See {@linkcode MIN_PRIORITY}. */
export const MAX_PRIORITY = 255;

/** Whether a value is a finite number at least zero. */
export function isNonNegative(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/** An error's name, for log lines that must not quote payloads. */
export function errorName(error: unknown): string {
  if (error instanceof Error) return error.name;
  return typeof error === "object" && error !== null ? "a non-Error object" : typeof error;
}

/** An error's name and message, for dead-letter reasons kept beside the message itself. */
export function errorSummary(error: unknown): string {
  if (error instanceof Error) return error.message ? `${error.name}: ${error.message}` : error.name;
  return `a thrown ${errorName(error)}`;
}

/**
 * What a failed Redis request says, safe to log: `@upstash/redis` quotes the whole request
 * in its messages (message bodies included), so only what precedes the quote is kept; a
 * network failure (`fetch failed`) adds its cause's code and message (host and port,
 * never a body).
 */
export function redisFailureText(error: unknown): string {
  if (!(error instanceof Error)) return errorName(error);
  const text = error.message.split(", command was:")[0].split("\n")[0].slice(0, 200);
  const cause = error.name === "UpstashError" ? undefined : error.cause;
  const why = cause instanceof Error
    ? `${(cause as { code?: string }).code ?? cause.name}: ${cause.message.slice(0, 200)}`
    : "";
  return `${error.name}${text ? `: ${text}` : ""}${why ? ` (${why})` : ""}`;
}

/**
 * Waits microtask turns while `probe()` keeps changing: returns once it stayed the same for
 * `turns` turns in a row, or as soon as `done()` holds. Work that needs no I/O (actors that
 * end, acks that join a batch) moves on microtasks alone: this lets it finish first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settled } from "./_util.ts";
 *
 * let n = 0;
 * const count = async () => { for (let i = 0; i < 5; i++) { await undefined; n++; } };
 * void count();
 * await settled(() => n, 2);
 * assert.equal(n, 5);
 * ```
 */
export async function settled(
  probe: () => unknown,
  turns: number,
  done: () => boolean = () => false,
): Promise<void> {
  for (let quiet = 0, last = probe(); quiet < turns && !done();) {
    await undefined;
    const now = probe();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

const HEX = /* @__PURE__ */ Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Bytes as lowercase hex, two digits each. */
export function hex(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += HEX[bytes[i]];
  return text;
}

/** Chunks of bytes, `size` in all, as one array. */
export function concatBytes(chunks: readonly Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const whole = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.byteLength;
  }
  return whole;
}

/** Whether this is Node itself: Deno and Bun have a `process.versions.node` too. */
export function onNode(): boolean {
  const { process } = globalThis as { process?: { versions?: { node?: unknown } } };
  return typeof process?.versions?.node === "string" && !("Deno" in globalThis) &&
    !("Bun" in globalThis);
}

/** Resolves after `ms` milliseconds, or at once when `signal` aborts; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.min(ms, MAX_TIMER_MS));
    signal?.addEventListener("abort", done, { once: true });
  });
}
