import process from "node:process";

/** Exit codes of the `skiff` command. */
export const EXIT = {
  /** A clean stop. */
  OK: 0,
  /** Bad arguments, or a module that fails to import. */
  USAGE: 2,
  /** Redis cannot be reached at startup: wrap the command in a retry loop on this code. */
  UNREACHABLE: 3,
  /** A second SIGINT or SIGTERM ended the command before its graceful stop finished. */
  INTERRUPTED: 130,
} as const;

/** Where a command writes, how it hears signals and how it exits; tests pass their own. */
export interface Io {
  /** Lines for the user. */
  out: (line: string) => void;
  /** Errors, one line each. */
  err: (line: string) => void;
  /** Calls `listener` on each SIGINT or SIGTERM. */
  onSignal: (listener: () => void) => void;
  /** Ends the process at once. */
  exit: (code: number) => void;
}

/** The process's own streams, signals and exit. */
export function processIo(): Io {
  return {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    onSignal: (listener) => {
      process.on("SIGINT", listener);
      process.on("SIGTERM", listener);
    },
    exit: (code) => process.exit(code),
  };
}

/**
 * Reads a numeric option, writing one clear line when it is not a number in range.
 *
 * @returns The number, or `undefined` after reporting the error.
 */
export function numberOption(
  io: Io,
  command: string,
  name: string,
  raw: string | undefined,
  min: number,
  max = Infinity,
): number | undefined {
  const n = Number(raw);
  if (raw === undefined || raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    const range = max === Infinity ? `at least ${min}` : `from ${min} to ${max}`;
    io.err(`skiff ${command}: --${name} must be a number ${range}, received '${raw}'`);
    return undefined;
  }
  return n;
}
