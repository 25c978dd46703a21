/**
 * The `Results` middleware: stores what actors return, and how they failed for good, in a
 * result backend, for `message.getResult()`, pipelines and groups to read.
 *
 * @module
 */
import { describe, integerIn } from "../_util.ts";
import { CANCELLED } from "../_cancelled.ts";
import { DEFAULT_RESULT_TTL, RESULTS_OPTIONS } from "../actor.ts";
import type { Broker, NackOutcome } from "../broker.ts";
import { redisOf } from "../brokers/_on_redis.ts";
import type { Message } from "../message.ts";
import type { MessageContext } from "../context.ts";
import type { Continuation, PlanRef } from "../continuation.ts";
import { Middleware, type ProcessOutcome } from "../middleware/middleware.ts";
import type { ActorOptionSpec } from "../options.ts";
import { getActor } from "../registry.ts";
import { toFailureData } from "./_failure.ts";
import type { ResultBackend } from "./backend.ts";
import { MemoryResultBackend } from "./memory.ts";
import { UpstashResultBackend, type UpstashResultClient } from "./upstash.ts";

/** Options of {@linkcode Results}. */
export interface ResultsOptions {
  /**
   * Where results go: `UpstashResultBackend`, `MemoryResultBackend` or your own (default:
   * derived from the broker, as the `Scheduler` derives its store: an
   * `UpstashResultBackend` on an `UpstashBroker`'s Redis and namespace, a
   * `MemoryResultBackend` beside any other broker).
   */
  backend?: ResultBackend;
  /** Whether actors that do not set `storeResults` store theirs (default `false`). */
  storeResults?: boolean;
  /** How long results are kept, for actors that do not set `resultTtl` (default 10 minutes). */
  resultTtl?: number;
  /** Whether failures keep the error's stack (default `false`: type and message only). */
  includeStack?: boolean;
}

/** What the middleware needs of a message, sent or pending: its actor and options. */
export interface ResultOwner {
  /** The actor's name. */
  readonly actor: string;
  /** Options set for this message. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * Stores each result of actors with `storeResults` (per actor, per message, or for all
 * with the middleware's `storeResults`) for `resultTtl`, just before the ack: a skipped
 * message stores `null`. A message that fails for good (dead) stores its failure, and so
 * do the later steps of its pipeline, which will never run: whoever waits on the last
 * step sees `ResultFailure`. Retried failures store nothing.
 *
 * @example The backend derived from the broker
 * ```ts
 * import assert from "node:assert/strict";
 * import { actor, MemoryBroker } from "../../mod.ts";
 *
 * const broker = new MemoryBroker();
 * broker.addMiddleware(new Results());
 * const add = actor(`add-${crypto.randomUUID()}`, (x: number, y: number) => x + y, {
 *   broker,
 *   storeResults: true,
 * });
 * const message = await add.send(1, 2);
 * await broker.join("default");
 * assert(await message.getResult() === 3);
 * ```
 * @example A backend given, storing every actor's failures
 * ```ts
 * import assert from "node:assert/strict";
 * import { actor, MemoryBroker, MemoryResultBackend, ResultFailure } from "../../mod.ts";
 *
 * const logger = { ...console, error() {} }; // the failure is expected here
 * const broker = new MemoryBroker({ logger });
 * broker.addMiddleware(new Results({ backend: new MemoryResultBackend(), storeResults: true }));
 * const fail = actor(`fail-${crypto.randomUUID()}`, (): number => {
 *   throw new RangeError("too big");
 * }, { broker, maxRetries: 0 });
 * const message = await fail.send();
 * await broker.join("default", { failFast: false });
 * await assert.rejects(message.getResult(), (error) => {
 *   assert(error instanceof ResultFailure && error.errorType === "RangeError");
 *   return true;
 * });
 * ```
 */
export class Results extends Middleware {
  /** The actor options it reads. */
  override readonly actorOptions: Readonly<Record<string, ActorOptionSpec>> = RESULTS_OPTIONS;
  /** The backend given; `undefined` when each broker's is derived (see `backendFor()`). */
  readonly backend: ResultBackend | undefined;
  /** The default of `storeResults`. */
  readonly storeResults: boolean;
  /** The default of `resultTtl`, in milliseconds. */
  readonly resultTtl: number;
  /** Whether failures keep stacks. */
  readonly includeStack: boolean;
  readonly #outcomes = new WeakMap<MessageContext, ProcessOutcome>();

  /**
   * Creates the Results middleware.
   *
   * @param options The backend (default: derived from the broker) and the defaults.
   * @throws {TypeError} When `backend` is not a ResultBackend.
   * @throws {RangeError} When `resultTtl` is not a positive integer.
   */
  constructor(options: ResultsOptions = {}) {
    super();
    if (options.backend !== undefined && typeof options.backend?.storeResult !== "function") {
      throw new TypeError(
        `Cannot create Results: 'backend' must be a ResultBackend, received ${
          describe(options.backend)
        }`,
      );
    }
    this.backend = options.backend;
    this.storeResults = options.storeResults ?? false;
    this.resultTtl = options.resultTtl ?? DEFAULT_RESULT_TTL;
    if (!integerIn(1, Number.MAX_SAFE_INTEGER)(this.resultTtl)) {
      throw new RangeError(
        `Cannot create Results: 'resultTtl' must be ${RESULTS_OPTIONS.resultTtl.expected}, received ${
          describe(this.resultTtl)
        }`,
      );
    }
    this.includeStack = options.includeStack ?? false;
  }

