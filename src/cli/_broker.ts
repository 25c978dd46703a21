/**
 * The broker a command runs on, and the startup probe that sorts failures into "fix the
 * configuration" (exit 2) and "could not connect, try again" (exit 3).
 *
 * @module
 */
import process from "node:process";
import { Redis } from "@upstash/redis";
import type { Broker } from "../broker.ts";
import { MemoryBroker } from "../brokers/memory.ts";
import { UpstashBroker } from "../brokers/upstash.ts";
import { getBroker, hasBroker } from "../global_broker.ts";
import { onNode } from "../_util.ts";
import { ENV_TOKEN, ENV_URL } from "../redis/from_env.ts";
import { createRedis as createDenoRedis } from "../deno/mod.ts";
import { createRedis as createNodeRedis } from "../node/mod.ts";
import { CommandError, EXIT, firstLine } from "./_io.ts";

/** The variable that sets the key prefix of a broker made from the environment. */
export const ENV_NAMESPACE = "SKIFF_NAMESPACE";

/** The variable that makes a broker made from the environment count throughput (`1`). */
export const ENV_THROUGHPUT = "SKIFF_THROUGHPUT";

/** How long the startup probe waits for Redis before exiting 3. */
export const PROBE_TIMEOUT_MS = 10_000;

/** The chosen broker and how to check, once, that it can be used. */
export interface ChosenBroker {
  broker: Broker;
  /** Where it came from, for the startup line. */
  source: string;
  /** Resolves when Redis answers; throws a {@linkcode CommandError} otherwise. */
  probe: (queue: string) => Promise<void>;
  /** A warning to print before starting, if any. */
  warning?: string;
}

const NO_BROKER = `No broker configured: set ${ENV_URL} and ${ENV_TOKEN} ` +
  "(`skiff local` serves them in front of a local redis-server), or call setBroker(...) in a module";

/**
 * The broker a module set with `setBroker()`, else an `UpstashBroker` from
 * `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN`, with the key prefix
 * `SKIFF_NAMESPACE` when it is set (default `skiff`), counting throughput when
 * `SKIFF_THROUGHPUT` is `1`.
 *
 * @returns The broker and its probe.
 * @throws {CommandError} With exit code 2 when neither is configured, or the environment is
 *   half set or malformed.
 */
export function chooseBroker(): ChosenBroker {
  if (hasBroker()) {
    const broker = getBroker();
    return {
      broker,
      source: `${broker.constructor.name} set by a module`,
      probe: async (queue) => {
        try {
          // The client's own error keeps the connection failure as its cause; the
          // broker's errors carry only a summary ("fetch failed").
          if (broker instanceof UpstashBroker) await broker.redis.eval("return 1", [], []);
          else await broker.stats(queue);
        } catch (error) {
          throw probeFailure(error, failedHost(error));
        }
      },
      warning: broker instanceof MemoryBroker
        ? "the broker is a MemoryBroker: messages stay in this process (set one with " +
          `setBroker(new UpstashBroker(...)), or ${ENV_URL} and ${ENV_TOKEN})`
        : undefined,
    };
  }
  const rawUrl = process.env[ENV_URL];
  const token = process.env[ENV_TOKEN];
  if (!rawUrl && !token) throw new CommandError(NO_BROKER);
  if (!rawUrl) throw new CommandError(`${ENV_URL} is not set (${ENV_TOKEN} is)`);
  if (!token) throw new CommandError(`${ENV_TOKEN} is not set (${ENV_URL} is)`);
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    url = new URL("invalid:");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    // The value itself is not shown: it may be a token pasted into the wrong variable.
    throw new CommandError(`${ENV_URL} must be an http(s) URL such as https://<name>.upstash.io`);
  }
  const namespace = process.env[ENV_NAMESPACE] || undefined;
  const counting = process.env[ENV_THROUGHPUT];
  if (counting !== undefined && counting !== "" && counting !== "0" && counting !== "1") {
    throw new CommandError(
      `${ENV_THROUGHPUT} must be 1 (count throughput) or 0`,
    );
  }
  let broker: UpstashBroker;
  try {
    broker = new UpstashBroker({
      redis: restClient(rawUrl, token),
      namespace,
      throughput: counting === "1",
    });
  } catch (error) {
    throw new CommandError(
      `${ENV_NAMESPACE}: ${firstLine(error).replace(/^Cannot create broker: /, "")}`,
    );
  }
  return {
    broker,
    source: `Redis at ${url.host}`,
    probe: async (queue) => {
      await probeRest(url, token);
      try {
        await broker.stats(queue);
      } catch (error) {
        throw probeFailure(error, url.host);
      }
    },
  };
}

