/**
 * Signed pushes: the `Skiff-Signature` header, made and checked synchronously on every
 * runtime (`./_sha256.ts`).
 *
 * `Skiff-Signature: t=<unix ms>,k=<key id>,v1=<hex HMAC-SHA256>`, where the MAC covers
 * `t + "\n" + METHOD + "\n" + path + "\n" + hex(SHA-256(body))` and the key id is the first
 * 8 hex digits of SHA-256 of the secret, so that a verifier holding several keys (rotation)
 * knows which one to try.
 *
 * @module
 */
import { hex } from "../_util.ts";
import { HmacSha256, sha256 } from "./_sha256.ts";

/** The name of the header that carries a push's signature. */
export const SIGNATURE_HEADER = "Skiff-Signature";

/** How far a signature's time may be from the verifier's clock: 5 minutes. */
export const SIGNATURE_TOLERANCE_MS = 300_000;

/** The shortest signing secret accepted, in characters. */
export const MIN_SECRET_LENGTH = 16;

/** What a signature covers. */
export interface SignedRequest {
  /** The HTTP method, e.g. `POST` (upper-cased before signing). */
  method: string;
  /** The URL path the request is posted to, mount prefix included, e.g. `/skiff/messages`. */
  path: string;
  /** The exact body bytes (a string is encoded as UTF-8). */
  body: string | Uint8Array;
}

/** Options of {@linkcode signPush}. */
export interface SignOptions extends SignedRequest {
  /** The signature's time, in milliseconds since the epoch (default `Date.now()`). */
  now?: number;
}

/** Options of {@linkcode verifyPush}. */
export interface VerifyOptions extends SignedRequest {
  /** The secrets accepted: the current one and those being rotated in or out. */
  secrets: readonly string[];
  /** The verifier's clock, in milliseconds since the epoch. */
  now: number;
  /** How far the signature's time may be from `now` (default 5 minutes). */
  toleranceMs?: number;
}

/** Why a signature was refused. */
export type SignatureFailure = "missing" | "malformed" | "expired" | "unknown-key" | "mismatch";

/** What {@linkcode verifyPush} answers. */
export type VerifyResult =
  | {
    ok: true;
    /** The MAC (hex): what replay protection remembers. */
    mac: string;
    /** The signature's time, in milliseconds since the epoch. */
    time: number;
    /** The id of the key that matched. */
    keyId: string;
  }
  | { ok: false; reason: SignatureFailure; message: string };

interface Key {
  id: string;
  hmac: HmacSha256;
}

const encoder = new TextEncoder();
// Secrets are few (a current key and one being rotated); the cache saves a key's id and
// HMAC pads per request without holding an unbounded set of them.
const keys = new Map<string, Key>();
const MAX_CACHED_KEYS = 32;

/** `fn`'s value as a promise, or a rejection with what it threw: the API stays async. */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise((resolve) => resolve(fn()));
}

function checkSecret(secret: unknown, what: string): asserts secret is string {
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
    throw new TypeError(
      `Cannot ${what}: a signing key must be a string of at least ${MIN_SECRET_LENGTH} characters`,
    );
  }
}

function loadKey(secret: string): Key {
  let key = keys.get(secret);
  if (!key) {
    const raw = encoder.encode(secret);
    key = { id: hex(sha256(raw)).slice(0, 8), hmac: new HmacSha256(raw) };
    if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value!);
    keys.set(secret, key);
  }
  return key;
}

function mac(key: Key, time: number, request: SignedRequest): Uint8Array {
  const body = typeof request.body === "string" ? encoder.encode(request.body) : request.body;
  const text = `${time}\n${request.method.toUpperCase()}\n${request.path}\n${hex(sha256(body))}`;
  return key.hmac.sign(encoder.encode(text));
}

/** Compares two byte arrays in time that depends on their length only. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The short id of a signing key: the first 8 hex digits of SHA-256 of the secret. It goes
 * in each signature's `k`, so that verifiers know which of their keys to try.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const id = await keyId("a-secret-of-at-least-16-chars");
 * assert.match(id, /^[0-9a-f]{8}$/);
 * ```
 *
 * @param secret The signing secret.
 * @returns Eight lowercase hex digits.
 * @throws {TypeError} When the secret is not a string of at least 16 characters.
 */
export function keyId(secret: string): Promise<string> {
  return settle(() => {
    checkSecret(secret, "derive a key id");
    return loadKey(secret).id;
  });
}

