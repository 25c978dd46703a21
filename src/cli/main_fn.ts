import process from "node:process";
import { parseArgs } from "node:util";
import { startLocalServer } from "../local/server.ts";
import { VERSION } from "../version.ts";

/** Exit codes of the `skiff` command. */
export const EXIT = {
  /** A clean stop. */
  OK: 0,
  /** Bad arguments, or a module that fails to import. */
  USAGE: 2,
  /** Redis cannot be reached at startup. */
  UNREACHABLE: 3,
} as const;

/** Where the command writes, and which signals end it; tests pass their own. */
export interface MainOptions {
  /** Lines for the user. */
  out?: (line: string) => void;
  /** Errors, one line each. */
  err?: (line: string) => void;
  /** Resolves when the command should stop; SIGINT or SIGTERM by default. */
  stopSignal?: Promise<unknown>;
}

const USAGE = `Usage: skiff <command> [options]

Commands:
  local    Serve the Upstash REST protocol in front of a redis-server
           --redis <url>       redis://[user:password@]host:port[/db] (default redis://127.0.0.1:6379)
           --port <n>          port to listen on (default 8079; 0 picks a free one)
           --host <address>    address to listen on (default 127.0.0.1)
           --token <token>     bearer token clients must send (or SKIFF_LOCAL_TOKEN)
           --latency <ms>      fault mode: delay each request
           --error-rate <0-1>  fault mode: answer this share of requests with 503
           --drop-rate <0-1>   fault mode: run, then drop this share of responses

  version  Print the version`;

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
 * @param options Output and stop signal, for tests.
 * @returns The exit code: 0 after a clean stop, 2 on bad arguments, 3 when Redis cannot be
 * reached at startup.
 */
export async function main(args: string[], options: MainOptions = {}): Promise<number> {
  const out = options.out ?? ((line: string) => console.log(line));
  const err = options.err ?? ((line: string) => console.error(line));
  const [command, ...rest] = args;
  switch (command) {
    case "local":
      return await local(rest, out, err, options.stopSignal ?? stopSignal());
    case "version":
    case "--version":
      out(VERSION);
      return EXIT.OK;
    case "help":
    case "--help":
    case "-h":
      out(USAGE);
      return EXIT.OK;
    default:
      err(command ? `skiff: unknown command '${command}'` : "skiff: missing command");
      err(USAGE);
      return EXIT.USAGE;
  }
}

async function local(
  args: string[],
  out: (line: string) => void,
  err: (line: string) => void,
  stop: Promise<unknown>,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        redis: { type: "string", default: "redis://127.0.0.1:6379" },
        port: { type: "string", default: "8079" },
        host: { type: "string", default: "127.0.0.1" },
        token: { type: "string" },
        latency: { type: "string" },
        "error-rate": { type: "string" },
        "drop-rate": { type: "string" },
      },
    }));
  } catch (error) {
    err(`skiff local: ${error instanceof Error ? error.message : "bad arguments"}`);
    return EXIT.USAGE;
  }
  const token = values.token ?? process.env.SKIFF_LOCAL_TOKEN;
  if (!token) {
    err("skiff local: a token is required: pass --token or set SKIFF_LOCAL_TOKEN");
    return EXIT.USAGE;
  }
  const numbers: Record<string, number | undefined> = {};
  for (
    const [name, max] of [["port", 65535], ["latency", Infinity], ["error-rate", 1], [
      "drop-rate",
      1,
    ]] as const
  ) {
    const raw = values[name];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (raw === "" || !Number.isFinite(n) || n < 0 || n > max) {
      err(`skiff local: --${name} must be a number from 0 to ${max}, received '${raw}'`);
      return EXIT.USAGE;
    }
    numbers[name] = n;
  }
  let redisUrl: URL;
  try {
    redisUrl = new URL(values.redis);
  } catch {
    err("skiff local: --redis must be a URL such as redis://127.0.0.1:6379");
    return EXIT.USAGE;
  }

  let server;
  try {
    server = await startLocalServer({
      redis: redisUrl,
      token,
      port: numbers.port,
      hostname: values.host,
      faults: {
        latencyMs: numbers.latency,
        errorRate: numbers["error-rate"],
        dropRate: numbers["drop-rate"],
      },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : "unknown error";
    err(`skiff local: ${message}`);
    return error instanceof TypeError ? EXIT.USAGE : EXIT.UNREACHABLE;
  }
  out(`skiff local: listening on ${server.url} (Redis at ${redisUrl.host})`);
  await stop;
  await server.close();
  out("skiff local: stopped");
  return EXIT.OK;
}

function stopSignal(): Promise<unknown> {
  return new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
}
