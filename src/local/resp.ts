/**
 * A small RESP2 codec: commands out as arrays of bulk strings, replies in as plain values.
 * RESP2 keeps Redis's classic reply shapes (flat HGETALL, scores as strings), which is
 * what Upstash REST returns.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** An error reply from Redis, kept apart from strings so it is never mistaken for data. */
export class RespError {
  constructor(readonly message: string) {}
}

/**
 * A decoded reply: a status (`string`), a bulk string (`Uint8Array`, raw bytes), an
 * integer (`bigint`, exact), nil (`null`), an error, or an array of these.
 */
export type RespValue = string | Uint8Array | bigint | null | RespError | RespValue[];

const CRLF = "\r\n";

/**
 * Encodes commands as RESP arrays of bulk strings, ready for one socket write.
 *
 * @param commands Each command as its name and arguments.
 * @returns The bytes to write.
 */
export function encodeCommands(commands: readonly (readonly string[])[]): Buffer {
  const parts: Buffer[] = [];
  for (const args of commands) {
    let head = `*${args.length}${CRLF}`;
    for (const arg of args) {
      const bytes = Buffer.from(arg, "utf8");
      parts.push(Buffer.from(`${head}$${bytes.length}${CRLF}`, "latin1"), bytes);
      head = CRLF;
    }
    parts.push(Buffer.from(CRLF, "latin1"));
  }
  return Buffer.concat(parts);
}

const INCOMPLETE = Symbol("incomplete");

/** Reads replies from a byte stream that arrives in chunks of any size. */
export class RespReader {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;

  /**
   * Adds bytes read from the socket.
   *
   * @param chunk The bytes.
   */
  push(chunk: Uint8Array): void {
    const rest = this.#buf.subarray(this.#pos);
    this.#buf = rest.length === 0 ? Buffer.from(chunk) : Buffer.concat([rest, chunk]);
    this.#pos = 0;
  }

  /**
   * Takes the next complete reply.
   *
   * @returns The reply, or `undefined` until more bytes arrive.
   * @throws {SyntaxError} When the stream is not RESP2.
   */
  next(): RespValue | undefined {
    const start = this.#pos;
    const value = this.#read();
    if (value === INCOMPLETE) {
      this.#pos = start;
      return undefined;
    }
    return value;
  }

  #line(): string | typeof INCOMPLETE {
    const end = this.#buf.indexOf(CRLF, this.#pos, "latin1");
    if (end < 0) return INCOMPLETE;
    const line = this.#buf.toString("utf8", this.#pos, end);
    this.#pos = end + 2;
    return line;
  }

  #read(): RespValue | typeof INCOMPLETE {
    if (this.#pos >= this.#buf.length) return INCOMPLETE;
    const type = String.fromCharCode(this.#buf[this.#pos++]);
    const line = this.#line();
    if (line === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case "+":
        return line;
      case "-":
        return new RespError(line);
      case ":":
        return BigInt(line);
      case "$": {
        const length = Number(line);
        if (length < 0) return null;
        if (this.#buf.length < this.#pos + length + 2) return INCOMPLETE;
        const bytes = this.#buf.subarray(this.#pos, this.#pos + length);
        this.#pos += length + 2;
        return new Uint8Array(bytes);
      }
      case "*": {
        const length = Number(line);
        if (length < 0) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < length; i++) {
          const item = this.#read();
          if (item === INCOMPLETE) return INCOMPLETE;
          items.push(item);
        }
        return items;
      }
      default:
        throw new SyntaxError(`Cannot read reply: unknown RESP2 type byte '${type}'`);
    }
  }
}
