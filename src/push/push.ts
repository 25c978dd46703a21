/**
 * The push sender: a middleware that, after each send, pushes the new message ids to the
 * worker endpoint (`POST /messages` of `workerApp()`), signed, batched per queue, fire and
 * forget through the platform's `waitUntil`. A lost push loses nothing: the message waits
 * in the broker for the next tick, pull or push.
 *
 * @module
 */
import { announceEnqueued, hearEnqueued } from "../_continued.ts";
import { describe, errorName, NAME_PATTERN } from "../_util.ts";
import type { Broker, EnqueuedMessage, Logger } from "../broker.ts";
import type { LogFields } from "../logger.ts";
import type { Message } from "../message.ts";
import { HTTP_SEND, type HttpSend } from "../_http.ts";
import { Middleware } from "../middleware/middleware.ts";
import { MIN_SECRET_LENGTH, SIGNATURE_HEADER, signPush } from "./signature.ts";
import { vercelWaitUntil, type WaitUntil } from "./_wait_until.ts";

/** Options of {@linkcode Push}. */
export interface PushOptions {
  /** The endpoint's messages URL, mount prefix included, e.g. `https://app.example/skiff/messages`. */
  url: string | URL;
  /** The secret to sign with (one of the endpoint's `signingKeys`). */
  signingKey: string;
  /**
   * Keeps the platform alive until a push settles (`ctx.waitUntil` on Cloudflare). By
   * default Vercel's is used where there is one; elsewhere pushes are tracked, and
   * `flush()` waits for them (`workerApp()` hands them to its request's `waitUntil`).
   */
  waitUntil?: (promise: Promise<unknown>) => void;
  /**
   * The `fetch` to push with, called with a `Request` (default the global `fetch`, called
   * with the URL and init). With `nodeFetch` (`skiff/node`) or `denoFetch` (`skiff/deno`), a
   * push goes through their HTTP client directly, with no `Request` or `Response` built.
   */
  fetch?: (request: Request) => Promise<Response>;
  /** The most ids per request; more are split (default 100, the endpoint's default). */
  maxIds?: number;
  /** Push only these queues (default: all). */
  queues?: readonly string[];
  /** Give up on a push after this many milliseconds (default 60 000). */
  timeoutMs?: number;
  /**
   * The most push requests in flight at once (default 64); the others wait their turn, and
   * their `timeoutMs` starts when they leave. A burst (an `enqueue()` of 30 000 messages is
   * 300 pushes) then neither floods the endpoint nor takes every connection the runtime
   * allows at once (Bun's `fetch` holds 256, and an endpoint served by the same process
   * needs some for its own Redis requests).
   */
  concurrency?: number;
  /** Where to log failed pushes (default: the broker's logger, else `console`). */
  logger?: Logger;
}

/** Sends one push and reads its answer to the end; resolves with the answer's status. */
type Send = (
  url: URL,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
) => Promise<number>;

/** What one push request came to. */
export interface PushReport {
  /** The queue. */
  queue: string;
  /** The ids pushed. */
  ids: string[];
  /** The endpoint's HTTP status, or `0` when the request failed (network, timeout). */
  status: number;
}

/**
 * Pushes sent messages to the worker endpoint. Add it to the broker that sends:
 * `broker.addMiddleware(new Push({ url, signingKey }))`. Messages not yet due (a delay or
 * an eta) are not pushed: a tick promotes them.
 *
 * @example Push to an endpoint (here, a fake `fetch`)
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 *
 * const requests: Request[] = [];
 * const push = new Push({
 *   url: "https://app.example/skiff/messages",
 *   signingKey: "a-secret-of-at-least-16-chars",
 *   fetch: (request) => {
 *     requests.push(request);
 *     return Promise.resolve(Response.json({ results: [] }));
 *   },
 * });
 * const broker = new MemoryBroker();
 * broker.addMiddleware(push);
 * const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker });
 * await Promise.all([task.send(), task.send()]);
 * await push.flush();
 * assert.equal(requests.length, 1);
 * assert.equal((await requests[0].json()).ids.length, 2);
 * ```
 */
