/**
 * `skiff/node`: HTTP for long-running Node servers. Node's `fetch` (undici) spends more CPU
 * on a request than `node:http` (it streams every body), and a queue sends one or two per
 * message: this module's Redis client and `nodeFetch` send over `node:http` and
 * `node:https` on kept-alive sockets instead (docs/runtimes.md has the benchmark's
 * figures). Everything else in skiff is unchanged.
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
import { Redis } from "@upstash/redis";
import { TAKES_URL_AND_INIT } from "../push/push.ts";
import { restCredentials, type RestEnv } from "../redis/from_env.ts";
import { httpSend } from "./_http.ts";
import { restRequester } from "./_rest.ts";

export type { RestEnv };

/** Options of {@linkcode createRedis}. */
export interface CreateRedisOptions {
  /** The REST endpoint: Upstash's `https://…`, or `skiff local`'s `http://127.0.0.1:8079`. */
  url: string;
  /** The REST token. */
  token: string;
  /** Tries again after a request that got no answer (default 5, as `@upstash/redis`). */
  retries?: number;
}

/** `@upstash/redis`'s client on a requester of skiff's, batching as the client does by default. */
class NodeRedis extends Redis {
  constructor(options: CreateRedisOptions) {
    super(restRequester(options));
    // The same automatic pipelining a `new Redis({ url, token })` gets on Node: commands
    // issued in one tick go in one request (a client without it sends them one by one).
    return typeof this.autoPipeline === "function" ? this.autoPipeline() : this;
  }
}

/**
 * Creates an `@upstash/redis` client that speaks the Upstash REST protocol over
 * `node:http`/`node:https` with kept-alive sockets: the same commands and answers as
 * `new Redis({ url, token })`, for less CPU per request on Node. A request that got no
 * answer is sent again (5 times by default, backing off), as `@upstash/redis` does. It runs
 * on Node, and on Deno and Bun through their `node:` modules (where their own `fetch` costs
 * less); it does not stream (`subscribe`).
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
 * @param options The REST endpoint and token.
 * @returns A client for the endpoint.
 * @throws {TypeError} When the URL is not http(s) or the token is empty.
 */
export function createRedis(options: CreateRedisOptions): Redis {
  if (typeof options?.url !== "string" || typeof options.token !== "string" || !options.token) {
    throw new TypeError("Cannot create Redis client: 'url' and 'token' must be non-empty strings");
  }
  return new NodeRedis(options);
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
 * `fetch` over `node:http`/`node:https` with kept-alive sockets, for what skiff sends from
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
export async function nodeFetch(
  input: Request | URL | string,
  init?: RequestInit,
): Promise<Response> {
  const request = input instanceof Request ? input : undefined;
  const url = input instanceof URL ? input : new URL(request ? request.url : input as string);
  const method = (init?.method ?? request?.method ?? "GET").toUpperCase();
  const headers: Record<string, string> = {};
  const fields = init?.headers ?? request?.headers;
  if (fields instanceof Headers || Array.isArray(fields)) {
    new Headers(fields).forEach((value, name) => headers[name] = value);
  } else if (fields) {
    // A plain record, as `Push` passes: no `Headers` to build per request.
    for (const [name, value] of Object.entries(fields)) headers[name.toLowerCase()] = value;
  }
  let body: string | Uint8Array | undefined;
  const given = init?.body ?? undefined;
  if (typeof given === "string" || given instanceof Uint8Array) body = given;
  else if (given instanceof ArrayBuffer) body = new Uint8Array(given);
  else if (given !== undefined && given !== null) {
    throw new TypeError("Cannot send with nodeFetch: the body must be a string or bytes");
  } else if (request?.body) body = new Uint8Array(await request.arrayBuffer());
  const answer = await httpSend({
    url,
    method,
    headers,
    body,
    signal: init?.signal ?? request?.signal,
  });
  const out = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) out.append(name, one);
  }
  const empty = answer.status === 204 || answer.status === 304 || method === "HEAD";
  return new Response(empty ? null : answer.body as Uint8Array<ArrayBuffer>, {
    status: answer.status,
    statusText: answer.statusText,
    headers: out,
  });
}

// `Push` calls it with the URL and init, building no `Request` first.
Object.defineProperty(nodeFetch, TAKES_URL_AND_INIT, { value: true });
