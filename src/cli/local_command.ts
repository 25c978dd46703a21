/**
 * `skiff local`: the Upstash REST server in front of a redis-server, until SIGINT or
 * SIGTERM.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { type LocalServer, startLocalServer } from "../local/server.ts";
import { CommandError, EXIT, firstLine, integerOption, type Io, numberOption } from "./_io.ts";

/**
 * Runs `skiff local`.
 *
 * @param args The arguments after `local`.
 * @param io Output, signals and exit.
 * @returns The exit code: 0 after a clean stop.
 * @throws {CommandError} Exit code 2 on bad arguments, 3 when Redis cannot be reached.
 */
export async function localCommand(args: string[], io: Io): Promise<number> {
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
    throw new CommandError(`${firstLine(error)}; run 'skiff local --help' for the options`);
  }
  const token = values.token ?? process.env.SKIFF_LOCAL_TOKEN;
  if (!token) throw new CommandError("a token is required: pass --token or set SKIFF_LOCAL_TOKEN");
  const port = integerOption("port", values.port, 0, 65535);
  const latencyMs = values.latency === undefined
    ? undefined
    : integerOption("latency", values.latency, 0, 2_147_483_647);
  const rate = (name: "error-rate" | "drop-rate") =>
    values[name] === undefined ? undefined : numberOption(name, values[name], 0, 1);
  const errorRate = rate("error-rate");
  const dropRate = rate("drop-rate");
  let redisUrl: URL;
  try {
    redisUrl = new URL(values.redis);
  } catch {
    throw new CommandError("'--redis' must be a URL such as redis://127.0.0.1:6379");
  }

  let server: LocalServer;
  try {
    server = await startLocalServer({
      redis: redisUrl,
      token,
      port,
      hostname: values.host,
      faults: { latencyMs, errorRate, dropRate },
    });
  } catch (error) {
    throw new CommandError(
      firstLine(error),
      error instanceof TypeError ? EXIT.USAGE : EXIT.UNREACHABLE,
    );
  }
  io.out(`skiff local: listening on ${server.url} (Redis at ${redisUrl.host})`);
  await new Promise<void>((resolve) => io.onSignal(resolve));
  await server.close();
  io.out("skiff local: stopped");
  return EXIT.OK;
}
