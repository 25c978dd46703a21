/**
 * What the benchmark runs on: a private redis-server on a free port (never 6379), `skiff
 * local` in front of it as a process of its own (as a developer runs it, and as Upstash is
 * a service of its own), a TCP client for `INFO`, and counters of the HTTP requests this
 * process sends. Written against `node:` APIs so that Deno and Bun run it alike. Private
 * to `scripts/bench.ts`.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Buffer } from "node:buffer";
import diagnostics from "node:diagnostics_channel";
import process from "node:process";
import { readFileSync } from "node:fs";
import { Socket } from "node:net";
import { startPrivateRedis } from "./_redis_server.ts";
import { requestStart } from "../src/_socket_http.ts";

/** The running services. */
export interface BenchServices {
  /** The private redis-server's port. */
  port: number;
  /** `skiff local` in front of it: its base URL. */
  local: { url: string };
  /** Its REST token. */
  token: string;
  /** Redis commands run since the last call (every command but INFO and CONFIG). */
  commands(): Promise<number>;
  /** CPU milliseconds redis-server used so far (user + system), or NaN off Linux. */
  redisCpuMs(): number;
  /** The same for `skiff local`. */
  localCpuMs(): number;
  /** HTTP requests sent by this process so far, to the REST server and to `other`. */
  requests: { rest: number; other: number };
  /** Stops everything. */
  close(): Promise<void>;
}

/** A tiny RESP client, one request at a time: enough for INFO and CONFIG RESETSTAT. */
class Resp {
  readonly #socket: Socket;
  #buffer = "";
  #waiting?: (reply: string) => void;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.#buffer += chunk;
      this.#drain();
    });
  }

  #drain(): void {
    if (!this.#waiting) return;
    const b = this.#buffer;
    const end = b.indexOf("\r\n");
    if (end < 0) return;
    if (b[0] === "$") {
      const length = Number(b.slice(1, end));
      // INFO is ASCII: characters are bytes.
      if (b.length < end + 2 + length + 2) return;
      this.#buffer = b.slice(end + 2 + length + 2);
      this.#take(b.slice(end + 2, end + 2 + length));
    } else {
      this.#buffer = b.slice(end + 2);
      this.#take(b.slice(0, end));
    }
  }

  #take(reply: string): void {
    const waiting = this.#waiting!;
    this.#waiting = undefined;
    waiting(reply);
  }

  send(...args: string[]): Promise<string> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#socket.write(
        `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`,
      );
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Sums `calls=` over every command but `info` and `config` (the measurement's own). */
export function commandCount(info: string): number {
  let total = 0;
  for (const [, name, calls] of info.matchAll(/^cmdstat_([^:|]+)[^:]*:calls=(\d+)/gm)) {
    if (name !== "info" && name !== "config") total += Number(calls);
  }
  return total;
}

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    socket.once("error", reject);
    socket.connect(port, "127.0.0.1", () => {
      socket.removeListener("error", reject);
      resolve(socket);
    });
  });
}

/** CPU milliseconds a process used so far (user + system), from /proc; NaN off Linux. */
function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    // utime and stime, fields 14 and 15 of stat (12 and 13 after the name).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** The first match of `pattern` in a child's output, or its output when it exits first. */
function waitFor(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let output = "";
    let found = false;
    const read = (chunk: Buffer) => {
      // Read to the end all the same, so that a full pipe never blocks the child.
      if (found) return;
      output += chunk.toString("utf8");
      const match = output.match(pattern);
      if (match) {
        found = true;
        resolve(match);
      }
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    child.once(
      "exit",
      (code) => reject(new Error(`Cannot start ${what} (exit ${code}):\n${output}`)),
    );
  });
}

/**
 * Starts a private redis-server (`./_redis_server.ts`), `skiff local` in front of
 * it (`cli`: the command that runs the `skiff` CLI on this runtime), and counts this
 * process's HTTP requests: those of the global `fetch` (wrapped), those of `node:http`
 * (its `http.client.request.start` diagnostics channel) and those of `skiff/node` and
 * `skiff/deno` (their own channel).
 */
export async function startBenchServices(cli: string[]): Promise<BenchServices> {
  const redis = await startPrivateRedis("skiff-bench-");
  const resp = new Resp(await connect(redis.port));
  const token = "bench-token-0123456789";
  const local = spawn(cli[0], [...cli.slice(1), "local", "--redis", redis.url, "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SKIFF_LOCAL_TOKEN: token },
  });
  const localExited = new Promise<void>((resolve) => local.once("exit", () => resolve()));
  const [, url] = await waitFor(local, /listening on (\S+)/, "skiff local");
  const requests = { rest: 0, other: 0 };
  const original = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const target = typeof input === "string"
      ? input
      : input instanceof URL
      ? input.href
      : input.url;
    if (target.startsWith(url)) requests.rest++;
    else requests.other++;
    return original(input, init);
  }) as typeof fetch;
  const host = new URL(url).host;
  const onHttp = (message: unknown) => {
    const request = (message as { request: { getHeader(name: string): unknown } }).request;
    if (request.getHeader("host") === host) requests.rest++;
    else requests.other++;
  };
  diagnostics.subscribe("http.client.request.start", onHttp);
  const onSkiff = (message: unknown) => {
    if ((message as { url: URL }).url.host === host) requests.rest++;
    else requests.other++;
  };
  diagnostics.subscribe(requestStart.name, onSkiff);
  await resp.send("CONFIG", "RESETSTAT");
  return {
    port: redis.port,
    local: { url },
    token,
    requests,
    async commands() {
      const count = commandCount(await resp.send("INFO", "commandstats"));
      await resp.send("CONFIG", "RESETSTAT");
      return count;
    },
    redisCpuMs: () => cpuMsOf(redis.pid),
    localCpuMs: () => cpuMsOf(local.pid),
    async close() {
      globalThis.fetch = original;
      diagnostics.unsubscribe("http.client.request.start", onHttp);
      diagnostics.unsubscribe(requestStart.name, onSkiff);
      local.kill("SIGTERM");
      await localExited;
      resp.close();
      await redis.stop();
    },
  };
}
