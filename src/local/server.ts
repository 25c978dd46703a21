/**
 * The HTTP side of `skiff/local`: the Upstash REST protocol (`POST /`, `/pipeline`,
 * `/multi-exec`, and commands in the path) in front of a real redis-server.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Buffer } from "node:buffer";
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { ConnectionPool } from "./connection.ts";
import { refusal, ScriptTable } from "./commands.ts";
import { itemJson } from "./json.ts";
import { concatBytes } from "../_util.ts";
import { RespError, type RespValue } from "./resp.ts";

/** Faults to inject for reliability tests; all off unless set. */
export interface FaultOptions {
  /** Milliseconds added before each request runs. */
  latencyMs?: number;
  /** Share of requests (0 to 1) answered 503 without running. */
  errorRate?: number;
  /**
   * Share of requests (0 to 1) that run, then lose their response (the socket drops). Only
   * `node:http` can drop a socket, so a server that may drop responses must be started with
   * a `dropRate` (0 allowed); without one it runs on Deno's or Bun's own HTTP server.
   */
  dropRate?: number;
  /** The source of randomness for the shares; `Math.random` by default. */
  random?: () => number;
}

/** Options of {@linkcode startLocalServer}. */
export interface LocalServerOptions {
  /** The redis-server to front, as `redis://[user:password@]host:port[/db]`. */
  redis: string | URL;
  /** The bearer token clients must present. */
  token: string;
  /** The port to listen on; 0 picks a free one. Defaults to 8079. */
  port?: number;
  /** The address to listen on. Defaults to `127.0.0.1`. */
  hostname?: string;
  /** The most Redis connections open at once. Defaults to 16. */
  poolSize?: number;
  /** The largest request body accepted, in bytes. Defaults to 10 MiB, as Upstash. */
  maxBodyBytes?: number;
  /** Faults for reliability tests. */
  faults?: FaultOptions;
  /** Where a line per error goes (never with the token or a payload). Defaults to stderr. */
  log?: (line: string) => void;
}

/** A running local server. */
export interface LocalServer {
  /** The base URL to give `@upstash/redis`, e.g. `http://127.0.0.1:8079`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /**
   * Faults in force; change them while the server runs. A `dropRate` above 0 needs a server
   * started with one (see {@linkcode FaultOptions.dropRate}).
   */
  faults: FaultOptions;
  /** Stops accepting, lets requests in flight finish, then closes the Redis connections. */
  close(): Promise<void>;
}

/** A request as both HTTP front ends hand it over. */
interface Incoming {
  method: string;
  path: string;
  authorization: string | undefined;
  encoding: string | undefined;
  /** Undefined when over the size limit. */
  body: Uint8Array | undefined;
}

/** An answer, or `DROP` to lose it after the command ran. */
type Answer = { status: number; json: string } | typeof DROP;

const DROP = Symbol("drop");

/** A listening HTTP front end. */
interface Listening {
  port: number;
  address: string;
  /** Whether it can drop a response's connection. */
  drops: boolean;
  close(): Promise<void>;
}

class BadRequest extends Error {}

const MiB = 1024 * 1024;

