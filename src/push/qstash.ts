/**
 * QStash's `Upstash-Signature`, checked with WebCrypto only: a JWT (HS256) signed with the
 * current or the next signing key of a QStash account, whose claims name the issuer
 * (`Upstash`), the URL called (`sub`), its validity (`nbf`, `exp`), a unique id (`jti`)
 * and the body's SHA-256 (`body`, base64url).
 *
 * @module
 */

/** The header QStash signs its requests with. */
export const QSTASH_SIGNATURE_HEADER = "Upstash-Signature";

/** The signing keys of a QStash account (its console shows both). */
export interface QstashKeys {
  /** The key QStash signs with now. */
  currentSigningKey: string;
  /** The key it signs with after a rotation. */
  nextSigningKey?: string;
  /**
   * The origin QStash calls, as `https://app.example.com`: when set, a token must have been
   * made for a URL of that origin. Without it only the path and query are compared, since
   * platforms and proxies rewrite the host a request arrives with; then a token made for
   * another app of the same QStash account, at the same path, is accepted.
   */
  origin?: string;
}

/** Options of {@linkcode verifyQstash}. */
export interface VerifyQstashOptions {
  /** The keys accepted. */
  keys: QstashKeys;
  /** The URL the request was received at; its path and query must be the token's `sub`'s. */
  url: string;
  /** The origin the token's `sub` must have (`https://app.example.com`), if any. */
  origin?: string;
  /** The exact body bytes. */
  body: Uint8Array;
  /** The verifier's clock, in milliseconds since the epoch. */
  now: number;
  /** How far `nbf` and `exp` may be off this clock (default 60 000 ms). */
  clockToleranceMs?: number;
}

/** What {@linkcode verifyQstash} answers. */
export type VerifyQstashResult =
  | {
    ok: true;
    /** The token's unique id: what replay protection remembers. */
    id: string;
    /** When the token expires, in milliseconds since the epoch. */
    expiresAt: number;
  }
  | { ok: false; message: string };

const encoder = new TextEncoder();

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) return undefined;
  const plain = text.replace(/=+$/, "").replaceAll("-", "+").replaceAll("_", "/");
  try {
    return Uint8Array.from(
      atob(plain + "=".repeat((4 - plain.length % 4) % 4)),
      (c) => c.charCodeAt(0),
    );
  } catch {
    return undefined;
  }
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

function json(part: string): Record<string, unknown> | undefined {
  const bytes = fromBase64Url(part);
  if (bytes === undefined) return undefined;
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function signedBy(
  key: string,
  data: Uint8Array<ArrayBuffer>,
  mac: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  const hmac = await crypto.subtle.importKey(
    "raw",
    encoder.encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  // crypto.subtle.verify compares in constant time.
  return await crypto.subtle.verify("HMAC", hmac, mac, data);
}

function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

function pathOf(url: URL | undefined): string | undefined {
  return url && url.pathname + url.search;
}

/**
 * Checks an `Upstash-Signature` JWT: its HS256 MAC under the current or the next key, the
 * issuer, the time window, the body hash, and that it was made for this URL: its path and
 * query, and its origin when `origin` is given (platforms and proxies rewrite the host a
 * request arrives with, so the received URL's is never compared).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { verifyQstash } from "./qstash.ts";
 *
 * const result = await verifyQstash("not-a-jwt", {
 *   keys: { currentSigningKey: "sig_current" },
 *   url: "https://example.com/skiff/tick",
 *   body: new Uint8Array(),
 *   now: Date.now(),
 * });
 * assert.equal(result.ok, false);
 * ```
 *
 * @param token The header's value.
 * @param options The keys, the URL and body received, the clock.
 * @returns The token's id and expiry, or why it was refused (quoting nothing received).
 */
export async function verifyQstash(
  token: string | undefined,
  options: VerifyQstashOptions,
): Promise<VerifyQstashResult> {
  const refuse = (why: string): VerifyQstashResult => ({
    ok: false,
    message: `Cannot accept request: the Upstash-Signature ${why}`,
  });
  if (!token) return refuse("header is missing");
  const parts = token.split(".");
  const header = parts.length === 3 ? json(parts[0]) : undefined;
  const claims = parts.length === 3 ? json(parts[1]) : undefined;
  const mac = parts.length === 3 ? fromBase64Url(parts[2]) : undefined;
  if (!header || !claims || !mac) return refuse("must be a JWT");
  if (header.alg !== "HS256") return refuse("must be signed with HS256");
  const data = encoder.encode(`${parts[0]}.${parts[1]}`);
  const { currentSigningKey, nextSigningKey } = options.keys;
  const keys = nextSigningKey ? [currentSigningKey, nextSigningKey] : [currentSigningKey];
  let matched = false;
  for (const key of keys) matched = (await signedBy(key, data, mac)) || matched;
  if (!matched) return refuse("does not match the signing keys");
  if (claims.iss !== "Upstash") return refuse("must be issued by Upstash");
  const tolerance = options.clockToleranceMs ?? 60_000;
  const now = options.now;
  if (typeof claims.exp !== "number" || claims.exp * 1000 + tolerance < now) {
    return refuse("has expired");
  }
  if (typeof claims.nbf === "number" && claims.nbf * 1000 - tolerance > now) {
    return refuse("is not valid yet");
  }
  const sub = typeof claims.sub === "string" ? parse(claims.sub) : undefined;
  if (sub === undefined || pathOf(sub) !== pathOf(parse(options.url))) {
    return refuse("was made for another URL");
  }
  if (options.origin !== undefined && sub.origin !== parse(options.origin)?.origin) {
    return refuse("was made for another origin");
  }
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new Uint8Array(options.body)),
  );
  if (typeof claims.body !== "string" || claims.body.replace(/=+$/, "") !== toBase64Url(digest)) {
    return refuse("does not match the body");
  }
  if (typeof claims.jti !== "string" || claims.jti.length === 0) return refuse("has no id");
  return { ok: true, id: claims.jti, expiresAt: claims.exp * 1000 };
}
