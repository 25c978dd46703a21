/** Checks on an incoming push before any work: size, type, signature; private to skiff. */
import type { Context } from "hono";
import { concatBytes } from "../_util.ts";
import { bearerMatches } from "../push/cron_secret.ts";
import { QSTASH_SIGNATURE_HEADER, type QstashKeys, verifyQstash } from "../push/qstash.ts";
import type { ReplayStore } from "../push/replay.ts";
import { SIGNATURE_HEADER, SIGNATURE_TOLERANCE_MS, verifyPush } from "../push/signature.ts";

/** A request refused with a status and a JSON error that quotes nothing it received. */
export class Refusal extends Error {
  readonly status: 400 | 401 | 405 | 413 | 415 | 500 | 503;

  constructor(status: Refusal["status"], message: string) {
    super(message);
    this.name = "Refusal";
    this.status = status;
  }
}

/** Whether the request's media type is JSON (parameters such as `charset` allowed). */
function isJson(c: Context): boolean {
  const type = c.req.header("content-type");
  return type !== undefined && type.split(";")[0].trim().toLowerCase() === "application/json";
}

/**
 * Reads the body, at most `maxBytes` of it, without buffering more: a declared
 * `Content-Length` over the limit is refused unread, a longer stream is cut off.
 *
 * @throws {Refusal} 415 when the type is not JSON (an empty body may omit it if
 *   `allowEmpty`), 413 when the body is too large.
 */
export async function readBody(
  c: Context,
  maxBytes: number,
  allowEmpty = false,
): Promise<Uint8Array> {
  const tooLarge = () =>
    new Refusal(413, `Cannot accept push: the body must be at most ${maxBytes} bytes`);
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (declared !== undefined && /^\d+$/.test(declared)) {
    // A declared length within the limit bounds what the server reads: one read, no stream
    // (`@hono/node-server` then reads the socket without making a web stream at all).
    if (declared !== "0") {
      const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
      if (bytes.byteLength > maxBytes) throw tooLarge();
      chunks.push(bytes);
      size = bytes.byteLength;
    }
  } else if (c.req.raw.body) {
    const reader = c.req.raw.body.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  if (!(allowEmpty && size === 0) && !isJson(c)) {
    throw new Refusal(415, "Cannot accept push: the content type must be application/json");
  }
  return concatBytes(chunks, size);
}

/** The credentials a route accepts; at least one is set. */
export interface Credentials {
  /** `Skiff-Signature` secrets. */
  signingKeys: readonly string[];
  /** A bearer secret (`/tick` only). */
  cronSecret?: string;
  /** QStash's signing keys. */
  qstash?: QstashKeys;
}

/** How long a signature is remembered: a signature dated up to 5 minutes ahead of this clock
 * stays valid for 10 minutes from now. */
export const SIGNATURE_MEMORY_MS = 2 * SIGNATURE_TOLERANCE_MS;

/**
 * Checks the request's credentials (no Redis), then remembers a signature or a QStash
 * token once (one Redis command). A request carries one kind of credential: a
 * `Skiff-Signature`, an `Upstash-Signature`, or a bearer secret; the first present decides.
 * The path signed is the one the sender posted to: the full URL path, mount prefix included.
 * With `deferSignature` a `Skiff-Signature` is not remembered here: its MAC is answered, for
 * the claim to remember in the same request (`claimById`'s `once`). The replay store is
 * asked for only when a check needs it.
 *
 * @returns The MAC of a `Skiff-Signature` left to remember, if any.
 * @throws {Refusal} 401 on missing, malformed, expired, unknown, wrong or replayed
 *   credentials; 503 when the replay store cannot be reached.
 */
export async function authenticate(
  c: Context,
  body: Uint8Array,
  credentials: Credentials,
  now: number,
  replay: () => ReplayStore,
  deferSignature: boolean,
): Promise<{ mac?: string }> {
  const skiff = c.req.header(SIGNATURE_HEADER);
  const upstash = c.req.header(QSTASH_SIGNATURE_HEADER);
  const bearer = c.req.header("authorization");
  if (skiff !== undefined || (upstash === undefined && bearer === undefined)) {
    if (credentials.signingKeys.length === 0) throw missing(credentials);
    const result = await verifyPush(skiff, {
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      body,
      secrets: credentials.signingKeys,
      now,
    });
    if (!result.ok) throw new Refusal(401, result.message);
    if (deferSignature) return { mac: result.mac };
    await rememberOnce(replay(), result.mac, SIGNATURE_MEMORY_MS);
  } else if (upstash !== undefined) {
    if (credentials.qstash === undefined) throw missing(credentials);
    const result = await verifyQstash(upstash, {
      keys: credentials.qstash,
      url: c.req.url,
      origin: credentials.qstash.origin,
      body,
      now,
    });
    if (!result.ok) throw new Refusal(401, result.message);
    await rememberOnce(
      replay(),
      `qstash:${result.id}`,
      Math.max(result.expiresAt - now, 0) + 60_000,
    );
  } else {
    if (credentials.cronSecret === undefined) throw missing(credentials);
    if (!(await bearerMatches(bearer, credentials.cronSecret))) {
      throw new Refusal(401, "Cannot accept request: the bearer secret does not match");
    }
  }
  return {};
}

/** A 401 that names the credentials this route accepts. */
function missing(credentials: Credentials): Refusal {
  const accepted = [
    credentials.signingKeys.length > 0 ? "a Skiff-Signature header" : "",
    credentials.qstash ? "an Upstash-Signature header" : "",
    credentials.cronSecret !== undefined ? "an Authorization: Bearer secret" : "",
  ].filter(Boolean);
  return new Refusal(
    401,
    `Cannot accept request: it must carry ${accepted.join(" or ")}`,
  );
}

async function rememberOnce(replay: ReplayStore, key: string, ttlMs: number): Promise<void> {
  let first: boolean;
  try {
    first = await replay.remember(key, ttlMs);
  } catch {
    throw new Refusal(503, "Cannot accept push now: the replay store is unreachable; retry later");
  }
  if (!first) throw new Refusal(401, "Cannot accept push: this signature was used already");
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Parses a JSON body, refusing anything that is not JSON with a 400. */
export function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(STRICT_UTF8.decode(body));
  } catch {
    throw new Refusal(400, "Cannot accept push: the body must be valid JSON");
  }
}
