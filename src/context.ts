/**
 * The running message's context, bound as `this` for the actor function. A `this`
 * binding needs no AsyncLocalStorage, so it works the same in Deno, Node, Bun and workerd
 * without flags, and leaves the positional arguments to the caller (and to pipelines).
 *
 * @module
 */
import type { Actor } from "./actor.ts";
import type { Broker, Lease } from "./broker.ts";
import type { Message } from "./message.ts";

/** The largest progress value, in bytes of JSON. */
const MAX_PROGRESS_BYTES = 1024;
/** The least time between two progress writes of one message, in milliseconds. */
const PROGRESS_INTERVAL_MS = 1_000;

/** Why each aborted context aborted; private to skiff. */
const abortReasons = new WeakMap<MessageContext, unknown>();
/** Who hears a context's abort besides its signal: the actor's run; private to skiff. */
const abortListeners = new WeakMap<MessageContext, (reason: unknown) => void>();

/** Whether `context` aborted, and why; private to skiff. */
export function abortOf(context: MessageContext): { reason: unknown } | undefined {
  return abortReasons.has(context) ? { reason: abortReasons.get(context) } : undefined;
}

/**
 * Calls `listener` once when `context` aborts, at once if it has; private to skiff:
 * `processMessage()` races the actor with it, so that a context whose `signal` nobody
 * reads never makes an `AbortController`.
 *
 * @returns What stops listening.
 */
export function whenAborted(
  context: MessageContext,
  listener: (reason: unknown) => void,
): () => void {
  if (abortReasons.has(context)) {
    listener(abortReasons.get(context));
    return () => {};
  }
  abortListeners.set(context, listener);
  return () => abortListeners.delete(context);
}

/** What {@linkcode MessageContext} is made of; `processMessage()` builds it. */
export interface MessageContextInit {
  /** The broker the message was claimed from. */
  broker: Broker;
  /** The queue it was claimed from. */
  queue: string;
  /** The decoded message. */
  message: Message;
  /** Its actor, or `undefined` when no actor has its name. */
  actor: Actor | undefined;
  /** The lease its claim holds. */
  lease: Lease;
  /** The lease duration to extend by, in milliseconds. */
  leaseMs: number;
}

/**
 * What an actor can know about the message it runs: declare the actor with a `function`
 * (not an arrow function) to receive it as `this`.
 *
 * @example Read the context inside an actor
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "./brokers/memory.ts";
 * import { actor } from "./actor.ts";
 *
 * const broker = new MemoryBroker();
 * const seen: number[] = [];
 * const task = actor(`task-${crypto.randomUUID()}`, async function (this: MessageContext, n: number) {
 *   seen.push(this.attempt);
 *   if (this.signal.aborted) return;
 *   await this.extendLease();
 *   seen.push(n);
 * }, { broker });
 * await task.send(7);
 * await broker.join("default");
 * assert(seen.join() === "1,7");
 * ```
 */
export class MessageContext {
  /** The broker the message was claimed from. */
  readonly broker: Broker;
  /** The queue it was claimed from. */
  readonly queue: string;
  /** The running message. */
  readonly message: Message;
  /** Its actor (`undefined` only in hooks that see a message of an unknown actor). */
  readonly actor: Actor | undefined;
  /** The attempt number: 1, then 2 on the first retry, and so on. */
  readonly attempt: number;
  /** The claim's lease: the message id and the fencing token. */
  readonly lease: Lease;
  #controller?: AbortController;
  readonly #leaseMs: number;
  #progress = { value: "", at: -Infinity, write: undefined as Promise<void> | undefined };

  /**
   * Creates a MessageContext.
   *
   * @param init The message, its broker and its lease.
   */
  constructor(init: MessageContextInit) {
    this.broker = init.broker;
    this.queue = init.queue;
    this.message = init.message;
    this.actor = init.actor;
    this.attempt = init.message.retries + 1;
    this.lease = init.lease;
    this.#leaseMs = init.leaseMs;
  }

