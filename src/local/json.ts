/**
 * Replies as Upstash REST writes them: JSON text with exact integers (written digit for
 * digit, never through a float), nil as `null`, and with `Upstash-Encoding: base64` every
 * string at every depth in base64 (a top-level `OK` stays as it is; errors never change).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { RespError, type RespValue } from "./resp.ts";

/**
 * Writes one reply as JSON text.
 *
 * @param value The reply.
 * @param base64 Whether strings are sent in base64.
 * @returns JSON text.
 */
export function replyJson(value: RespValue, base64: boolean): string {
  if (value === null) return "null";
  if (typeof value === "bigint") return value.toString();
  if (value instanceof RespError) return JSON.stringify(value.message);
  if (Array.isArray(value)) return `[${value.map((item) => replyJson(item, base64)).join(",")}]`;
  // A status line is already text; bulk bytes are read through a view, not copied.
  if (typeof value === "string" && !base64) return JSON.stringify(value);
  const bytes = typeof value === "string"
    ? Buffer.from(value, "utf8")
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return JSON.stringify(base64 ? bytes.toString("base64") : bytes.toString("utf8"));
}

/**
 * Writes the `{"result": ...}` or `{"error": ...}` object for one command.
 *
 * @param value The reply.
 * @param base64 Whether strings are sent in base64.
 * @returns JSON text.
 */
export function itemJson(value: RespValue, base64: boolean): string {
  if (value instanceof RespError) return JSON.stringify({ error: value.message });
  const raw = value === "OK" ? '"OK"' : replyJson(value, base64);
  return `{"result":${raw}}`;
}
