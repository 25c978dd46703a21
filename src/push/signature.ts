/**
 * Signed pushes: the `Skiff-Signature` header, made and checked with WebCrypto, or with
 * `node:crypto` where the runtime has it built in.
 *
 * `Skiff-Signature: t=<unix ms>,k=<key id>,v1=<hex HMAC-SHA256>`, where the MAC covers
 * `t + "\n" + METHOD + "\n" + path + "\n" + hex(SHA-256(body))` and the key id is the first
 * 8 hex digits of SHA-256 of the secret, so that a verifier holding several keys (rotation)
 * knows which one to try.
 *
 * @module
 */

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
  raw: Uint8Array;
  hmac: CryptoKey;
}

/** The part of `node:crypto` used: synchronous SHA-256 and HMAC-SHA256. */
interface NodeCrypto {
  createHash(algorithm: "sha256"): { update(data: Uint8Array): { digest(): Uint8Array } };
  createHmac(algorithm: "sha256", key: Uint8Array): {
    update(data: Uint8Array): { digest(): Uint8Array };
  };
}

/**
 * `node:crypto` where the runtime has it built in (Node 20.16+, Bun, Deno; Cloudflare
 * Workers with `nodejs_compat`), read without an import so that bundles for the edge need
 * nothing: hashing there is synchronous, where WebCrypto's two calls per signature each
 * went through Node's thread pool (a millisecond or more per push under load).
 */
const nodeCrypto = (globalThis as {
  process?: { getBuiltinModule?: (id: string) => unknown };
}).process?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;

const encoder = new TextEncoder();
// Secrets are few (a current key and one being rotated); the cache saves an importKey
// and a digest per request without holding an unbounded set of them.
const keys = new Map<string, Promise<Key>>();
const MAX_CACHED_KEYS = 32;

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

function hex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let text = "";
  for (let i = 0; i < view.length; i++) text += HEX[view[i]];
  return text;
}

function checkSecret(secret: unknown, what: string): asserts secret is string {
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
    throw new TypeError(
      `Cannot ${what}: a signing key must be a string of at least ${MIN_SECRET_LENGTH} characters`,
    );
  }
}

function loadKey(secret: string): Promise<Key> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      const raw = encoder.encode(secret);
      const [digest, hmac] = await Promise.all([
        crypto.subtle.digest("SHA-256", raw),
        crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
          "sign",
        ]),
      ]);
      return { id: hex(digest).slice(0, 8), raw, hmac };
    })();
    if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value!);
    keys.set(secret, key);
  }
  return key;
}

async function mac(key: Key, time: number, request: SignedRequest): Promise<Uint8Array> {
  const body = typeof request.body === "string" ? encoder.encode(request.body) : request.body;
  const bodyHash = hex(
    nodeCrypto
      ? nodeCrypto.createHash("sha256").update(body).digest()
      : await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>),
  );
  const text = encoder.encode(
    `${time}\n${request.method.toUpperCase()}\n${request.path}\n${bodyHash}`,
  );
  if (nodeCrypto) {
    return new Uint8Array(nodeCrypto.createHmac("sha256", key.raw).update(text).digest());
  }
  return new Uint8Array(await crypto.subtle.sign("HMAC", key.hmac, text));
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
export async function keyId(secret: string): Promise<string> {
  checkSecret(secret, "derive a key id");
  return (await loadKey(secret)).id;
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
export async function signPush(secret: string, options: SignOptions): Promise<string> {
  checkSecret(secret, "sign push");
  const time = Math.floor(options.now ?? Date.now());
  const key = await loadKey(secret);
  return `t=${time},k=${key.id},v1=${hex(await mac(key, time, options))}`;
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
export async function verifyPush(
  header: string | null | undefined,
  options: VerifyOptions,
): Promise<VerifyResult> {
  for (const secret of options.secrets) checkSecret(secret, "verify push");
  if (header === null || header === undefined || header === "") return failure("missing");
  const fields = header.length > 200 ? undefined : parse(header);
  if (!fields) return failure("malformed");
  const tolerance = options.toleranceMs ?? SIGNATURE_TOLERANCE_MS;
  if (Math.abs(options.now - fields.t) > tolerance) return failure("expired");
  const given = fromHex(fields.v1);
  let known = false;
  for (const secret of options.secrets) {
    const key = await loadKey(secret);
    if (key.id !== fields.k) continue;
    known = true;
    if (equalBytes(await mac(key, fields.t, options), given)) {
      return { ok: true, mac: fields.v1, time: fields.t, keyId: key.id };
    }
  }
  return failure(known ? "mismatch" : "unknown-key");
}
