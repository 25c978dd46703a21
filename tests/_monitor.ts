import assert from "node:assert/strict";
/**
 * Counts the Redis commands an operation causes, as Upstash bills them (each call inside a
 * script included), without `CONFIG RESETSTAT`: a `MONITOR` connection lists every command,
 * and only those of one database, between two `ECHO` markers sent on that database, are
 * counted. Tests that measure cost point a local server at a database of their own, so
 * that tests running at the same time never show up in their counts.
 *
 * @module
 */

/** The commands MONITOR shows for one database, between markers. */
export class CommandCounter {
  readonly #db: number;
  readonly #monitor: Deno.Conn;
  readonly #marker: Deno.Conn;
  readonly #lines: string[] = [];
  #pending = "";
  #seen = Promise.withResolvers<void>();
  readonly #reading: Promise<void>;

  private constructor(db: number, monitor: Deno.Conn, marker: Deno.Conn) {
    this.#db = db;
    this.#monitor = monitor;
    this.#marker = marker;
    this.#reading = this.#read();
  }

  /**
   * Connects to a redis-server and starts monitoring one of its databases.
   *
   * @param url The redis-server, `redis://host:port`.
   * @param db The database whose commands are counted.
   */
  static async open(url: string, db: number): Promise<CommandCounter> {
    const { hostname, port } = new URL(url);
    const address = { hostname, port: Number(port || 6379) };
    const monitor = await Deno.connect(address);
    const marker = await Deno.connect(address);
    await send(marker, ["SELECT", String(db)]);
    await send(monitor, ["MONITOR"]);
    return new CommandCounter(db, monitor, marker);
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    const chunk = new Uint8Array(65_536);
    while (true) {
      const n = await this.#monitor.read(chunk).catch(() => null);
      if (n === null) return;
      const parts = (this.#pending + decoder.decode(chunk.subarray(0, n), { stream: true }))
        .split("\r\n");
      this.#pending = parts.pop()!;
      this.#lines.push(...parts.filter((line) => line.includes(` [${this.#db} `)));
      this.#seen.resolve();
      this.#seen = Promise.withResolvers();
    }
  }

  /** Shows a marker on the database and waits for MONITOR to list it. */
  async #mark(): Promise<number> {
    const id = crypto.randomUUID();
    await send(this.#marker, ["ECHO", id]);
    while (true) {
      const at = this.#lines.findIndex((line) => line.endsWith(`"ECHO" "${id}"`));
      if (at >= 0) return at;
      await this.#seen.promise;
    }
  }

  /**
   * Runs `fn` and counts the commands it caused on the database.
   *
   * @returns The counts by lowercase command name.
   */
  async count(fn: () => Promise<unknown>): Promise<Record<string, number>> {
    const from = await this.#mark();
    await fn();
    const to = await this.#mark();
    const counts: Record<string, number> = {};
    for (const line of this.#lines.slice(from + 1, to)) {
      const name = /\] "([^"]+)"/.exec(line)?.[1]?.toLowerCase() ?? "?";
      // A new pooled connection selects the database first; Upstash has no such command.
      if (name !== "select") counts[name] = (counts[name] ?? 0) + 1;
    }
    return counts;
  }

  /** Stops monitoring. */
  async close(): Promise<void> {
    this.#monitor.close();
    this.#marker.close();
    await this.#reading;
  }
}

/** The sum of counts. */
export function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * Prints the measured counts of each operation as a markdown table (the docs quote it),
 * then asserts each operation's total equals its budget.
 */
export function assertCosts(
  label: string,
  budgets: Readonly<Record<string, number>>,
  measured: ReadonlyMap<string, Record<string, number>>,
): void {
  const rows = Object.keys(budgets).map((op) => {
    const counts = measured.get(op) ?? {};
    const detail = Object.entries(counts).map(([name, n]) => `${name.toUpperCase()} ${n}`)
      .join(", ");
    return `| ${op} | ${total(counts)} | ${detail} |`;
  });
  console.log(
    ["", `| ${label} | Redis commands | by command |`, "| --- | ---: | --- |", ...rows].join("\n"),
  );
  for (const [op, budget] of Object.entries(budgets)) {
    assert.equal(total(measured.get(op) ?? {}), budget, op);
  }
}

/** Sends one command and reads (and ignores) the start of its reply. */
async function send(conn: Deno.Conn, args: string[]): Promise<void> {
  const bytes = (text: string) => new TextEncoder().encode(text).length;
  const command = `*${args.length}\r\n${args.map((a) => `$${bytes(a)}\r\n${a}\r\n`).join("")}`;
  await conn.write(new TextEncoder().encode(command));
  await conn.read(new Uint8Array(1_024));
}

/** The HTTP requests `fetch` sends while counted; see {@linkcode countRequests}. */
export interface RequestCount {
  /** Requests sent since the count began or was last reset. */
  readonly value: number;
  /** Starts again from 0. */
  reset(): void;
  /** Puts the original `fetch` back. */
  restore(): void;
}

/**
 * Counts the requests `fetch` sends (those whose URL starts with `prefix`, when given)
 * until `restore()`: what an operation costs in round trips, beside its commands.
 */
export function countRequests(prefix?: string): RequestCount {
  const original = globalThis.fetch;
  let value = 0;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const target = input instanceof Request ? input.url : String(input);
    if (prefix === undefined || target.startsWith(prefix)) value++;
    return original(input, init);
  }) as typeof fetch;
  return {
    get value() {
      return value;
    },
    reset: () => void (value = 0),
    restore: () => void (globalThis.fetch = original),
  };
}