/**
 * Starts an Upstash REST server in front of a redis-server, after checking that Redis
 * answers. It runs on the runtime's own HTTP server under Deno and Bun, on `node:http`
 * under Node and whenever `faults.dropRate` is set.
 *
 * @example Start one on a free port
 * ```ts ignore
 * import { startLocalServer } from "@skiff/skiff/local";
 * import { Redis } from "@upstash/redis";
 *
 * const server = await startLocalServer({ redis: "redis://127.0.0.1:6379", token: "dev", port: 0 });
 * const redis = new Redis({ url: server.url, token: "dev" });
 * await redis.set("greeting", "hello");
 * await server.close();
 * ```
 *
 * @param options Where Redis is, the token, the port.
 * @returns The running server.
 * @throws {Error} When Redis cannot be reached or the port is taken.
 */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  if (!options.token) throw new TypeError("Cannot start local server: 'token' must not be empty");
  const redisUrl = new URL(options.redis);
  if (redisUrl.protocol !== "redis:") {
    throw new TypeError(
      `Cannot start local server: 'redis' must be a redis:// URL, received ${redisUrl.protocol}//`,
    );
  }
  const pool = new ConnectionPool(redisUrl, options.poolSize ?? 16);
  const ping = await pool.use((c) => c.send([["PING"]]));
  if (ping[0] instanceof RespError) {
    pool.close();
    throw new Error(`Cannot start local server: Redis answered PING with an error`);
  }

  const scripts = new ScriptTable();
  const log = options.log ?? ((line: string) => console.error(line));
  const maxBody = options.maxBodyBytes ?? 10 * MiB;
  const authorized = tokenCheck(options.token);
  let faults: FaultOptions = { ...options.faults };
  // Whether the HTTP server can drop a connection; known once it listens.
  let canDrop = false;

  async function answer(incoming: Incoming): Promise<Answer> {
    const { path, body } = incoming;
    // Redis's own error texts may quote user data, so only their first word is logged.
    const fail = (status: number, message: string, logged = message): Answer => {
      log(`skiff local: ${status} ${path}: ${logged}`);
      return { status, json: JSON.stringify({ error: message }) };
    };
    if (!authorized(incoming.authorization)) return fail(401, "Unauthorized");
    if (body === undefined) {
      return fail(400, `ERR max request size exceeded, limit is ${maxBody} bytes`);
    }
    let commands: string[][];
    try {
      commands = parseRequest(incoming.method, path, body);
    } catch (error) {
      if (error instanceof BadRequest) return fail(400, error.message);
      throw error;
    }
    for (const args of commands) {
      const refused = refusal(args);
      if (refused) return fail(400, refused);
    }

    const random = faults.random ?? Math.random;
    if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if (faults.errorRate && random() < faults.errorRate) {
      return fail(503, "ERR injected fault: service unavailable");
    }

    const transaction = path === "/multi-exec";
    const prepared = commands.map((args) => scripts.prepare(args));
    const batch = prepared.map((p) => p.args);
    let replies: RespValue[];
    try {
      replies = await pool.use((c) =>
        c.send(transaction ? [["MULTI"], ...batch, ["EXEC"]] : batch)
      );
    } catch {
      return fail(503, "ERR the local server cannot reach Redis");
    }
    if (faults.dropRate && random() < faults.dropRate) {
      if (!canDrop) {
        // `faults.dropRate` changed in place on a server started without one.
        return fail(
          500,
          "ERR this server cannot drop a response: start it with 'faults.dropRate' (0 allowed)",
        );
      }
      log(`skiff local: dropped the response of ${path} (fault mode)`);
      return DROP;
    }

    if (transaction) {
      const exec = replies[replies.length - 1];
      if (!Array.isArray(exec)) {
        const message = exec instanceof RespError ? exec.message : "ERR transaction aborted";
        return fail(400, message, errorCode(message));
      }
      replies = exec;
    }
    const fixed = replies.map((value, i) => prepared[i].reply?.(value) ?? value);
    fixed.forEach((value, i) => {
      if (value instanceof RespError) {
        log(`skiff local: ${path} ${commands[i][0].toUpperCase()}: ${errorCode(value.message)}`);
      }
    });
    const base64 = incoming.encoding?.toLowerCase() === "base64";
    if (path === "/pipeline" || transaction) {
      return { status: 200, json: `[${fixed.map((v) => itemJson(v, base64)).join(",")}]` };
    }
    return {
      status: fixed[0] instanceof RespError ? 400 : 200,
      json: itemJson(fixed[0], base64),
    };
  }

  const safely = (incoming: Incoming): Promise<Answer> =>
    answer(incoming).catch((error) => {
      const name = error instanceof Error ? error.name : "error";
      log(`skiff local: 500 ${incoming.path}: ${name}`);
      return {
        status: 500,
        json: JSON.stringify({ error: "ERR internal error of the local server" }),
      };
    });
  // Only node:http can drop a connection: a server that may drop responses runs on it.
  const listen = options.faults?.dropRate === undefined ? listenNative : undefined;
  const address = { port: options.port ?? 8079, hostname: options.hostname ?? "127.0.0.1" };
  let http: Listening;
  try {
    http = await (listen?.(safely, address, maxBody) ?? listenNode(safely, address, maxBody));
  } catch (error) {
    pool.close();
    throw error;
  }
  canDrop = http.drops;
  const host = http.address.includes(":") ? `[${http.address}]` : http.address;
  return {
    url: `http://${host}:${http.port}`,
    port: http.port,
    get faults() {
      return faults;
    },
    set faults(next: FaultOptions) {
      if (next.dropRate && !canDrop) {
        throw new TypeError(
          "Cannot drop responses: start the server with 'faults.dropRate' (0 allowed) to serve on node:http, which can drop a connection",
        );
      }
      faults = next;
    },
    async close() {
      await http.close();
      pool.close();
    },
  };
}

