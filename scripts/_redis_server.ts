/**
 * A private redis-server for the scripts that measure (bench, soak, scale): on a free port
 * of the loopback, in a temporary directory, with no persistence, stopped and removed by
 * `stop()`. Never another Redis. Written against `node:` APIs so that the benchmark runs it
 * on Deno, Node and Bun alike. Private to `scripts/`.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A redis-server this process started. */
export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** Its port. */
  port: number;
  /** Its process id (for its CPU time). */
  pid: number | undefined;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/** A TCP port free on the loopback now, never 6379. */
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

/** Whether something accepts connections on the port now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
  });
}

/**
 * Starts a redis-server and waits until it accepts connections.
 *
 * @param prefix The temporary directory's name prefix (`skiff-soak-`, say).
 * @returns Its URL, port and pid, and how to stop it.
 * @throws {Error} When it does not listen within 10 seconds.
 */
export async function startPrivateRedis(prefix: string): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const port = await freePort();
  const child = spawn("redis-server", [
    ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    ...["--dir", dir, "--logfile", join(dir, "redis.log")],
  ], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    if (await accepts(port)) {
      return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid, stop };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error("Cannot start redis-server: it did not listen within 10 seconds");
}
