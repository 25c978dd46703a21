/**
 * `skiff local`: the Upstash REST server in front of a redis-server, until SIGINT or
 * SIGTERM.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { type LocalServer, startLocalServer } from "../local/server.ts";
import { EXIT, type Io, numberOption } from "./_io.ts";

/**
 * Runs `skiff local`.
 *
 * @param args The arguments after `local`.
 * @param io Output, signals and exit.
 * @returns The exit code.
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
    io.err(`skiff local: ${error instanceof Error ? error.message : "bad arguments"}`);
    return EXIT.USAGE;
  }
  const token = values.token ?? process.env.SKIFF_LOCAL_TOKEN;
  if (!token) {
    io.err("skiff local: a token is required: pass --token or set SKIFF_LOCAL_TOKEN");
    return EXIT.USAGE;
  }
  const port = numberOption(io, "local", "port", values.port, 0, 65535);
  const optional = (name: "latency" | "error-rate" | "drop-rate", max: number) =>
    values[name] === undefined ? null : numberOption(io, "local", name, values[name], 0, max);
  const latencyMs = optional("latency", Infinity);
  const errorRate = optional("error-rate", 1);
  const dropRate = optional("drop-rate", 1);
  if ([port, latencyMs, errorRate, dropRate].includes(undefined)) return EXIT.USAGE;
  let redisUrl: URL;
  try {
    redisUrl = new URL(values.redis);
  } catch {
    io.err("skiff local: --redis must be a URL such as redis://127.0.0.1:6379");
    return EXIT.USAGE;
  }

  let server: LocalServer;
  try {
    server = await startLocalServer({
      redis: redisUrl,
      token,
      port,
      hostname: values.host,
      faults: {
        latencyMs: latencyMs ?? undefined,
        errorRate: errorRate ?? undefined,
        dropRate: dropRate ?? undefined,
      },
    });
  } catch (error) {
    io.err(`skiff local: ${error instanceof Error ? error.message : "unknown error"}`);
    return error instanceof TypeError ? EXIT.USAGE : EXIT.UNREACHABLE;
  }
  io.out(`skiff local: listening on ${server.url} (Redis at ${redisUrl.host})`);
  await new Promise<void>((resolve) => io.onSignal(resolve));
  await server.close();
  io.out("skiff local: stopped");
  return EXIT.OK;
}