/** Where to listen. */
interface Address {
  port: number;
  hostname: string;
}

const JSON_TYPE = "application/json";
const UTF8 = new TextDecoder();

/** Deno's or Bun's own HTTP server, when the runtime has one: about half `node:http`'s cost there. */
function listenNative(
  answer: (incoming: Incoming) => Promise<Answer>,
  address: Address,
  maxBody: number,
): Promise<Listening> | undefined {
  const runtime = globalThis as unknown as {
    Deno?: {
      serve(
        options: Address & { onListen(addr: { port: number; hostname: string }): void },
        handler: (request: Request) => Promise<Response>,
      ): { addr: { port: number; hostname: string }; shutdown(): Promise<void> };
    };
    Bun?: {
      serve(options: Address & { fetch(request: Request): Promise<Response> }): {
        port: number;
        hostname: string;
        stop(closeActive?: boolean): Promise<void> | void;
      };
    };
  };
  const handler = async (request: Request): Promise<Response> => {
    let body;
    try {
      // A declared length within the limit is read in one piece, a stream's chunks cost more.
      const length = Number(request.headers.get("content-length") ?? NaN);
      body = length <= maxBody
        ? new Uint8Array(await request.arrayBuffer())
        : await readLimited(request.body, maxBody);
    } catch {
      // The client went away mid-body: nobody reads this answer.
      return new Response(null, { status: 400 });
    }
    const answered = await answer({
      method: request.method,
      path: pathOf(request.url.slice(request.url.indexOf("/", 8))),
      authorization: request.headers.get("authorization") ?? undefined,
      encoding: request.headers.get("upstash-encoding") ?? undefined,
      body,
    });
    // DROP is not answered here: a server that may drop runs on node:http.
    const { status, json } = answered as Exclude<Answer, typeof DROP>;
    return new Response(json, {
      status,
      headers: { "content-type": JSON_TYPE, "upstash-sync-token": randomUUID() },
    });
  };
  if (runtime.Deno?.serve) {
    const serveDeno = runtime.Deno.serve;
    return new Promise((resolve, reject) => {
      try {
        const server = serveDeno({
          ...address,
          onListen: ({ port, hostname }) =>
            resolve({
              port,
              address: hostname,
              drops: false,
              close: () => server.shutdown(),
            }),
        }, handler);
      } catch (error) {
        reject(error);
      }
    });
  }
  if (runtime.Bun?.serve) {
    const server = runtime.Bun.serve({ ...address, fetch: handler });
    return Promise.resolve({
      port: server.port,
      address: server.hostname,
      drops: false,
      close: async () => await server.stop(false),
    });
  }
  return undefined;
}