/** One PING to the REST endpoint, telling refused credentials from a failed connection. */
async function probeRest(url: URL, token: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: '["PING"]',
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
  } catch (error) {
    throw new CommandError(
      `Cannot connect to Redis at ${url.host}: ${connectCause(error)}`,
      EXIT.UNREACHABLE,
    );
  }
  await response.body?.cancel();
  const status = response.status;
  if (status === 401 || status === 403) {
    throw new CommandError(
      `Cannot use Redis at ${url.host}: the server refused the token (HTTP ${status}); ` +
        `check ${ENV_TOKEN}`,
    );
  }
  if (status >= 500 || status === 408 || status === 429) {
    throw new CommandError(
      `Cannot use Redis at ${url.host}: the server answered HTTP ${status}`,
      EXIT.UNREACHABLE,
    );
  }
  if (!response.ok) {
    throw new CommandError(
      `Cannot use Redis at ${url.host}: the server answered HTTP ${status} to PING; ` +
        `check ${ENV_URL}`,
    );
  }
}

/** A failed first broker call as a {@linkcode CommandError}: 2 if credentials were refused. */
function probeFailure(error: unknown, host?: string): CommandError {
  const at = host ? ` at ${host}` : "";
  // @upstash/redis appends the command to its errors; commands may hold data.
  const text = redactUrls(firstLine(error).replace(/,? command was: .*$/, ""));
  if (/unauthori[sz]ed|forbidden|WRONGPASS|NOAUTH|invalid.*token/i.test(text)) {
    return new CommandError(
      `Cannot use Redis${at}: the server refused the credentials (${text}); check the token ` +
        `given to the broker (${ENV_TOKEN} if it comes from the environment)`,
    );
  }
  if ((error as Error | undefined)?.name === "UpstashError") {
    return new CommandError(`Cannot use Redis${at}: ${text}`, EXIT.UNREACHABLE);
  }
  return new CommandError(`Cannot connect to Redis${at}: ${connectCause(error)}`, EXIT.UNREACHABLE);
}

/**
 * Why a connection failed, from the innermost `cause` ("fetch failed" alone says nothing),
 * with credentials and query strings taken out of any URL it quotes.
 */
export function connectCause(error: unknown): string {
  if ((error as Error | undefined)?.name === "TimeoutError") {
    return `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
  }
  let inner = error;
  while ((inner as { cause?: unknown } | null)?.cause instanceof Error) {
    inner = (inner as { cause: Error }).cause;
  }
  const code = (inner as { code?: unknown } | null)?.code;
  let text = firstLine(inner).replace(/^error sending request for url \([^)]*\): /, "");
  if (typeof code === "string" && !text.includes(code)) text = `${code}: ${text}`;
  return redactUrls(text);
}

/**
 * The host a failed connection was for, when the error says: Bun's `path` (the URL
 * requested), Node's `hostname` or `address` and `port` on the cause, or the URL Deno
 * quotes in its message.
 */
export function failedHost(error: unknown): string | undefined {
  for (let inner = error; inner instanceof Error; inner = inner.cause) {
    const e = inner as Error & {
      path?: unknown;
      hostname?: unknown;
      address?: unknown;
      port?: unknown;
    };
    const quoted = typeof e.path === "string" ? e.path : /\burl \(([^)\s]+)\)/.exec(e.message)?.[1];
    if (quoted !== undefined && URL.canParse(quoted)) return new URL(quoted).host;
    if (typeof e.hostname === "string") return e.hostname;
    if (typeof e.address === "string") {
      const address = e.address.includes(":") ? `[${e.address}]` : e.address;
      return typeof e.port === "number" ? `${address}:${e.port}` : address;
    }
  }
  return undefined;
}

function redactUrls(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)(?:[^@/\s]*@)?([^/\s?#)]*)[^\s)]*/gi, "$1$2");
}

/**
 * The Redis client of the CLI: on Node skiff/node's, on Deno skiff/deno's (each runtime's
 * `fetch` costs more CPU per request than its sockets), `@upstash/redis`'s elsewhere. Not
 * where requests must go through the environment's proxy, which the runtime's `fetch`
 * honours and skiff's sockets do not: on Deno when `HTTP(S)_PROXY` or `ALL_PROXY` is set,
 * on Node when `NODE_USE_ENV_PROXY` asks its fetch to (Node 24).
 */
function restClient(url: string, token: string): Redis {
  const set = (name: string) => {
    const value = process.env[name] ?? process.env[name.toLowerCase()];
    return value !== undefined && value !== "" && value !== "0";
  };
  if (onNode() && !set("NODE_USE_ENV_PROXY")) return createNodeRedis({ url, token });
  if ("Deno" in globalThis && !["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"].some(set)) {
    return createDenoRedis({ url, token });
  }
  return new Redis({ url, token, enableTelemetry: false });
}
