import { VERSION } from "../version.ts";
import { EXIT, type Io, processIo } from "./_io.ts";
import { localCommand } from "./local_command.ts";
import { schedulerCommand } from "./scheduler_command.ts";
import { workerCommand } from "./worker_command.ts";

export { EXIT, type Io };

const USAGE = `Usage: skiff <command> [options]

Commands:
  worker <module...>   Import the modules that declare actors, then process their queues
           --queues <a,b>            queues to consume (default: those of the declared actors)
           --concurrency <n>         messages processed at once (default 8)
           --shutdown-timeout <ms>   time messages in flight get on SIGINT/SIGTERM (default 30000)
           The broker is the one a module set with setBroker(), else Redis from
           UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN.

  scheduler <module...>   Import the modules that declare schedules, then fire each slot once
           Schedules: those of getScheduler() and of every Scheduler a module exports, ticked
           at each whole second until SIGINT/SIGTERM; several scheduler processes on one Redis
           still fire each slot once. The broker is the one a module set with setBroker(),
           else Redis from UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN.

  local    Serve the Upstash REST protocol in front of a redis-server
           --redis <url>       redis://[user:password@]host:port[/db] (default redis://127.0.0.1:6379)
           --port <n>          port to listen on (default 8079; 0 picks a free one)
           --host <address>    address to listen on (default 127.0.0.1)
           --token <token>     bearer token clients must send (or SKIFF_LOCAL_TOKEN)
           --latency <ms>      fault mode: delay each request
           --error-rate <0-1>  fault mode: answer this share of requests with 503
           --drop-rate <0-1>   fault mode: run, then drop this share of responses

  version  Print the version

Exit codes: 0 clean stop, 2 bad arguments, a module that fails to import or no schedule,
3 Redis unreachable at startup, 130 a second signal before the graceful stop ended.`;

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
 * @param io Output, signals and exit, for tests; the process's own by default.
 * @returns The exit code: 0 after a clean stop, 2 on bad arguments, 3 when Redis cannot be
 * reached at startup.
 */
export async function main(args: string[], io: Partial<Io> = {}): Promise<number> {
  const full: Io = { ...processIo(), ...io };
  const [command, ...rest] = args;
  switch (command) {
    case "worker":
      return await workerCommand(rest, full);
    case "scheduler":
      return await schedulerCommand(rest, full);
    case "local":
      return await localCommand(rest, full);
    case "version":
    case "--version":
      full.out(VERSION);
      return EXIT.OK;
    case "help":
    case "--help":
    case "-h":
      full.out(USAGE);
      return EXIT.OK;
    default:
      full.err(command ? `skiff: unknown command '${command}'` : "skiff: missing command");
      full.err(USAGE);
      return EXIT.USAGE;
  }
}