/** `node:http`, which can drop a response's socket: under Node, and for the drop fault. */
async function listenNode(
  answer: (incoming: Incoming) => Promise<Answer>,
  address: Address,
  maxBody: number,
): Promise<Listening> {
  // Requests in flight per socket, so that close() can end idle keep-alive sockets at
  // once and busy ones right after their response.
  const sockets = new Map<Socket, number>();
  let closing = false;
  const server = createServer(async (req, res) => {
    const socket = req.socket;
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    try {
      const answered = await answer({
        method: req.method ?? "GET",
        path: pathOf(req.url ?? "/"),
        authorization: req.headers.authorization,
        encoding: header(req.headers["upstash-encoding"]),
        body: await readBody(req, maxBody),
      });
      if (answered === DROP) socket.destroy();
      else reply(res, answered.status, answered.json);
    } catch {
      // The client went away mid-body: nobody reads this answer.
      socket.destroy();
    }
    const left = (sockets.get(socket) ?? 1) - 1;
    sockets.set(socket, left);
    if (closing && left === 0) socket.destroy();
  });
  server.on("connection", (socket: Socket) => {
    sockets.set(socket, 0);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.hostname, () => resolve());
  });
  const { port, address: bound } = server.address() as AddressInfo;
  return {
    port,
    address: bound,
    drops: true,
    close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [socket, busy] of sockets) if (busy === 0) socket.destroy();
      return closed;
    },
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const ROUTES = new Set(["/", "/pipeline", "/multi-exec"]);

function pathOf(url: string): string {
  // The routes clients use are their own pathname; anything else goes through URL parsing.
  return ROUTES.has(url) ? url : new URL(url, "http://local").pathname;
}

function errorCode(message: string): string {
  return message.split(" ")[0];
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * A check of `Authorization` headers against the token. The few header values accepted so
 * far are remembered, so a client pays the SHA-256 and the constant-time comparison once,
 * not on every request; a value never accepted is always checked in full.
 */
function tokenCheck(token: string): (header: string | undefined) => boolean {
  const expected = digest(token);
  const accepted = new Set<string>();
  return (header) => {
    if (header === undefined) return false;
    if (accepted.has(header)) return true;
    const match = /^Bearer (.+)$/i.exec(header);
    if (match === null || !timingSafeEqual(digest(match[1]), expected)) return false;
    // Only spellings of the scheme ("Bearer", "bearer", ...) differ, so a handful at most.
    if (accepted.size < 8) accepted.add(header);
    return true;
  };
}

function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | undefined> {
  // The whole body is read even when too large, so the answer reaches the client
  // instead of a dropped socket (which the client would retry six times).
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on("end", () => resolve(size <= max ? Buffer.concat(chunks) : undefined));
    req.on("error", reject);
  });
}

/** A fetch body whole, or undefined when over `max` bytes (read to its end all the same). */
async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  max: number,
): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size <= max) chunks.push(chunk);
    else chunks.length = 0;
  }
  if (size > max) return undefined;
  return chunks.length === 1 ? chunks[0] : concatBytes(chunks, size);
}

function parseRequest(method: string, path: string, body: Uint8Array): string[][] {
  if (path === "/" || path === "/pipeline" || path === "/multi-exec") {
    if (method !== "POST") {
      throw new BadRequest(`ERR ${path} accepts POST only, received ${method}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(UTF8.decode(body));
    } catch {
      throw new BadRequest("ERR the request body must be JSON");
    }
    if (path === "/") return [command(json, "the request body")];
    if (!Array.isArray(json) || json.length === 0) {
      throw new BadRequest(`ERR the ${path} body must be a non-empty array of commands`);
    }
    return json.map((item, i) => command(item, `command ${i + 1}`));
  }
  // Upstash also takes a command in the path: /set/key/value, the body as a last argument.
  const args = path.split("/").filter(Boolean).map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new BadRequest("ERR the path is not valid percent-encoding");
    }
  });
  if (body.length > 0) args.push(UTF8.decode(body));
  return [command(args, "the path")];
}

function command(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequest(`ERR ${where} must be a non-empty array of arguments`);
  }
  return value.map((arg, i) => {
    if (typeof arg === "string") return arg;
    if (typeof arg === "number" && Number.isFinite(arg)) return String(arg);
    if (typeof arg === "boolean") return String(arg);
    const kind = arg === null ? "null" : Array.isArray(arg) ? "array" : typeof arg;
    throw new BadRequest(
      `ERR argument ${i + 1} of ${where} must be a string, number or boolean, received ${kind}`,
    );
  });
}

function reply(res: ServerResponse, status: number, json: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": JSON_TYPE, "upstash-sync-token": randomUUID() });
  res.end(json);
}
