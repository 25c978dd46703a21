/**
 * Options of the worker endpoint (`workerApp()`).
 *
 * @module
 */
import type { Context, Env } from "hono";
import type { Broker } from "../broker.ts";
import type { Push } from "../push/push.ts";
import type { QstashKeys } from "../push/qstash.ts";
import type { ReplayStore } from "../push/replay.ts";
import type { TickOptions, TickScheduler } from "../tick.ts";

/** A value, or a function of the request's context that makes it (from `c.env`, say). */
export type PerRequest<T, E extends Env = Env> = T | ((c: Context<E>) => T | Promise<T>);

/** Options of `POST /tick`. */
export interface WorkerTickOptions<E extends Env = Env>
  extends Pick<TickOptions, "queues" | "maxMessages" | "budgetMs" | "concurrency"> {
  /** Fan out through this `Push` instead of processing inline (see `tick()`). */
  push?: PerRequest<Push, E>;
}

/** Options of `workerApp()`. */
export interface WorkerAppOptions<E extends Env = Env> {
  /**
   * The secrets pushes and ticks are signed with (`Skiff-Signature`); several during a
   * rotation. With no `signingKeys`, `cronSecret` or `qstash`, `/messages` and `/tick`
   * answer 500.
   */
  signingKeys?: PerRequest<readonly string[], E>;
  /**
   * A bearer secret accepted on `/tick` (`GET` or `POST`), as Vercel Cron sends it
   * (`Authorization: Bearer $CRON_SECRET`) and any plain cron service can; at least 16
   * characters, compared in constant time.
   */
  cronSecret?: PerRequest<string | undefined, E>;
  /**
   * QStash's signing keys: requests signed with `Upstash-Signature` by them are accepted on
   * `/tick` (QStash schedules) and `/messages` (QStash as the transport of pushes). Each
   * token is accepted once.
   */
  qstash?: PerRequest<QstashKeys | undefined, E>;
  /** The broker (default: `getBroker()` at each request). */
  broker?: PerRequest<Broker, E>;
  /**
   * Where signatures are remembered once; or a function of the request's broker and context
   * that makes it. By default a push's signature is remembered by its claim (the claim script
   * sets `<namespace>:{<queue>}:once:<mac>` first: one request per push fewer), and ticks' and
   * QStash tokens in Redis under `<namespace>:sig:` for a broker that exposes its client as
   * `redis`, else in memory. Given, it is checked before the claim, for every route.
   */
  replayStore?: ReplayStore | ((broker: Broker, c: Context<E>) => ReplayStore);
  /** Start no message after this many milliseconds of an invocation (default 10 000). */
  budgetMs?: number;
  /** The most ids one push may carry (default 100, at most 1000). */
  maxIds?: number;
  /** The largest request body accepted, in bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /** The lease of each claim, renewed every third of it (default 30 000 ms). */
  leaseMs?: number;
  /** How many pushed messages run at once (default 8). */
  concurrency?: number;
  /** What `POST /tick` does. */
  tick?: WorkerTickOptions<E>;
  /** Fired by every tick first: the `Scheduler`. */
  scheduler?: TickScheduler;
}