export class Push extends Middleware {
  /** Where pushes go. */
  readonly url: URL;
  readonly #secret: string;
  readonly #waitUntil?: WaitUntil;
  readonly #transport: Send;
  readonly #maxIds: number;
  readonly #queues?: ReadonlySet<string>;
  readonly #timeoutMs: number;
  readonly #concurrency: number;
  /** Push requests in flight, and the ones waiting for a turn. */
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  #logger?: Logger;
  /** Ids waiting for the end of the current turn, by queue. */
  #pending = new Map<string, string[]>();
  #batch?: Promise<void>;
  readonly #inFlight = new Set<Promise<unknown>>();

  /**
   * Creates a Push.
   *
   * @param options The endpoint, the signing key, and how to send.
   * @throws {TypeError} On a URL that is not http(s), a short signing key, or a bad queue.
   * @throws {RangeError} On `maxIds`, `timeoutMs` or `concurrency` that is not a positive
   *   integer.
   */
  constructor(options: PushOptions) {
    super();
    const what = "Cannot create Push";
    let url: URL;
    try {
      url = new URL(options?.url);
    } catch {
      throw new TypeError(`${what}: 'url' must be an absolute http(s) URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new TypeError(`${what}: 'url' must be an absolute http(s) URL`);
    }
    if (typeof options.signingKey !== "string" || options.signingKey.length < MIN_SECRET_LENGTH) {
      throw new TypeError(
        `${what}: 'signingKey' must be a string of at least ${MIN_SECRET_LENGTH} characters`,
      );
    }
    const { maxIds = 100, timeoutMs = 60_000, concurrency = 64 } = options;
    for (const [name, value] of Object.entries({ maxIds, timeoutMs, concurrency })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `${what}: '${name}' must be a positive integer, received ${describe(value)}`,
        );
      }
    }
    if (options.queues !== undefined) {
      if (!Array.isArray(options.queues) || options.queues.some((q) => !NAME_PATTERN.test(q))) {
        throw new TypeError(`${what}: 'queues' must be an array of queue names`);
      }
      this.#queues = new Set(options.queues);
    }
    this.url = url;
    this.#secret = options.signingKey;
    this.#waitUntil = options.waitUntil;
    const given = options.fetch;
    const direct = (given as { [HTTP_SEND]?: HttpSend } | undefined)?.[HTTP_SEND];
    this.#transport = direct
      ? async (url, headers, body, signal) =>
        (await direct({ url, method: "POST", headers, body, signal })).status
      : async (url, headers, body, signal) => {
        const init = { method: "POST", headers, body, signal };
        const response = await (given ? given(new Request(url, init)) : fetch(url, init));
        // Read to the end: a body cancelled before it arrived closes the connection (undici),
        // and a new one per push costs both sides more than the push itself.
        await response.arrayBuffer();
        return response.status;
      };
    this.#maxIds = maxIds;
    this.#timeoutMs = timeoutMs;
    this.#concurrency = concurrency;
    this.#logger = options.logger;
    // What the broker's own transitions enqueue (a cancel's failure callbacks) is pushed too.
    hearEnqueued(this, (broker, enqueued) => this.continued(broker, enqueued));
  }

  /**
   * Queues a sent message's id for the push that leaves once the current microtasks ran,
   * so that the messages of one `enqueue()` (or of sends made together) share a request.
   *
   * @param broker The broker that sent it.
   * @param message The message as written.
   */
  override afterEnqueue(broker: Broker, message: Message): void {
    if (message.eta !== undefined && message.eta > broker.now()) return;
    this.#queue(broker, message.queue, message.id);
  }

  /**
   * Queues the ids of messages a processed message enqueued (the next step of a pipeline,
   * a group's members or callbacks), as `afterEnqueue` does for sent ones: they are
   * written by the ack script, so `afterEnqueue` never sees them. The push endpoint and
   * `tick()` call this through {@linkcode pushEnqueued}.
   *
   * @param broker The broker that enqueued them.
   * @param enqueued What `processMessage` reported as enqueued.
   */
  continued(broker: Broker, enqueued: readonly EnqueuedMessage[]): void {
    for (const { id, queue, delayed } of enqueued) if (!delayed) this.#queue(broker, queue, id);
  }

  #queue(broker: Broker, queue: string, id: string): void {
    this.#logger ??= broker.logger;
    if (this.#queues && !this.#queues.has(queue)) return;
    const ids = this.#pending.get(queue);
    if (ids) ids.push(id);
    else this.#pending.set(queue, [id]);
    if (this.#batch) return;
    // Two microtask turns, not a timer: the ids of one `enqueue()` and of sends whose writes
    // settled together still share a request, without the millisecond or two a timer turn
    // adds to every push.
    this.#batch = new Promise<void>((resolve) => {
      queueMicrotask(() =>
        queueMicrotask(() => {
          const pending = this.#pending;
          this.#pending = new Map();
          this.#batch = undefined;
          const sends = [...pending].map(([queue, ids]) => this.#send(queue, ids));
          Promise.all(sends).then(() => resolve());
        })
      );
    });
    this.#track(this.#batch);
  }

  /**
   * Pushes ids of one queue now, split into requests of at most `maxIds`. Never rejects:
   * a failed push is logged (without the URL or the body) and reported with its status.
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @returns One report per request.
   * @throws {TypeError} On an invalid queue name.
   */
  push(queue: string, ids: readonly string[]): Promise<PushReport[]> {
    if (typeof queue !== "string" || !NAME_PATTERN.test(queue)) {
      throw new TypeError("Cannot push messages: invalid queue name");
    }
    const sending = this.#send(queue, [...ids]);
    this.#track(sending);
    return sending;
  }

  /**
   * Waits until every push sent or about to be sent has settled: for tests, scripts, and
   * platforms where `waitUntil` takes a promise at the end of a request.
   *
   * @returns When no push is in flight.
   */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #track(promise: Promise<unknown>): void {
    this.#inFlight.add(promise);
    promise.finally(() => this.#inFlight.delete(promise));
    const waitUntil = this.#waitUntil ?? vercelWaitUntil();
    waitUntil?.(promise);
  }

  async #send(queue: string, ids: string[]): Promise<PushReport[]> {
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += this.#maxIds) chunks.push(ids.slice(i, i + this.#maxIds));
    return await Promise.all(chunks.map((chunk) => this.#post(queue, chunk)));
  }

  async #post(queue: string, ids: string[]): Promise<PushReport> {
    // A free slot is taken at once (no extra turn); a busy Push hands each freed slot to the
    // next waiting request.
    if (this.#active < this.#concurrency) this.#active++;
    else await new Promise<void>((go) => this.#waiting.push(go));
    try {
      return await this.#request(queue, ids);
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }

  async #request(queue: string, ids: string[]): Promise<PushReport> {
    const body = JSON.stringify({ queue, ids });
    let status = 0;
    // A timer cleared once the answer is read, not `AbortSignal.timeout`: its timer and the
    // request it aborts would live for the whole timeout after every push.
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new DOMException("The push timed out", "TimeoutError")),
      this.#timeoutMs,
    );
    try {
      const signature = await signPush(this.#secret, {
        method: "POST",
        path: this.url.pathname,
        body,
      });
      status = await this.#transport(
        this.url,
        { "content-type": "application/json", [SIGNATURE_HEADER]: signature },
        body,
        abort.signal,
      );
    } catch (error) {
      this.#log(
        `Cannot push ${ids.length} message(s) of queue '${queue}': ${errorName(error)}`,
        { queue, count: ids.length, error },
      );
      return { queue, ids, status };
    } finally {
      clearTimeout(timer);
    }
    if (status >= 300 || status < 200) {
      this.#log(
        `Cannot push ${ids.length} message(s) of queue '${queue}': the endpoint answered ${status}`,
        { queue, count: ids.length, status },
      );
    }
    return { queue, ids, status };
  }

  #log(line: string, fields: LogFields): void {
    // The messages wait in the broker: a tick, a pull worker or a later push runs them.
    (this.#logger ?? console).warn(`${line}; they wait for the next tick`, fields);
  }
}

/**
 * Hands the messages a processed message enqueued to every `Push` middleware of the
 * broker, so that a pipeline continues by push. Nothing happens without one: the next
 * step then waits in Redis for a tick or a pull worker.
 *
 * @param broker The broker the message was processed with.
 * @param enqueued What `processMessage` reported as enqueued, if anything.
 */
export function pushEnqueued(
  broker: Broker,
  enqueued: readonly EnqueuedMessage[] | undefined,
): void {
  announceEnqueued(broker, enqueued);
}