/**
 * Signs a push: returns the value of the `Skiff-Signature` header.
 *
 * @example Sign, then verify
 * ```ts
 * import assert from "node:assert/strict";
 * const secret = "a-secret-of-at-least-16-chars";
 * const request = { method: "POST", path: "/skiff/messages", body: '{"queue":"default","ids":["a"]}' };
 * const header = await signPush(secret, { ...request, now: 1_700_000_000_000 });
 * const result = await verifyPush(header, { ...request, secrets: [secret], now: 1_700_000_001_000 });
 * assert(result.ok);
 * ```
 *
 * @param secret The signing secret.
 * @param options The method, path, body and time to sign.
 * @returns `t=<ms>,k=<key id>,v1=<hex HMAC-SHA256>`.
 * @throws {TypeError} When the secret is not a string of at least 16 characters.
 */
export function signPush(secret: string, options: SignOptions): Promise<string> {
  return settle(() => {
    checkSecret(secret, "sign push");
    const time = Math.floor(options.now ?? Date.now());
    const key = loadKey(secret);
    return `t=${time},k=${key.id},v1=${hex(mac(key, time, options))}`;
  });
}

const FIELD = /^(t|k|v1)=(.*)$/;

function parse(header: string): { t: number; k: string; v1: string } | undefined {
  const fields: Record<string, string> = {};
  for (const part of header.split(",")) {
    const match = FIELD.exec(part.trim());
    if (!match || match[1] in fields) return undefined;
    fields[match[1]] = match[2];
  }
  const { t, k, v1 } = fields;
  if (!t || !/^\d{1,16}$/.test(t)) return undefined;
  if (!k || !/^[0-9a-f]{8}$/.test(k)) return undefined;
  if (!v1 || !/^[0-9a-f]{64}$/.test(v1)) return undefined;
  return { t: Number(t), k, v1 };
}

function fromHex(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function failure(reason: SignatureFailure): VerifyResult {
  const messages: Record<SignatureFailure, string> = {
    missing: `Cannot accept push: the ${SIGNATURE_HEADER} header is missing`,
    malformed:
      `Cannot accept push: the ${SIGNATURE_HEADER} header must be t=<unix ms>,k=<key id>,v1=<hex HMAC-SHA256>`,
    expired: "Cannot accept push: the signature's time is outside the accepted window",
    "unknown-key": "Cannot accept push: the signature names no configured signing key",
    mismatch: "Cannot accept push: the signature does not match",
  };
  return { ok: false, reason, message: messages[reason] };
}

/**
 * Checks a `Skiff-Signature` header against every configured secret whose key id it names,
 * in constant time, and that its time is within the window. It does not check for replays:
 * remember `mac` once in a {@linkcode ReplayStore} for that.
 *
 * @example Refuse a signature made with another key
 * ```ts
 * import assert from "node:assert/strict";
 * const request = { method: "POST", path: "/messages", body: "{}" };
 * const header = await signPush("an-old-secret-now-retired", { ...request, now: 0 });
 * const result = await verifyPush(header, { ...request, secrets: ["the-current-secret-key"], now: 0 });
 * assert(!result.ok && result.reason === "unknown-key");
 * ```
 *
 * @param header The header's value, or `null` when the request has none.
 * @param options The request as received, the secrets and the clock.
 * @returns `ok` with the MAC, or the reason for refusing and a message that quotes nothing
 *   from the request.
 * @throws {TypeError} When a secret is not a string of at least 16 characters.
 */
export function verifyPush(
  header: string | null | undefined,
  options: VerifyOptions,
): Promise<VerifyResult> {
  return settle(() => verify(header, options));
}

function verify(header: string | null | undefined, options: VerifyOptions): VerifyResult {
  for (const secret of options.secrets) checkSecret(secret, "verify push");
  if (header === null || header === undefined || header === "") return failure("missing");
  const fields = header.length > 200 ? undefined : parse(header);
  if (!fields) return failure("malformed");
  const tolerance = options.toleranceMs ?? SIGNATURE_TOLERANCE_MS;
  if (Math.abs(options.now - fields.t) > tolerance) return failure("expired");
  const given = fromHex(fields.v1);
  let known = false;
  for (const secret of options.secrets) {
    const key = loadKey(secret);
    if (key.id !== fields.k) continue;
    known = true;
    if (equalBytes(mac(key, fields.t, options), given)) {
      return { ok: true, mac: fields.v1, time: fields.t, keyId: key.id };
    }
  }
  return failure(known ? "mismatch" : "unknown-key");
}
