/**
 * `skiff/node`: HTTP for long-running Node servers. Node's `fetch` (undici) and `node:http`
 * spend several times the CPU of the request itself (streams, events, header objects), and
 * a queue sends one or two per message: this module's Redis client and `nodeFetch` speak
 * HTTP/1.1 over `node:net` and `node:tls` sockets, kept alive, instead (docs/runtimes.md
 * has the benchmark's figures). Everything else in skiff is unchanged.
 *
 * ```ts ignore
 * import { UpstashBroker, Push } from "skiff";
 * import { nodeFetch, redisFromEnv } from "skiff/node";
 *
 * const broker = new UpstashBroker({ redis: redisFromEnv() });
 * broker.addMiddleware(new Push({ url, signingKey, fetch: nodeFetch }));
 * ```
 *
 * @module
 */
import type { Redis } from "@upstash/redis";
import { type FetchLike, fetchOver } from "../_http.ts";
import { restCredentials, type RestEnv } from "../redis/from_env.ts";
import { type CreateRedisOptions, RestRedis } from "../redis/_rest.ts";
import { httpSend } from "./_http.ts";

export type { CreateRedisOptions, FetchLike, RestEnv };

/**
 * Creates an `@upstash/redis` client that speaks the Upstash REST protocol, HTTP/1.1 over
 * `node:net`/`node:tls` sockets kept alive: the same commands and answers as
 * `new Redis({ url, token })`, for less CPU per request on Node. A request that got no
 * answer is sent again (5 times by default, backing off), as `@upstash/redis` does; one
 * with none in `timeoutMs` (30 s) counts as one without answer. It runs
 * on Node, and on Deno and Bun through their `node:` modules (on Deno, `skiff/deno`'s client
 * costs less; on Bun, its own `fetch`); it does not stream (`subscribe`).
 *
 * @example
 * ```ts ignore
 * import { UpstashBroker } from "skiff";
 * import { createRedis } from "skiff/node";
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
 * Creates {@linkcode createRedis}'s client from `UPSTASH_REDIS_REST_URL` and
 * `UPSTASH_REDIS_REST_TOKEN`.
 *
 * @example
 * ```ts ignore
 * import { UpstashBroker } from "skiff";
 * import { redisFromEnv } from "skiff/node";
 *
 * const broker = new UpstashBroker({ redis: redisFromEnv() });
 * ```
 *
 * @param env Where to read them (default `process.env`).
 * @returns A client for the endpoint.
 * @throws {TypeError} When a variable is missing; the message names it, never a value.
 */
export function redisFromEnv(env?: RestEnv): Redis {
  const source = env ??
    (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  return createRedis(restCredentials(source, "skiff/node"));
}

/**
 * `fetch` over `node:net`/`node:tls` sockets kept alive (HTTP/1.1), for what skiff sends from
 * Node: give it to `Push` (`new Push({ url, signingKey, fetch: nodeFetch })`). It takes a
 * `Request` or a URL and init like `fetch`, reads the whole answer before resolving, and
 * does not follow redirects (a 3xx comes back as it is). Bodies: a string, bytes, or a
 * `Request`'s body.
 *
 * @example
 * ```ts ignore
 * import { nodeFetch } from "skiff/node";
 *
 * const response = await nodeFetch("http://127.0.0.1:3000/health");
 * console.log(response.status);
 * ```
 *
 * @param input A `Request`, or the URL.
 * @param init Method, headers, body and signal, as `fetch` takes them.
 * @returns The answer.
 * @throws {TypeError} For a body that is not a string, bytes or a `Request`'s.
 */
export const nodeFetch: FetchLike = fetchOver(httpSend, "nodeFetch");
