import { EXIT, type Io } from "./_io.ts";

/**
 * Signals within this many milliseconds of the first are the same keypress delivered
 * twice, not a second request: `bun run` forwards the SIGINT of a Ctrl-C that the
 * terminal also sent to the whole process group, so the command hears it twice, a few
 * milliseconds apart. People pressing Ctrl-C again to force an exit are much slower.
 */
export const SAME_KEYPRESS_MS = 250;

/**
 * Calls `stop` on the first SIGINT or SIGTERM, ignores repeats within
 * {@linkcode SAME_KEYPRESS_MS} of it, and exits at once with 130 on a later one.
 *
 * @param io Signals, clock, output and exit.
 * @param command The command's name, for the line written on a forced exit.
 * @param stop Starts the graceful stop.
 */
export function onStopSignals(io: Io, command: string, stop: () => void): void {
  let first: number | undefined;
  io.onSignal(() => {
    const now = io.now();
    if (first === undefined) {
      first = now;
      return stop();
    }
    if (now - first < SAME_KEYPRESS_MS) return;
    io.err(`skiff ${command}: second signal, exiting at once`);
    io.exit(EXIT.INTERRUPTED);
  });
}
