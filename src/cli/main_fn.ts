import { VERSION } from "../version.ts";
import { HELP } from "./_help.ts";
import { CommandError, EXIT, firstLine, type Io, processIo } from "./_io.ts";
import { deadCommand } from "./dead_command.ts";
import { flushCommand } from "./flush_command.ts";
import { localCommand } from "./local_command.ts";
import { schedulerCommand } from "./scheduler_command.ts";
import { schedulesCommand } from "./schedules_command.ts";
import { statsCommand } from "./stats_command.ts";
import { workerCommand } from "./worker_command.ts";

export { EXIT, type Io };

const COMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = {
  worker: workerCommand,
  scheduler: schedulerCommand,
  local: localCommand,
  stats: statsCommand,
  dead: deadCommand,
  flush: flushCommand,
  schedules: schedulesCommand,
  dashboard: dashboard,
};

/**
 * `skiff dashboard`, loaded only when run: it needs `hono`, an optional peer dependency
 * that every other command runs without.
 */
async function dashboard(args: string[], io: Io): Promise<number> {
  let module: typeof import("./dashboard_command.ts");
  try {
    module = await import("./dashboard_command.ts");
  } catch (error) {
    if (/hono/.test(firstLine(error))) {
      throw new CommandError(
        "the dashboard needs the 'hono' package: install it beside skiff (npm install hono)",
      );
    }
    throw error;
  }
  return await module.dashboardCommand(args, io);
}

/**
 * Runs the `skiff` command.
 *
 * @example Print the version
 * ```ts
 * import { main } from "@skiff/skiff/cli";
 *
 * const lines: string[] = [];
 * const code = await main(["version"], { out: (line) => lines.push(line) });
 * console.assert(code === 0 && lines.length === 1);
 * ```
 *
 * @param args The arguments after `skiff`.
 * @param io Output, signals, clock and exit, for tests; the process's own by default.
 * @returns The exit code: 0 after a clean stop or help, 2 on bad arguments or
 *   configuration, 3 when Redis cannot be reached at startup (see {@linkcode EXIT}).
 */
export async function main(args: string[], io: Partial<Io> = {}): Promise<number> {
  const full: Io = { ...processIo(), ...io };
  const [command = "", ...rest] = args;
  if (command in COMMANDS) {
    const before = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
    if (before.includes("--help") || before.includes("-h")) {
      full.out(HELP[command]);
      return EXIT.OK;
    }
    try {
      return await COMMANDS[command](rest, full);
    } catch (error) {
      if (error instanceof CommandError) {
        full.err(`skiff ${command}: ${error.message}`);
        return error.code;
      }
      const name = error instanceof Error ? error.name : typeof error;
      full.err(`skiff ${command}: unexpected ${name}: ${firstLine(error)}`);
      return EXIT.FAILED;
    }
  }
  switch (command) {
    case "version":
    case "--version":
    case "-v":
      full.out(VERSION);
      return EXIT.OK;
    case "help":
    case "--help":
    case "-h": {
      const topic = rest[0] ?? "";
      if (!(topic in HELP)) {
        full.err(
          `skiff help: unknown command '${topic}'; commands: ${Object.keys(COMMANDS).join(", ")}`,
        );
        return EXIT.USAGE;
      }
      full.out(HELP[topic]);
      return EXIT.OK;
    }
    default:
      full.err(command ? `skiff: unknown command '${command}'` : "skiff: missing command");
      full.err("Run 'skiff --help' for the commands.");
      return EXIT.USAGE;
  }
}