  /**
   * Where the results of a broker's messages go: the backend given, else the one the
   * broker implies, made once per broker.
   *
   * @param broker The broker the middleware is on.
   * @returns The backend.
   * @throws {TypeError} When an `UpstashBroker`'s client lacks `set` or `mget`.
   */
  backendFor(broker: Broker): ResultBackend {
    if (this.backend) return this.backend;
    let derived = DERIVED.get(broker);
    if (!derived) {
      const redis = resultClientOf(broker);
      derived = redis
        ? new UpstashResultBackend({ redis: redis.client, namespace: redis.namespace })
        : new MemoryResultBackend();
      DERIVED.set(broker, derived);
    }
    return derived;
  }

  /**
   * Whether a message's result is stored: its own option, else its actor's, else the
   * middleware's default.
   *
   * @param message The message (or a pending one).
   * @returns Whether it stores results.
   */
  stores(message: ResultOwner): boolean {
    const own = message.options.storeResults as boolean | undefined;
    return own ?? getActor(message.actor)?.options.storeResults ?? this.storeResults;
  }

  /**
   * How long a message's result is kept.
   *
   * @param message The message.
   * @returns The time to live, in milliseconds.
   */
  ttl(message: ResultOwner): number {
    const own = message.options.resultTtl as number | undefined;
    return own ?? getActor(message.actor)?.options.resultTtl ?? this.resultTtl;
  }

  /**
   * Keeps the outcome until the ack.
   *
   * @param context The message's context.
   * @param outcome What the attempt came to.
   */
  override afterProcessMessage(context: MessageContext, outcome: ProcessOutcome): void {
    this.#outcomes.set(context, outcome);
  }

  /**
   * Stores the result (`null` for a skipped message) before the ack.
   *
   * @param context The message's context.
   */
  override async beforeAck(context: MessageContext): Promise<void> {
    const { message } = context;
    if (!this.stores(message)) return;
    const outcome = this.#outcomes.get(context);
    const result = outcome && !outcome.failed ? outcome.result : null;
    await this.backendFor(context.broker).storeResult(message.id, result, this.ttl(message));
  }

  /**
   * Stores the failure of a message that dies, and of the later steps it stops.
   *
   * @param context The message's context.
   * @param outcome The nack about to be written.
   */
  override async beforeNack(context: MessageContext, outcome: NackOutcome): Promise<void> {
    if (outcome.kind !== "dead") return;
    const { message } = context;
    const ids = this.stores(message) ? [message.id] : [];
    ids.push(...await this.#downstream(context.broker, message.next));
    const error = outcome.error ?? this.#outcomes.get(context)?.error;
    const failure = error === undefined
      ? { type: "DeadLetter", message: outcome.reason }
      : toFailureData(error, this.includeStack);
    await this.backendFor(context.broker).storeFailure(ids, failure, this.ttl(message));
  }

  /**
   * Stores the failure of a cancelled message (`{ type: "Cancelled" }`), and of the later
   * steps of its pipeline, which will never run.
   *
   * @param broker The broker that cancelled it.
   * @param message The cancelled message.
   */
  override async afterCancel(broker: Broker, message: Message): Promise<void> {
    const ids = this.stores(message) ? [message.id] : [];
    ids.push(...await this.#downstream(broker, message.next));
    if (ids.length === 0) return;
    await this.backendFor(broker).storeFailure(ids, { ...CANCELLED }, this.ttl(message));
  }

  /**
   * The ids of the later steps whose results must fail with this message: those it carries,
   * then those of its pipeline's plan from the step it refers to.
   */
  async #downstream(broker: Broker, next: Continuation | undefined): Promise<string[]> {
    const ids: string[] = [];
    let rest: PlanRef | undefined;
    const walk = (cont: Continuation | undefined): void => {
      if (cont?.pipe) {
        if (this.stores(cont.pipe)) ids.push(cont.pipe.id);
        walk(cont.pipe.next);
      }
      if (cont?.fan) {
        for (const member of cont.fan.members) {
          if (this.stores(member)) ids.push(member.id);
          walk({ pipe: member.next?.pipe });
        }
        if (cont.fan.next) walk({ pipe: cont.fan.next });
      }
      // A member pipeline's next step in the plan: the member's later steps and the steps
      // after its group, in one read.
      if (cont?.plan?.member !== undefined) rest ??= cont.plan;
      if (cont?.member) {
        ids.push(...cont.member.after ?? []);
        rest ??= cont.member.rest ?? cont.member.fanIn;
      }
      rest ??= cont?.plan;
    };
    walk(next);
    if (rest) {
      const { home, id, at, member, step } = rest;
      const from = member !== undefined && step !== undefined ? { index: member, step } : undefined;
      ids.push(...await broker.planResults(home, id, at, from));
    }
    return ids;
  }
}

/** The backends derived from brokers: one per broker, shared by its `Results`. */
const DERIVED = new WeakMap<Broker, ResultBackend>();

/**
 * The result client and namespace of a broker on Redis (`redisOf`).
 *
 * @throws {TypeError} When its client lacks `set` or `mget`.
 */
function resultClientOf(
  broker: Broker,
): { client: UpstashResultClient; namespace: string } | undefined {
  const onRedis = redisOf(broker);
  if (!onRedis) return undefined;
  const { redis, namespace } = onRedis;
  const client = redis as Partial<UpstashResultClient>;
  if (typeof client.set !== "function" || typeof client.mget !== "function") {
    throw new TypeError(
      "Cannot derive the result backend: the broker's client has no set or mget; pass 'backend' to Results",
    );
  }
  return { client: client as UpstashResultClient, namespace };
}
