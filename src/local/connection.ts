/**
 * One TCP connection to redis-server, pipelining batches of commands, and a small pool
 * that lends each connection to one request at a time (so a MULTI ... EXEC batch is never
 * interleaved with another request's commands).
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { encodeCommands, RespError, RespReader, type RespValue } from "./resp.ts";

interface Pending {
  count: number;
  replies: RespValue[];
  resolve: (replies: RespValue[]) => void;
  reject: (error: Error) => void;
}

/** A connection to redis-server that sends batches and resolves each with its replies. */
export class RedisConnection {
  #socket: Socket;
  #reader = new RespReader();
  #pending: Pending[] = [];
  #broken = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("error", () => this.#fail(new Error("Cannot reach Redis: the connection failed")));
    socket.on("close", () => this.#fail(new Error("Cannot reach Redis: the connection closed")));
  }

  /**
   * Opens a connection, then authenticates and selects the database the URL names.
   *
   * @param url A `redis://[user:password@]host:port[/db]` URL.
   * @returns The open connection.
   * @throws {Error} When Redis cannot be reached or refuses the credentials.
   */
  static async open(url: URL): Promise<RedisConnection> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(url.port || 6379),
      });
      s.once("connect", () => resolve(s));
      s.once("error", (e) => reject(new Error(`Cannot reach Redis at ${url.host}: ${e.message}`)));
    });
    socket.setNoDelay(true);
    const connection = new RedisConnection(socket);
    const setup: string[][] = [];
    if (url.password) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      setup.push(user ? ["AUTH", user, password] : ["AUTH", password]);
    }
    const db = url.pathname.replace(/^\//, "");
    if (db) setup.push(["SELECT", db]);
    for (const reply of setup.length ? await connection.send(setup) : []) {
      if (reply instanceof RespError) {
        connection.close();
        throw new Error(`Cannot use Redis at ${url.host}: ${reply.message.split(" ")[0]}`);
      }
    }
    return connection;
  }

  /** Whether the socket failed; a broken connection is dropped from the pool. */
  get broken(): boolean {
    return this.#broken;
  }

  /**
   * Sends commands in one write and waits for one reply each.
   *
   * @param commands The commands.
   * @returns The replies, in order.
   */
  send(commands: readonly (readonly string[])[]): Promise<RespValue[]> {
    if (this.#broken) return Promise.reject(new Error("Cannot reach Redis: the connection closed"));
    return new Promise((resolve, reject) => {
      this.#pending.push({ count: commands.length, replies: [], resolve, reject });
      this.#socket.write(encodeCommands(commands));
    });
  }

  /** Closes the socket; pending batches are rejected. */
  close(): void {
    this.#broken = true;
    this.#socket.end();
  }

  #onData(chunk: Uint8Array): void {
    this.#reader.push(chunk);
    for (let reply = this.#reader.next(); reply !== undefined; reply = this.#reader.next()) {
      const head = this.#pending[0];
      if (!head) continue;
      head.replies.push(reply);
      if (head.replies.length === head.count) {
        this.#pending.shift();
        head.resolve(head.replies);
      }
    }
  }

  #fail(error: Error): void {
    this.#broken = true;
    for (const pending of this.#pending.splice(0)) pending.reject(error);
  }
}

/** Lends connections to one user at a time, opening up to `size` of them on demand. */
export class ConnectionPool {
  #url: URL;
  #size: number;
  #idle: RedisConnection[] = [];
  #open = 0;
  #waiters: ((connection: RedisConnection | Error) => void)[] = [];
  #closed = false;

  /**
   * @param url The redis-server URL.
   * @param size The most connections open at once.
   */
  constructor(url: URL, size: number) {
    this.#url = url;
    this.#size = size;
  }

  /**
   * Runs `fn` with a connection that nobody else uses until `fn` settles.
   *
   * @param fn The work.
   * @returns What `fn` returns.
   */
  async use<T>(fn: (connection: RedisConnection) => Promise<T>): Promise<T> {
    const connection = await this.#acquire();
    try {
      return await fn(connection);
    } finally {
      this.#release(connection);
    }
  }

  /** Closes every connection; later requests fail. */
  close(): void {
    this.#closed = true;
    for (const connection of this.#idle.splice(0)) connection.close();
    for (const waiter of this.#waiters.splice(0)) waiter(new Error("The pool is closed"));
  }

  async #acquire(): Promise<RedisConnection> {
    if (this.#closed) throw new Error("The pool is closed");
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#open < this.#size) {
      this.#open++;
      try {
        return await RedisConnection.open(this.#url);
      } catch (error) {
        this.#open--;
        throw error;
      }
    }
    const next = await new Promise<RedisConnection | Error>((resolve) =>
      this.#waiters.push(resolve)
    );
    if (next instanceof Error) throw next;
    return next;
  }

  #release(connection: RedisConnection): void {
    if (connection.broken || this.#closed) {
      this.#open--;
      connection.close();
      // A waiter takes the freed slot with a fresh connection.
      const waiter = this.#waiters.shift();
      if (waiter) this.#acquire().then(waiter, waiter);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter(connection);
    else this.#idle.push(connection);
  }
}
