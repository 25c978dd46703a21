import process from "node:process";

/** Exit codes of the `skiff` command. */
export const EXIT = {
  /** A clean stop, or help printed on request. */
  OK: 0,
  /**
   * Bad arguments or configuration: an unknown option, a number that is not an integer in
   * range, an invalid queue name, no module found, a module that fails to import, no broker
   * configured, no actor or schedule declared, credentials the server refused. Retrying
   * does not help: fix the command or the environment.
   */
  USAGE: 2,
  /**
   * A connection to Redis could not be made at startup (refused, name not resolved, timed
   * out, server unavailable). Retrying may help: wrap the command in a retry loop on this
   * code.
   */
  UNREACHABLE: 3,
  /** An unexpected failure after startup (a bug in skiff or an error outside any actor). */
  FAILED: 1,
  /** A second SIGINT or SIGTERM ended the command before its graceful stop finished. */
  INTERRUPTED: 130,
} as const;

/** Where a command writes, how it hears signals, reads the clock and exits; tests pass their own. */
export interface Io {
  /** Lines for the user. */
  out: (line: string) => void;
  /** Errors, one line each. */
  err: (line: string) => void;
  /** Calls `listener` on each SIGINT or SIGTERM. */
  onSignal: (listener: () => void) => void;
  /** Ends the process at once. */
  exit: (code: number) => void;
  /** The time in milliseconds, for telling a repeated signal from a second one. */
  now: () => number;
}

/** The process's own streams, signals, clock and exit. */
export function processIo(): Io {
  return {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    onSignal: (listener) => {
      process.on("SIGINT", listener);
      process.on("SIGTERM", listener);
    },
    exit: (code) => process.exit(code),
    now: () => Date.now(),
  };
}

/**
 * A failure that ends a command with an exit code and one line for the user; `main`
 * prints it after `skiff <command>: `.
 */
export class CommandError extends Error {
  /** The exit code: {@linkcode EXIT.USAGE} or {@linkcode EXIT.UNREACHABLE}. */
  readonly code: number;

  /**
   * @param message One line, never a token or a payload.
   * @param code The exit code.
   */
  constructor(message: string, code: number = EXIT.USAGE) {
    super(message);
    this.name = "CommandError";
    this.code = code;
  }
}

/**
 * Reads an integer option.
 *
 * @returns The integer.
 * @throws {CommandError} With exit code 2 when `raw` is not an integer from `min` to `max`.
 */
export function integerOption(
  name: string,
  raw: string | undefined,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  const n = Number(raw);
  if (raw === undefined || !/^\s*-?\d+\s*$/.test(raw) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new CommandError(`'--${name}' must be an integer ${range}, received '${raw}'`);
  }
  return n;
}

/**
 * Reads a numeric option that may have a fraction (a rate).
 *
 * @returns The number.
 * @throws {CommandError} With exit code 2 when `raw` is not a number from `min` to `max`.
 */
export function numberOption(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new CommandError(`'--${name}' must be a number from ${min} to ${max}, received '${raw}'`);
  }
  return n;
}

/** The first line of an error's message, for a one-line report. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].trim() || (error instanceof Error ? error.name : "unknown error");
}