  /** Aborts when the attempt must stop: time limit, lost lease, or worker shutdown. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (abortReasons.has(this)) this.#controller.abort(abortReasons.get(this));
    }
    return this.#controller.signal;
  }

  /**
   * Aborts the attempt: the signal fires with `reason` and the attempt fails with it.
   *
   * @param reason The signal's reason; an `AbortError` by default.
   */
  abort(reason?: unknown): void {
    if (abortReasons.has(this)) return;
    const why = reason ?? new DOMException("This operation was aborted", "AbortError");
    abortReasons.set(this, why);
    this.#controller?.abort(why);
    const listener = abortListeners.get(this);
    abortListeners.delete(this);
    listener?.(why);
  }

  /**
   * Extends the message's lease (a heartbeat); workers do this on their own every third
   * of the lease, so actors need it only to be sure before a long step.
   *
   * @param leaseMs The new lease, from now, in milliseconds (default: the claim's).
   * @returns `false` when the lease was lost: another consumer holds the message now.
   */
  extendLease(leaseMs: number = this.#leaseMs): Promise<boolean> {
    return this.broker.extendLease(this.queue, this.lease, { leaseMs });
  }

  /**
   * Reports the message's progress: shown on the dashboard's in-flight table and read with
   * `broker.progress(queue, id)`. Calls are coalesced: at most one write a second per
   * message (one Redis command on an `UpstashBroker`), carrying the latest value, kept for
   * the lease's duration. A failed write is logged, never thrown.
   *
   * @param value A JSON value of at most 1024 bytes encoded (a percentage, say, or
   *   `{ done, total }`).
   * @returns Resolves once the write that carries `value` is done.
   * @throws {TypeError} When `value` is not JSON or is larger than 1024 bytes.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryBroker } from "./brokers/memory.ts";
   * import { actor } from "./actor.ts";
   *
   * const broker = new MemoryBroker();
   * const task = actor(`progress-${crypto.randomUUID()}`, async function (this: MessageContext) {
   *   await this.progress({ done: 1, total: 2 });
   * }, { broker });
   * const sent = await task.send();
   * await broker.join("default");
   * assert.deepEqual(await broker.progress("default", sent.id), { done: 1, total: 2 });
   * ```
   */
  progress(value: unknown): Promise<void> {
    let encoded: string | undefined;
    try {
      encoded = JSON.stringify(value);
    } catch {
      // Reported below, without the value.
    }
    if (encoded === undefined) {
      throw new TypeError("Cannot report progress: the value must be JSON-serializable");
    }
    const bytes = new TextEncoder().encode(encoded).length;
    if (bytes > MAX_PROGRESS_BYTES) {
      throw new TypeError(
        `Cannot report progress: the value must be at most ${MAX_PROGRESS_BYTES} bytes as JSON, received ${bytes}`,
      );
    }
    const state = this.#progress;
    state.value = encoded;
    // A write is waiting: it will carry this value.
    if (state.write) return state.write;
    const wait = Math.max(0, state.at + PROGRESS_INTERVAL_MS - this.broker.now());
    state.write = new Promise<void>((resolve) => setTimeout(resolve, wait)).then(async () => {
      state.write = undefined;
      state.at = this.broker.now();
      const { queue, message, attempt } = this;
      try {
        await this.broker.setProgress(queue, message.id, state.value, this.#leaseMs);
      } catch (error) {
        this.broker.logger.warn(`Cannot report the progress of message ${message.id}`, {
          id: message.id,
          actor: message.actor,
          queue,
          attempt,
          error,
        });
      }
    });
    return state.write;
  }

  /**
   * Reads an actor option as this message sees it: the message's own value, else the
   * actor's.
   *
   * @param name The option's name.
   * @returns The value, or `undefined` when neither sets it.
   */
  option<T = unknown>(name: string): T | undefined {
    if (this.message.options[name] !== undefined) return this.message.options[name] as T;
    return this.actor?.options[name as keyof typeof this.actor.options] as T | undefined;
  }
}
