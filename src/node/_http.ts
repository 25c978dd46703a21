/**
 * `skiff/node`'s HTTP client: HTTP/1.1 (`../_socket_http.ts`) over `node:net` and `node:tls`
 * sockets, Nagle off; a socket at rest holds no process open. Private to skiff.
 */
import { connect as connectTcp, isIP, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { type Connection, http1Client } from "../_socket_http.ts";

/** A socket as a {@linkcode Connection}: what its `data` events bring waits for `read()`. */
class SocketConnection implements Connection {
  readonly #socket: Socket;
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #error: unknown;
  #wake?: () => void;

  constructor(socket: Socket) {
    this.#socket = socket;
    const ended = () => {
      this.#ended = true;
      this.#resume();
    };
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#resume();
    });
    socket.on("end", ended);
    socket.on("close", ended);
    socket.on("error", (error) => {
      this.#error ??= error;
      ended();
    });
  }

  /** Wakes the `read()` waiting, if any. */
  #resume(): void {
    const resume = this.#wake;
    this.#wake = undefined;
    resume?.();
  }

  /** Closed by the peer, or holding bytes nobody asked for: not to be reused. */
  get ended(): boolean {
    return this.#ended || this.#chunks.length > 0;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#chunks[0];
    if (!chunk) {
      if (this.#error !== undefined) throw this.#error;
      return null;
    }
    const n = Math.min(chunk.length, buffer.length);
    buffer.set(n === chunk.length ? chunk : chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    return n;
  }

  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => error ? reject(error) : resolve(bytes.length));
    });
  }

  close(): void {
    this.#socket.destroy();
    this.#ended = true;
    this.#resume();
  }

  unref(): void {
    this.#socket.unref();
  }

  ref(): void {
    this.#socket.ref();
  }
}

/** Sends one request and reads its whole answer; `closeIdle()` closes the pooled sockets. */
export const { send: httpSend, closeIdle } = http1Client((secure, host, port, caCerts) =>
  new Promise((resolve, reject) => {
    const socket = secure
      ? connectTls({
        host,
        port,
        ...(isIP(host) ? {} : { servername: host }),
        ...(caCerts ? { ca: caCerts } : {}),
      })
      : connectTcp({ host, port });
    socket.setNoDelay(true);
    const failed = (error: Error) => reject(error);
    socket.once("error", failed);
    socket.once(secure ? "secureConnect" : "connect", () => {
      socket.off("error", failed);
      resolve(new SocketConnection(socket));
    });
  })
);
