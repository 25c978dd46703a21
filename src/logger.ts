/**
 * Where skiff writes log lines. Every call passes a sentence and a fields object (message
 * id, actor, queue, attempt, outcome, error), so that `console` prints both and a JSON
 * logger keeps the fields as fields. Fields never hold a message's arguments or a secret.
 *
 * @module
 */
import { errorName } from "./_util.ts";

/** The fields of a log line; each is set where it is known. */
export interface LogFields {
  /** The message id. */
  id?: string;
  /** The actor's name. */
  actor?: string;
  /** The queue. */
  queue?: string;
  /** The attempt number: 1, then 2 on the first retry. */
  attempt?: number;
  /** What came of it: `retried`, `dead`, `skipped`, `stale`, `lost`, `failed`. */
  outcome?: string;
  /** The error, as thrown; a JSON logger writes its name and message, never its stack. */
  error?: unknown;
  /** Anything else a line carries (a delay in milliseconds, a count). */
  [field: string]: unknown;
}

/**
 * Where skiff writes log lines; `console` by default. Any object with these four methods
 * fits: each receives the sentence, then the fields.
 */
export interface Logger {
  /** Detail for debugging (retried Redis calls). */
  debug(message: string, fields?: LogFields): void;
  /** Normal events (a skipped message). */
  info(message: string, fields?: LogFields): void;
  /** Something went wrong and skiff recovers (a retry, a lost push). */
  warn(message: string, fields?: LogFields): void;
  /** Something went wrong and needs a look (a dead letter). */
  error(message: string, fields?: LogFields): void;
}

/** Options of {@linkcode jsonLogger}. */
export interface JsonLoggerOptions {
  /** Where each line goes (default: `console.log`). */
  write?: (line: string) => void;
  /** The lowest level written (default `"info"`). */
  level?: "debug" | "info" | "warn" | "error";
  /** The clock (default `Date.now`). */
  now?: () => number;
}

const LEVELS = ["debug", "info", "warn", "error"] as const;

/**
 * A logger that writes one JSON object per line: `level`, `msg`, `time` (ISO 8601) and
 * the fields. An error becomes `{ name, message }`, without its stack.
 *
 * @param options Where to write, the lowest level, the clock.
 * @returns The logger, for a broker's `logger` option.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonLogger } from "@skiff/skiff";
 *
 * const lines: string[] = [];
 * const logger = jsonLogger({ write: (line) => lines.push(line), now: () => 0 });
 * logger.warn("Message m1 failed", { id: "m1", queue: "default", error: new TypeError("no") });
 * logger.debug("not written: below info");
 * assert.deepEqual(JSON.parse(lines[0]), {
 *   level: "warn",
 *   time: "1970-01-01T00:00:00.000Z",
 *   msg: "Message m1 failed",
 *   id: "m1",
 *   queue: "default",
 *   error: { name: "TypeError", message: "no" },
 * });
 * assert.equal(lines.length, 1);
 * ```
 */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const { write = (line: string) => console.log(line), level = "info", now = Date.now } = options;
  const lowest = LEVELS.indexOf(level);
  if (lowest < 0) {
    throw new RangeError(`'level' must be one of ${LEVELS.join(", ")}, received '${level}'`);
  }
  const line = (name: typeof LEVELS[number]) => (message: string, fields?: LogFields) => {
    if (LEVELS.indexOf(name) < lowest) return;
    const record: Record<string, unknown> = {
      level: name,
      time: new Date(now()).toISOString(),
      msg: message,
    };
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (value === undefined || key in record) continue;
      record[key] = key === "error" ? errorFields(value) : value;
    }
    let text: string;
    try {
      text = JSON.stringify(
        record,
        (_key, value) => typeof value === "bigint" ? `${value}` : value,
      );
    } catch {
      // A field that cannot be written (a cycle) is left out rather than the line lost.
      text = JSON.stringify({ level: name, time: record.time, msg: message });
    }
    write(text);
  };
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}

function errorFields(error: unknown): unknown {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: errorName(error) };
}
