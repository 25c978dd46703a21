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

/**
 * Encodes commands as RESP arrays of bulk strings, ready for one socket write.
 *
 * The commands are written as one string and encoded once: a buffer per argument and a
 * concatenation cost several times more CPU than the encoding itself.
 *
 * @param commands Each command as its name and arguments.
 * @returns The bytes to write.
 */
export function encodeCommands(commands: readonly (readonly string[])[]): Buffer {
  let text = "";
  for (const args of commands) {
    text += `*${args.length}\r\n`;
    // The length is counted in UTF-8 bytes, as the string is encoded below (a lone
    // surrogate counts and encodes as U+FFFD in both).
    for (const arg of args) text += `$${Buffer.byteLength(arg, "utf8")}\r\n${arg}\r\n`;
  }
  return Buffer.from(text, "utf8");
}

const INCOMPLETE = Symbol("incomplete");

/** An array being read: its items so far and how many it holds in all. */
interface Partial {
  items: RespValue[];
  length: number;
}

/** What a reader did, for tests that pin its cost: linear in the bytes it reads. */
export interface RespReaderStats {
  /** Bytes copied into the reader's buffer (each byte read once, plus regrowths). */
  copied: number;
  /** Elements parsed, counting a header parsed again once its bytes arrived. */
  steps: number;
}

/**
 * Reads replies from a byte stream that arrives in chunks of any size, in time and copies
 * linear in its size: the buffer grows by doubling and drops what was read, and a reply
 * cut across chunks is resumed where it stopped (the arrays open so far are kept), never
 * parsed again from its start.
 */
export class RespReader {
  #buf = new Uint8Array(0);
  /** Where unread bytes start and end in `#buf`. */
  #pos = 0;
  #end = 0;
  /** The arrays of the reply being read, outermost first. */
  #stack: Partial[] = [];
  /** What it did. */
  readonly stats: RespReaderStats = { copied: 0, steps: 0 };

  /**
   * Adds bytes read from the socket.
   *
   * @param chunk The bytes.
   */
  push(chunk: Uint8Array): void {
    const unread = this.#end - this.#pos;
    if (unread === 0) this.#pos = this.#end = 0;
    if (this.#end + chunk.length > this.#buf.length) {
      // Move the unread bytes to the front: in place when what was read frees at least as
      // much as is moved, else into a buffer twice as large; either way each byte moves a
      // bounded number of times on average.
      const inPlace = this.#pos >= unread && unread + chunk.length <= this.#buf.length;
      const next = inPlace
        ? this.#buf
        : new Uint8Array(Math.max(2 * this.#buf.length, unread + chunk.length, 4096));
      if (inPlace) next.copyWithin(0, this.#pos, this.#end);
      else next.set(this.#buf.subarray(this.#pos, this.#end));
      this.stats.copied += unread;
      this.#buf = next;
      this.#pos = 0;
      this.#end = unread;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
    this.stats.copied += chunk.length;
  }

  /**
   * Takes the next complete reply.
   *
   * @returns The reply, or `undefined` until more bytes arrive.
   * @throws {SyntaxError} When the stream is not RESP2.
   */
  next(): RespValue | undefined {
    while (true) {
      const start = this.#pos;
      const value = this.#read();
      if (value === INCOMPLETE) {
        this.#pos = start;
        return undefined;
      }
      // An array header opened a new level: read its items next.
      if (value === OPENED) continue;
      let done: RespValue = value;
      while (true) {
        const top = this.#stack.at(-1);
        if (!top) return done;
        top.items.push(done);
        if (top.items.length < top.length) break;
        this.#stack.pop();
        done = top.items;
      }
    }
  }

  /** The end of the line at `#pos` (its CR), or -1 until its LF arrives. */
  #eol(): number {
    const buf = this.#buf;
    for (let i = this.#pos; i + 1 < this.#end; i++) {
      if (buf[i] === 13 && buf[i + 1] === 10) return i;
    }
    return -1;
  }

  #line(): string | typeof INCOMPLETE {
    const end = this.#eol();
    if (end < 0) return INCOMPLETE;
    const line = DECODER.decode(this.#buf.subarray(this.#pos, end));
    this.#pos = end + 2;
    return line;
  }

  /** A length line (`$` and `*` headers): parsed from its bytes, no string made. */
  #length(): number | typeof INCOMPLETE {
    const end = this.#eol();
    if (end < 0) return INCOMPLETE;
    const buf = this.#buf;
    let i = this.#pos;
    const negative = buf[i] === 45;
    if (negative) i++;
    let n = 0;
    for (; i < end; i++) {
      const d = buf[i] - 48;
      if (d < 0 || d > 9) throw new SyntaxError("Cannot read reply: a length is not a number");
      n = n * 10 + d;
    }
    this.#pos = end + 2;
    return negative ? -n : n;
  }

  /** One element: a value, an opened array (`OPENED`), or `INCOMPLETE`. */
  #read(): RespValue | typeof INCOMPLETE | typeof OPENED {
    if (this.#pos >= this.#end) return INCOMPLETE;
    this.stats.steps++;
    const type = this.#buf[this.#pos++];
    if (type === DOLLAR || type === STAR) {
      const length = this.#length();
      if (length === INCOMPLETE) return INCOMPLETE;
      if (length < 0) return null;
      if (type === STAR) {
        if (length === 0) return [];
        this.#stack.push({ items: [], length });
        return OPENED;
      }
      if (this.#end < this.#pos + length + 2) return INCOMPLETE;
      // A copy: the buffer is reused.
      const bytes = this.#buf.slice(this.#pos, this.#pos + length);
      this.#pos += length + 2;
      return bytes;
    }
    const line = this.#line();
    if (line === INCOMPLETE) return INCOMPLETE;
    switch (String.fromCharCode(type)) {
      case "+":
        return line;
      case "-":
        return new RespError(line);
      case ":":
        return BigInt(line);
      default:
        throw new SyntaxError(
          `Cannot read reply: unknown RESP2 type byte '${String.fromCharCode(type)}'`,
        );
    }
  }
}

const OPENED = Symbol("opened");
const DECODER = new TextDecoder();
const DOLLAR = 36;
const STAR = 42;
