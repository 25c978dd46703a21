/**
 * A private redis-server for the scripts that measure (soak, scale): on a free port of the
 * loopback, in a temporary directory, with no persistence, stopped and removed by `stop()`.
 * Never another Redis. Private to `scripts/`.
 *
 * @module
 */

/** A redis-server this process started. */
export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/** A port free on the loopback now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Starts a redis-server and waits until it accepts connections.
 *
 * @param prefix The temporary directory's name prefix (`skiff-soak-`, say).
 * @returns Its URL and how to stop it.
 * @throws {Error} When it does not listen within 10 seconds.
 */
export async function startPrivateRedis(prefix: string): Promise<PrivateRedis> {
  const dir = await Deno.makeTempDir({ prefix });
  const port = freePort();
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
      .concat(["--dir", dir, "--logfile", `${dir}/redis.log`]),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { url: `redis://127.0.0.1:${port}`, stop };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await stop();
  throw new Error("Cannot start redis-server: it did not listen within 10 seconds");
}
