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
import process from "node:process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

/** A free TCP port on 127.0.0.1, never 6379. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    if (port !== 6379) return port;
  }
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

async function connect(port: number): Promise<Socket> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = new Socket();
        socket.once("error", reject);
        socket.connect(port, "127.0.0.1", () => {
          socket.removeListener("error", reject);
          resolve(socket);
        });
      });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
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

/** A child process and a promise of its exit. */
function start(command: string[], options: { env?: Record<string, string> } = {}) {
  const child = spawn(command[0], command.slice(1), {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, exited };
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
 * Starts a redis-server in a temporary directory on a free port, `skiff local` in front of
 * it (`cli`: the command that runs the `skiff` CLI on this runtime), and counts this
 * process's HTTP requests (by wrapping the global `fetch`).
 */
export async function startBenchServices(cli: string[]): Promise<BenchServices> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-"));
  const redis = start([
    "redis-server",
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
  ]);
  const resp = new Resp(await connect(port));
  const token = "bench-token-0123456789";
  const local = start([...cli, "local", "--redis", `redis://127.0.0.1:${port}`, "--port", "0"], {
    env: { SKIFF_LOCAL_TOKEN: token },
  });
  const [, url] = await waitFor(local.child, /listening on (\S+)/, "skiff local");
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
  await resp.send("CONFIG", "RESETSTAT");
  return {
    port,
    local: { url },
    token,
    requests,
    async commands() {
      const count = commandCount(await resp.send("INFO", "commandstats"));
      await resp.send("CONFIG", "RESETSTAT");
      return count;
    },
    redisCpuMs: () => cpuMsOf(redis.child.pid),
    localCpuMs: () => cpuMsOf(local.child.pid),
    async close() {
      globalThis.fetch = original;
      local.child.kill("SIGTERM");
      await local.exited;
      resp.close();
      redis.child.kill("SIGTERM");
      await redis.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
