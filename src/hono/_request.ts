/** Checks on an incoming push before any work: size, type, signature; private to skiff. */
import type { Context } from "hono";
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
  const stream = c.req.raw.body;
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (stream) {
    const reader = stream.getReader();
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
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * Verifies the signature (no Redis), then remembers it once (one Redis command). The path
 * checked is the one the sender posted to: the full URL path, mount prefix included.
 *
 * @throws {Refusal} 401 on a missing, malformed, expired, unknown, wrong or replayed
 *   signature; 503 when the replay store cannot be reached.
 */
export async function authenticate(
  c: Context,
  body: Uint8Array,
  secrets: readonly string[],
  now: number,
  replay: ReplayStore,
): Promise<void> {
  const result = await verifyPush(c.req.header(SIGNATURE_HEADER), {
    method: c.req.method,
    path: new URL(c.req.url).pathname,
    body,
    secrets,
    now,
  });
  if (!result.ok) throw new Refusal(401, result.message);
  let first: boolean;
  try {
    // Remembered for twice the window: a signature dated up to 5 minutes ahead of this
    // clock stays valid for 10 minutes from now.
    first = await replay.remember(result.mac, 2 * SIGNATURE_TOLERANCE_MS);
  } catch {
    throw new Refusal(503, "Cannot accept push now: the replay store is unreachable; retry later");
  }
  if (!first) throw new Refusal(401, "Cannot accept push: this signature was used already");
}

/** Parses a JSON body, refusing anything that is not JSON with a 400. */
export function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw new Refusal(400, "Cannot accept push: the body must be valid JSON");
  }
}
