/**
 * The middleware base class: Dramatiq's hooks in camelCase. Before-hooks run in stack
 * order, after-hooks in reverse; a hook's error is logged and isolated, except a
 * `SkipMessage` thrown by `beforeProcessMessage`.
 *
 * @module
 */
import type { Broker, NackOutcome } from "../broker.ts";
import type { MessageContext } from "../context.ts";
import type { SkipMessage } from "../errors.ts";
import type { Message } from "../message.ts";
import type { ActorOptionSpec } from "../options.ts";
import type { Worker } from "../worker.ts";

/** A value or a promise of it: hooks may be sync or async. */
export type Awaitable<T> = T | Promise<T>;

/**
 * What an attempt came to, handed to `afterProcessMessage` hooks; `Retries` decides a
 * failed attempt's fate by setting `retryAt` (or `deadReason`).
 */
export interface ProcessOutcome {
  /** Whether the actor threw (or its signal aborted). */
  failed: boolean;
  /** What the actor returned, when it did not fail. */
  result?: unknown;
  /** What the actor threw, when it failed. */
  error?: unknown;
  /** Retry at this time (milliseconds since the epoch); unset means dead on failure. */
  retryAt?: number;
  /** The dead letter's reason, instead of the error's name and message. */
  deadReason?: string;
  /**
   * Why it is dead, for the log line: without the error's message, which may quote the
   * arguments (as in "retries exhausted after 3 retries").
   */
  deadCause?: string;
}

/**
 * Extend this class and define the hooks you need. Declare the actor options your
 * middleware reads with `declareActorOptions` at the top level of its module, and list
 * them in `actorOptions`.
 *
 * @example Count processed messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "../brokers/memory.ts";
 * import { actor } from "../actor.ts";
 * import type { MessageContext } from "../context.ts";
 *
 * class Counter extends Middleware {
 *   count = 0;
 *   override afterAck(_context: MessageContext): void {
 *     this.count++;
 *   }
 * }
 * const broker = new MemoryBroker();
 * const counter = new Counter();
 * broker.addMiddleware(counter);
 * const noop = actor(`noop-${crypto.randomUUID()}`, () => {}, { broker });
 * await noop.send();
 * await broker.join("default");
 * assert(counter.count === 1);
 * ```
 */
export class Middleware {
  /** The actor options this middleware reads, by name. */
  readonly actorOptions: Readonly<Record<string, ActorOptionSpec>> = {};

  /** The middleware's name in log lines: its class name. */
  get name(): string {
    return this.constructor.name;
  }

  /** Before a message is written; may return a replacement message. */
  beforeEnqueue?(broker: Broker, message: Message): Awaitable<Message | void>;
  /** After a message was written. */
  afterEnqueue?(broker: Broker, message: Message): Awaitable<void>;
  /** Before the actor runs; throw `SkipMessage` to skip it. */
  beforeProcessMessage?(context: MessageContext): Awaitable<void>;
  /** After the actor ran (or failed), before the ack or nack. */
  afterProcessMessage?(context: MessageContext, outcome: ProcessOutcome): Awaitable<void>;
  /** After a `SkipMessage` skipped the actor. */
  afterSkipMessage?(context: MessageContext, skip: SkipMessage): Awaitable<void>;
  /** Before a processed message is acknowledged. */
  beforeAck?(context: MessageContext): Awaitable<void>;
  /** After a processed message was acknowledged. */
  afterAck?(context: MessageContext): Awaitable<void>;
  /** Before a message is retried later or dead-lettered. */
  beforeNack?(context: MessageContext, outcome: NackOutcome): Awaitable<void>;
  /** After a message was retried later or dead-lettered. */
  afterNack?(context: MessageContext, outcome: NackOutcome): Awaitable<void>;
  /** Before a worker starts claiming. */
  beforeWorkerBoot?(broker: Broker, worker: Worker): Awaitable<void>;
  /** After a worker started claiming. */
  afterWorkerBoot?(broker: Broker, worker: Worker): Awaitable<void>;
  /** Before a worker stops claiming. */
  beforeWorkerShutdown?(broker: Broker, worker: Worker): Awaitable<void>;
  /** After a worker stopped and handed its messages back. */
  afterWorkerShutdown?(broker: Broker, worker: Worker): Awaitable<void>;
  /** After `broker.cancel()` removed a message (or stopped what follows a running one). */
  afterCancel?(broker: Broker, message: Message): Awaitable<void>;
}

/** The names of the hooks. */
export type HookName = Exclude<keyof Middleware, "actorOptions" | "name">;
