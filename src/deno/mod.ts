/**
 * `skiff/deno`: glue for Deno and Deno Deploy.
 *
 * ```ts ignore
 * import { cronTick, redisFromEnv } from "@skiff/skiff/deno";
 * ```
 *
 * @module
 */
import { Redis } from "@upstash/redis";
import { type FetchLike, fetchOver } from "../_http.ts";
import type { Broker } from "../broker.ts";
import { getBroker } from "../global_broker.ts";
import { restCredentials } from "../redis/from_env.ts";
import { type CreateRedisOptions, RestRedis } from "../redis/_rest.ts";
import { tick, type TickOptions, type TickReport } from "../tick.ts";
import { httpSend } from "./_http.ts";

export type { CreateRedisOptions, FetchLike };

interface DenoEnv {
  env: { toObject(): Record<string, string> };
}

/** The shape of `Deno.cron` that {@linkcode cronTick} calls. */
export type DenoCron = (
  name: string,
  schedule: string,
  handler: () => Promise<void>,
) => Promise<void>;

/**
 * Creates an `@upstash/redis` client from `UPSTASH_REDIS_REST_URL` and
 * `UPSTASH_REDIS_REST_TOKEN` in Deno's environment (needs `--allow-env`).
 *
 * @example
 * ```ts ignore
 * import { redisFromEnv } from "@skiff/skiff/deno";
 *
 * const redis = redisFromEnv();
 * await redis.ping();
 * ```
 *
 * @returns A client for the REST endpoint.
 * @throws {TypeError} When a variable is missing; the message names it.
 */
export function redisFromEnv(): Redis {
  const deno = (globalThis as { Deno?: DenoEnv }).Deno;
  if (!deno) throw new TypeError("Cannot create Redis client: skiff/deno runs on Deno only");
  const { url, token } = restCredentials(deno.env.toObject(), "skiff/deno");
  return new Redis({ url, token, enableTelemetry: false });
}

/**
 * Creates an `@upstash/redis` client that speaks the Upstash REST protocol over Deno's own
 * sockets (`Deno.connect`, `Deno.connectTls`), HTTP/1.1 on kept-alive connections: the same
 * commands and answers as `new Redis({ url, token })`, for less CPU per request than Deno's
 * `fetch` (docs/runtimes.md has the benchmark's figures). For long-running Deno servers and
 * workers; a request that got no answer is sent again (5 times by default, backing off), as
 * `@upstash/redis` does, and one with none in `timeoutMs` (30 s) counts as one without
 * answer. It does not stream (`subscribe`), and it reads no
 * `HTTP(S)_PROXY`: where requests must go through a proxy, use `redisFromEnv()`.
 *
 * @example
 * ```ts ignore
 * import { UpstashBroker } from "@skiff/skiff";
 * import { createRedis } from "@skiff/skiff/deno";
 *
 * const broker = new UpstashBroker({
 *   redis: createRedis({ url: "http://127.0.0.1:8079", token: "dev-token" }),
 * });
 * ```
 *
 * @param options The REST endpoint and token, the retries and the timeout of a try.
 * @returns A client for the endpoint.
 * @throws {TypeError} When the URL is not http(s) or the token is empty.
 * @throws {RangeError} When `retries` or `timeoutMs` is out of range.
 */
export function createRedis(options: CreateRedisOptions): Redis {
  return new RestRedis(options, httpSend);
}

/**
 * `fetch` over Deno's own sockets, HTTP/1.1 on kept-alive connections, for what skiff sends
 * from a long-running Deno process: give it to `Push`
 * (`new Push({ url, signingKey, fetch: denoFetch })`). It takes a `Request` or a URL and
 * init like `fetch`, reads the whole answer before resolving, does not follow redirects (a
 * 3xx comes back as it is) and reads no proxy settings. Bodies: a string, bytes, or a
 * `Request`'s body.
 *
 * @example
 * ```ts ignore
 * import { denoFetch } from "@skiff/skiff/deno";
 *
 * const response = await denoFetch("http://127.0.0.1:3000/health");
 * console.log(response.status);
 * ```
 *
 * @param input A `Request`, or the URL.
 * @param init Method, headers, body and signal, as `fetch` takes them.
 * @returns The answer.
 * @throws {TypeError} For a body that is not a string, bytes or a `Request`'s.
 */
export const denoFetch: FetchLike = fetchOver(httpSend, "denoFetch");

/** Options of {@linkcode cronTick}. */
export interface CronTickOptions extends TickOptions {
  /** The broker (default: `getBroker()` at each tick). */
  broker?: Broker | (() => Broker);
  /** The cron job's name, unique in the deployment (default `"skiff-tick"`). */
  name?: string;
  /** A cron expression (default every minute, `"* * * * *"`). */
  schedule?: string;
  /** Called with each tick's report. */
  onTick?: (report: TickReport) => void;
  /** The cron to register with (default `Deno.cron`; inject one in tests). */
  cron?: DenoCron;
}

/**
 * Registers a `Deno.cron` job that runs `tick()`: on Deno Deploy, and locally with
 * `--unstable-cron`. A failed tick is logged and the next one tries again; nothing is lost.
 *
 * @example With an injected cron (`Deno.cron` itself needs `--unstable-cron` locally)
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 *
 * let handler: (() => Promise<void>) | undefined;
 * const broker = new MemoryBroker();
 * await cronTick({
 *   broker,
 *   queues: ["default"],
 *   cron: (_name, _schedule, fn) => {
 *     handler = fn;
 *     return Promise.resolve();
 *   },
 * });
 * await handler!();
 * ```
 *
 * @param options The job's name and schedule, the broker, and the tick's options.
 * @returns What `Deno.cron` returns: a promise that settles when the job is stopped.
 * @throws {TypeError} When `Deno.cron` is not available.
 */
export function cronTick(options: CronTickOptions = {}): Promise<void> {
  const {
    broker,
    name = "skiff-tick",
    schedule = "* * * * *",
    onTick,
    cron,
    ...tickOptions
  } = options;
  const denoCron = cron ?? (globalThis as { Deno?: { cron?: DenoCron } }).Deno?.cron;
  if (typeof denoCron !== "function") {
    throw new TypeError(
      "Cannot register cron tick: Deno.cron is not available (use Deno Deploy, or run with --unstable-cron)",
    );
  }
  return denoCron(name, schedule, async () => {
    const target = typeof broker === "function" ? broker() : broker ?? getBroker();
    try {
      // Not `onTick?.(await tick(...))`: an optional call skips evaluating its argument.
      const report = await tick(target, tickOptions);
      onTick?.(report);
    } catch (error) {
      target.logger.error(
        `The cron tick '${name}' failed with ${error instanceof Error ? error.name : "an error"}`,
        { error },
      );
    }
  });
}
