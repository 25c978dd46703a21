/**
 * HTTP/1.1 on kept-alive connections, over whatever socket a runtime opens: what
 * `skiff/deno` (`Deno.connect`) and `skiff/node` (`node:net`) send with. A runtime's
 * `fetch`, and `node:http`, spend several times the CPU of this on a small request (they
 * build requests, answers, header objects and streams). Private to skiff.
 */
import { channel } from "node:diagnostics_channel";
import type { HttpAnswer, HttpCall, HttpSend } from "./_http.ts";
import { concatBytes } from "./_util.ts";

/** A socket, as the client reads and writes it. */
export interface Connection {
  /** Reads into `buffer`; the count read, or `null` at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes `bytes`; the count written. */
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
  /** Whether the peer is known to have closed it (a connection at rest is then not reused). */
  readonly ended?: boolean;
  /** Lets the process exit while the connection rests in the pool, and holds it again. */
  unref?(): void;
  ref?(): void;
}

/** Opens a connection; for TLS, `caCerts` (PEM, the tests' hook) are the CAs trusted if given. */
export type Open = (
  secure: boolean,
  hostname: string,
  port: number,
  caCerts?: string[],
) => Promise<Connection>;

/** A connection at rest in the pool, and since when. */
interface Idle {
  connection: Connection;
  since: number;
}

/**
 * How long a connection may rest before it is not reused: servers close idle ones after a
 * few seconds (Node's after 5), and a request written as the server closes is lost.
 */
const IDLE_MS = 4_000;
/** The most connections kept at rest per origin; more are closed after their answer. */
const MAX_IDLE = 64;
/** The longest head (status line and headers) read. */
const MAX_HEAD_BYTES = 64 * 1024;

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/**
 * Told `{ url }` of each request as it starts, as `node:http`'s `http.client.request.start`
 * is: the benchmark and the tests count requests with it.
 */
export const requestStart = channel("skiff.http.request.start");

/** Test hooks: trust these CA certificates (PEM) for TLS. */
export const tls: { caCerts?: string[] } = {};

/** A client: its `send`, and `closeIdle()` (for tests, whose resource checks count sockets). */
export interface Http1Client {
  send: HttpSend;
  closeIdle(): void;
}

/** Why a connection gave no answer: sent again once when it was a reused one. */
class NoAnswer extends Error {
  constructor(cause?: unknown) {
    super("Cannot send: the connection closed before an answer came", { cause });
    this.name = "ConnectionClosed";
  }
}

/**
 * An HTTP/1.1 client over the connections `open` makes. Its `send` writes one request on a
 * kept-alive connection and reads the answer to its end. A request whose reused connection
 * turns out closed before any byte of an answer is sent once more on a new one. It rejects
 * when no answer came (refused, reset, aborted); an answer of any status resolves. Answers
 * framed by `Content-Length`, chunked, or by the end of the connection are read; interim
 * (1xx) answers are skipped; no redirect is followed.
 */
export function http1Client(open: Open): Http1Client {
  const pools = new Map<string, Idle[]>();
  async function send(call: HttpCall): Promise<HttpAnswer> {
    const { url, signal } = call;
    const secure = url.protocol === "https:";
    if (!secure && url.protocol !== "http:") {
      throw new TypeError(
        `Cannot send to ${url.protocol}//: only http:// and https:// are supported`,
      );
    }
    signal?.throwIfAborted();
    if (requestStart.hasSubscribers) requestStart.publish({ url });
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(url.port) || (secure ? 443 : 80);
    const origin = `${url.protocol}//${url.host}`;
    const request = encode(call, url.host);
    for (let reused = true;;) {
      const idle: Connection | undefined = reused ? take(origin) : undefined;
      reused = idle !== undefined;
      const connection = idle ?? await opening(open(secure, hostname, port, tls.caCerts), signal);
      if (signal?.aborted) {
        give(origin, connection);
        signal.throwIfAborted();
      }
      const abort = () => connection.close();
      signal?.addEventListener("abort", abort, { once: true });
      try {
        const { answer, keep } = await exchange(connection, request, call.method);
        if (keep) give(origin, connection);
        else connection.close();
        return answer;
      } catch (error) {
        closeQuietly(connection);
        signal?.throwIfAborted();
        if (reused && error instanceof NoAnswer) continue;
        throw error instanceof NoAnswer && error.cause !== undefined ? error.cause : error;
      } finally {
        signal?.removeEventListener("abort", abort);
      }
    }
  }

  function take(origin: string): Connection | undefined {
    const idle = pools.get(origin);
    const now = performance.now();
    for (let rest = idle?.pop(); rest; rest = idle?.pop()) {
      if (now - rest.since < IDLE_MS && !rest.connection.ended) {
        rest.connection.ref?.();
        return rest.connection;
      }
      closeQuietly(rest.connection);
    }
    return undefined;
  }

  function give(origin: string, connection: Connection): void {
    let idle = pools.get(origin);
    if (!idle) pools.set(origin, idle = []);
    if (idle.length >= MAX_IDLE) connection.close();
    else {
      connection.unref?.();
      idle.push({ connection, since: performance.now() });
    }
  }

  return {
    send,
    closeIdle() {
      for (const idle of pools.values()) {
        for (const { connection } of idle) closeQuietly(connection);
      }
      pools.clear();
    },
  };
}

