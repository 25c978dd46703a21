/**
 * What the soak runs on: a private redis-server (or the one `SKIFF_TEST_REDIS_URL` names),
 * two local Upstash REST servers in front of it (one in fault mode, one clean for
 * counting), and a proxy that makes a share of the faulty path's requests slow. Private to
 * `scripts/soak.ts`.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Buffer } from "node:buffer";
import { type LocalServer, startLocalServer } from "../src/local/mod.ts";
import { startPrivateRedis } from "./_redis_server.ts";

/** The list, under a soak's namespace, that its workers append their events to. */
export const EVENTS_KEY = "soak:events";

/** The faults of the faulty path. */
export interface SoakFaults {
  /** Share of requests answered 503 without running. */
  errorRate: number;
  /** Share of requests that run, then lose their response. */
  dropRate: number;
  /** Share of requests delayed by `slowMs` before they reach the server. */
  slowRate: number;
  /** How long a slow request waits, in milliseconds. */
  slowMs: number;
  /** The seed of every fault's randomness. */
  seed: number;
}

/** The running services. */
export interface SoakServices {
  /** The REST token of both servers. */
  token: string;
  /** The faulty path: the slow proxy in front of the server in fault mode. */
  faultyUrl: string;
  /** The clean path, for counting: the same Redis, no faults. */
  cleanUrl: string;
  /** The server in fault mode, to read what it injected. */
  faulty: LocalServer;
  /** What the faulty path injected so far. */
  injected: { errors: number; drops: number; slow: number };
  /** Stops everything started. */
  close(): Promise<void>;
}

/**
 * A small seeded generator (mulberry32): the same seed, the same faults in the same order
 * of requests.
 *
 * @param seed Any integer.
 * @returns Numbers in [0, 1).
 */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Waits `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts the services: Redis (its own unless `redisUrl` is given), the server in fault
 * mode, the clean server, and the slow proxy in front of the faulty one.
 *
 * @param faults The faults of the faulty path.
 * @param redisUrl A redis-server to use instead of starting one (never a shared one).
 * @returns The services.
 */
export async function startServices(faults: SoakFaults, redisUrl?: string): Promise<SoakServices> {
  const redis = redisUrl
    ? { url: redisUrl, stop: () => Promise.resolve() }
    : await startPrivateRedis("skiff-soak-");
  const token = `soak-${crypto.randomUUID()}`;
  const injected = { errors: 0, drops: 0, slow: 0 };
  const log = (line: string) => {
    if (line.includes("injected fault")) injected.errors++;
    else if (line.includes("dropped the response")) injected.drops++;
  };
  const faulty = await startLocalServer({
    redis: redis.url,
    token,
    port: 0,
    poolSize: 32,
    log,
    faults: {
      errorRate: faults.errorRate,
      dropRate: faults.dropRate,
      random: seeded(faults.seed),
    },
  });
  const clean = await startLocalServer({ redis: redis.url, token, port: 0, log: () => {} });
  const proxy = await startSlowProxy(faulty.url, faults, () => injected.slow++);
  return {
    token,
    faultyUrl: proxy.url,
    cleanUrl: clean.url,
    faulty,
    injected,
    close: async () => {
      await proxy.close();
      await faulty.close();
      await clean.close();
      await redis.stop();
    },
  };
}

/**
 * A proxy that delays a share of requests, then forwards them; a response the server
 * dropped is dropped here too, so the client sees what it would see without the proxy.
 * (`FaultOptions.latencyMs` of the local server delays every request, not a share.)
 */
async function startSlowProxy(
  target: string,
  faults: SoakFaults,
  onSlow: () => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const random = seeded(faults.seed + 1);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      if (faults.slowRate > 0 && random() < faults.slowRate) {
        onSlow();
        await delay(faults.slowMs);
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === "string" && name !== "host" && name !== "connection") {
          headers[name] = value;
        }
      }
      try {
        const answer = await fetch(`${target}${req.url ?? "/"}`, {
          method: req.method,
          headers,
          body: req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.concat(chunks),
        });
        const body = Buffer.from(await answer.arrayBuffer());
        const kept: Record<string, string> = {};
        for (const name of ["content-type", "upstash-sync-token"]) {
          const value = answer.headers.get(name);
          if (value !== null) kept[name] = value;
        }
        res.writeHead(answer.status, kept);
        res.end(body);
      } catch {
        req.socket.destroy();
      }
    });
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
