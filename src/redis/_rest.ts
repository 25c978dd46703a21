/**
 * The Upstash REST protocol as an `@upstash/redis` `Requester` over a runtime's own HTTP
 * client (`skiff/node`'s and `skiff/deno`'s HTTP/1.1 over sockets): a request through the
 * runtime's `fetch` costs more CPU there, and a queue sends one or two per message. Private
 * to skiff.
 */
import {
  errors,
  Redis,
  type Requester,
  type UpstashRequest,
  type UpstashResponse,
} from "@upstash/redis";
import type { HttpAnswer, HttpSend } from "../_http.ts";
import { describe, sleep } from "../_util.ts";

/** Options of `createRedis` (`skiff/node`, `skiff/deno`). */
export interface CreateRedisOptions {
  /** The REST endpoint: Upstash's `https://…`, or `skiff local`'s `http://127.0.0.1:8079`. */
  url: string;
  /** The REST token. */
  token: string;
  /** Tries again after a request that got no answer (default 5, as `@upstash/redis`). */
  retries?: number;
  /**
   * Gives up on a try that has no answer after this many milliseconds (default 30 000): its
   * connection is closed and it counts as a request without answer, tried again within
   * `retries`. A connection whose peer vanished then costs a request this long, not forever.
   */
  timeoutMs?: number;
}

const UTF8 = new TextDecoder();
/** The longest `timeoutMs`: what `setTimeout` holds (about 24.8 days). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * A `Requester` for `new Redis(requester)`: POSTs each command or pipeline as JSON and
 * answers the parsed body. A request that got no answer (a refused connection, a socket
 * closed under it, no answer within `timeoutMs`) is sent again up to `retries` times, after
 * 50 ms × e^attempt, as `@upstash/redis` does; skiff's scripts are safe to run twice.
 *
 * @throws {TypeError} When the URL is not http(s).
 * @throws {RangeError} When `retries` or `timeoutMs` is out of range.
 */
export function restRequester(options: CreateRedisOptions, send: HttpSend): Requester {
  const base = new URL(options.url);
  if (base.protocol !== "https:" && base.protocol !== "http:") {
    throw new TypeError(
      `Cannot create Redis client: the REST URL must start with https:// or http://, received ${base.protocol}//`,
    );
  }
  const root = base.href.replace(/\/$/, "");
  const authorization = `Bearer ${options.token}`;
  const { retries = 5, timeoutMs = 30_000 } = options;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new RangeError(
      `Cannot create Redis client: 'retries' must be a whole number of tries, 0 or more, received ${
        describe(retries)
      }`,
    );
  }
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0) || timeoutMs > MAX_TIMEOUT_MS) {
    throw new RangeError(
      `Cannot create Redis client: 'timeoutMs' must be a number of milliseconds above 0, at most ${MAX_TIMEOUT_MS}, received ${
        describe(timeoutMs)
      }`,
    );
  }
  const urls = new Map<string, URL>();
  const requester: Requester = {
    readYourWrites: true,
    upstashSyncToken: "",
    async request<T>(req: UpstashRequest): Promise<UpstashResponse<T>> {
      if (req.isStreaming) {
        throw new TypeError("Cannot stream with skiff's Redis client: use @upstash/redis");
      }
      const headers: Record<string, string> = {
        ...req.headers,
        authorization,
        "content-type": "application/json",
      };
      if (requester.upstashSyncToken) headers["upstash-sync-token"] = requester.upstashSyncToken;
      const path = req.path?.length ? `/${req.path.join("/")}` : "";
      let url = urls.get(path);
      if (!url) {
        url = new URL(root + path);
        if (urls.size < 16) urls.set(path, url);
      }
      const body = JSON.stringify(req.body);
      let answer: HttpAnswer;
      for (let attempt = 0;; attempt++) {
        req.signal?.throwIfAborted();
        // Each try has its own deadline; the caller's signal, if any, aborts it too.
        const abort = new AbortController();
        const timer = setTimeout(
          () =>
            abort.abort(
              new DOMException(
                `The REST endpoint gave no answer within ${timeoutMs} ms`,
                "TimeoutError",
              ),
            ),
          timeoutMs,
        );
        const cancel = () => abort.abort(req.signal?.reason);
        req.signal?.addEventListener("abort", cancel, { once: true });
        try {
          answer = await send({ url, method: "POST", headers, body, signal: abort.signal });
          break;
        } catch (error) {
          if (attempt >= retries || req.signal?.aborted) throw error;
          await sleep(Math.exp(attempt) * 50, req.signal);
        } finally {
          clearTimeout(timer);
          req.signal?.removeEventListener("abort", cancel);
        }
      }
      const token = answer.headers["upstash-sync-token"];
      if (typeof token === "string") requester.upstashSyncToken = token;
      let parsed: UpstashResponse<T>;
      try {
        parsed = JSON.parse(UTF8.decode(answer.body));
      } catch {
        throw new errors.UpstashError(`the REST endpoint answered HTTP ${answer.status}, not JSON`);
      }
      if (answer.status < 200 || answer.status >= 300) {
        const error = (parsed as { error?: unknown } | null)?.error;
        throw new errors.UpstashError(typeof error === "string" ? error : `HTTP ${answer.status}`);
      }
      return parsed;
    },
  };
  return requester;
}

/**
 * `@upstash/redis`'s client on {@linkcode restRequester}, batching as the client does by
 * default.
 *
 * @throws {TypeError} When the URL is not http(s) or the token is empty.
 * @throws {RangeError} When `retries` or `timeoutMs` is out of range.
 */
export class RestRedis extends Redis {
  constructor(options: CreateRedisOptions, send: HttpSend) {
    if (typeof options?.url !== "string" || typeof options.token !== "string" || !options.token) {
      throw new TypeError(
        "Cannot create Redis client: 'url' and 'token' must be non-empty strings",
      );
    }
    super(restRequester(options, send));
    // The same automatic pipelining a `new Redis({ url, token })` gets: commands issued in
    // one tick go in one request (a client without it sends them one by one).
    return typeof this.autoPipeline === "function" ? this.autoPipeline() : this;
  }
}
