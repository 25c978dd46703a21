/** How a thrown value is described to result readers and `onFailure` callbacks; private. */
import type { FailureData } from "./errors.ts";

/**
 * `{ type, message }` of what an actor threw (Dramatiq's `exception_data`), and its
 * stack when asked for. A thrown non-Error is described by its `typeof`.
 */
export function toFailureData(error: unknown, withStack = false): FailureData {
  if (error instanceof Error) {
    const data: FailureData = { type: error.name, message: error.message };
    if (withStack && typeof error.stack === "string") data.stack = error.stack;
    return data;
  }
  if (typeof error === "string") return { type: "string", message: error };
  return { type: error === null ? "null" : typeof error, message: "" };
}