/**
 * A connection being opened, or the signal's reason when it aborts first (a peer that never
 * answers the handshake would hold the request for the system's connect timeout, minutes);
 * a connection that comes after is closed.
 */
function opening(pending: Promise<Connection>, signal?: AbortSignal | null): Promise<Connection> {
  if (!signal) return pending;
  return new Promise((resolve, reject) => {
    const abort = () => {
      reject(signal.reason);
      pending.then(closeQuietly, () => {});
    };
    signal.addEventListener("abort", abort, { once: true });
    // The listener goes in the same turn as the outcome: an abort after it closes nothing.
    pending.then((connection) => {
      signal.removeEventListener("abort", abort);
      resolve(connection);
    }, (error) => {
      signal.removeEventListener("abort", abort);
      reject(error);
    });
  });
}

function closeQuietly(connection: Connection): void {
  try {
    connection.close();
  } catch {
    // Closed already.
  }
}

/** The request's bytes: head and body in one buffer, for one write. */
function encode(call: HttpCall, host: string): Uint8Array {
  let head = `${call.method} ${call.url.pathname}${call.url.search} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [name, value] of Object.entries(call.headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new TypeError("Cannot send: a header holds a line break");
    }
    const lower = name.toLowerCase();
    if (lower !== "host" && lower !== "content-length" && lower !== "connection") {
      head += `${name}: ${value}\r\n`;
    }
  }
  const { body } = call;
  if (body === undefined) return encoder.encode(`${head}\r\n`);
  if (typeof body === "string") {
    const bytes = encoder.encode(body);
    if (bytes.length === body.length) {
      // ASCII: the head and the body encode together.
      return encoder.encode(`${head}content-length: ${bytes.length}\r\n\r\n${body}`);
    }
    return join(encoder.encode(`${head}content-length: ${bytes.length}\r\n\r\n`), bytes);
  }
  return join(encoder.encode(`${head}content-length: ${body.length}\r\n\r\n`), body);
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  return concatBytes([a, b], a.length + b.length);
}

/** Bytes read from a connection, consumed from the front. */
class Reader {
  #buffer = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;
  /** Whether any byte came. */
  any = false;

  constructor(readonly connection: Connection) {}

  get available(): number {
    return this.#end - this.#start;
  }

  /** Reads more; false at the end of the connection. */
  async fill(): Promise<boolean> {
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buffer.length) {
      // Full: move what is unread to the front, into a buffer twice as large if it fills half.
      const size = this.available;
      if (size * 2 > this.#buffer.length) {
        const next = new Uint8Array(this.#buffer.length * 2);
        next.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = next;
      } else {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      }
      this.#start = 0;
      this.#end = size;
    }
    let n: number | null;
    try {
      n = await this.connection.read(this.#buffer.subarray(this.#end));
    } catch (error) {
      if (!this.any) throw new NoAnswer(error);
      throw error;
    }
    if (n === null) return false;
    this.any = true;
    this.#end += n;
    return true;
  }

  /**
   * Reads until `n` bytes are at hand.
   *
   * @throws {Error} When the connection ends first (`NoAnswer` if nothing came at all).
   */
  async atLeast(n: number, within: string): Promise<void> {
    while (this.available < n) {
      if (!(await this.fill())) this.#closed(within);
    }
  }

  /**
   * Reads until a `\r\n\r\n` (or `\r\n` when `line`) is at hand; the length up to and
   * with it.
   *
   * @throws {Error} When more than `MAX_HEAD_BYTES` come without it (`tooLong`), or the
   *   connection ends first (`NoAnswer` if nothing came at all).
   */
  async through(line: boolean, tooLong: string, within: string): Promise<number> {
    let length: number;
    while ((length = this.find(line)) < 0) {
      if (this.available > MAX_HEAD_BYTES) throw new Error(`Cannot read answer: ${tooLong}`);
      if (!(await this.fill())) this.#closed(within);
    }
    return length;
  }

  #closed(within: string): never {
    if (!this.any) throw new NoAnswer();
    throw new Error(`Cannot read answer: the connection closed within ${within}`);
  }

  /** The index just past the first `\r\n\r\n` (or `\r\n` when `line`), or -1. */
  find(line: boolean): number {
    const b = this.#buffer;
    for (let i = this.#start; i + 1 < this.#end; i++) {
      if (b[i] !== 13 || b[i + 1] !== 10) continue;
      if (line) return i + 2 - this.#start;
      if (i + 3 < this.#end && b[i + 2] === 13 && b[i + 3] === 10) return i + 4 - this.#start;
    }
    return -1;
  }

  /** Takes `n` bytes (a copy). */
  take(n: number): Uint8Array {
    const out = this.#buffer.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Takes `n` bytes as Latin-1 text. */
  text(n: number): string {
    const out = latin1.decode(this.#buffer.subarray(this.#start, this.#start + n));
    this.#start += n;
    return out;
  }
}

/** Writes the request and reads its answer; `keep` when the connection may be reused. */
async function exchange(
  connection: Connection,
  request: Uint8Array,
  method: string,
): Promise<{ answer: HttpAnswer; keep: boolean }> {
  try {
    for (let sent = 0; sent < request.length;) {
      sent += await connection.write(sent === 0 ? request : request.subarray(sent));
    }
  } catch (error) {
    throw new NoAnswer(error);
  }
  const reader = new Reader(connection);
  let head = await readHead(reader);
  // An interim answer (103 Early Hints, say) precedes the final one.
  while (head.code >= 100 && head.code < 200 && head.code !== 101) head = await readHead(reader);
  const { code, version, statusText, headers } = head;
  const single = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  };
  const connectionHeader = single("connection")?.toLowerCase() ?? "";
  let keep = version === "1"
    ? !connectionHeader.includes("close")
    : connectionHeader.includes("keep-alive");
  let body: Uint8Array;
  const length = single("content-length");
  if (method === "HEAD" || code === 204 || code === 304 || code === 101) {
    body = new Uint8Array(0);
    if (code === 101) keep = false;
  } else if (single("transfer-encoding")?.toLowerCase().includes("chunked")) {
    body = await chunked(reader);
  } else if (length !== undefined) {
    if (!/^\d+$/.test(length)) {
      throw new Error("Cannot read answer: its Content-Length is not a number");
    }
    const n = Number(length);
    await reader.atLeast(n, "its body");
    body = reader.take(n);
  } else {
    while (await reader.fill());
    body = reader.take(reader.available);
    keep = false;
  }
  // Bytes past the answer were not asked for: the connection is not reused.
  if (reader.available > 0) keep = false;
  return { answer: { status: code, statusText, headers, body }, keep };
}

/** Reads one head: the status line and the headers (names in lower case). */
async function readHead(reader: Reader): Promise<{
  code: number;
  version: string;
  statusText: string;
  headers: Record<string, string | string[]>;
}> {
  const headLength = await reader.through(false, "its head is too long", "its head");
  const lines = reader.text(headLength).split("\r\n");
  const status = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!status) throw new Error("Cannot read answer: it is not HTTP/1.x");
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error("Cannot read answer: a header line has no name");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const known = headers[name];
    headers[name] = known === undefined ? value : [known, value].flat();
  }
  return { code: Number(status[2]), version: status[1], statusText: status[3] ?? "", headers };
}

/** Reads a chunked body to its last chunk and trailers. */
async function chunked(reader: Reader): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const line = async () => {
    const end = await reader.through(true, "a chunk line is too long", "its body");
    return reader.text(end).slice(0, -2);
  };
  while (true) {
    const size = parseInt(await line(), 16);
    if (!Number.isFinite(size) || size < 0) {
      throw new Error("Cannot read answer: a chunk size is not hex");
    }
    if (size === 0) break;
    await reader.atLeast(size + 2, "its body");
    parts.push(reader.take(size));
    reader.take(2);
    total += size;
  }
  while ((await line()) !== "");
  return concatBytes(parts, total);
}
