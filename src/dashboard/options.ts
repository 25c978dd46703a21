/**
 * The options of `dashboardApp()`.
 *
 * @module
 */
import type { Env } from "hono";
import type { Broker } from "../broker.ts";
import type { Message } from "../message.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import type { ScheduleStore } from "../scheduler/store.ts";
import type { PerRequest } from "../hono/options.ts";

export type { PerRequest };

/**
 * Who may see and steer the queues: HTTP basic auth (what a browser asks for), a bearer
 * token (for a proxy that adds the header), or a function that checks the request itself
 * (a signed token or cookie of your identity provider, say). Secrets are at least 16
 * characters.
 */
export type DashboardAuth =
  | { basic: { username: string; password: string } }
  | { bearer: string }
  | { verify: (request: Request) => boolean | Promise<boolean> };

/** Options of `dashboardApp()`. */
export interface DashboardOptions<E extends Env = Env> {
  /** Required: the dashboard refuses to be created without it. */
  auth: PerRequest<DashboardAuth, E>;
  /** The broker (default: the global one, `getBroker()`, at each request). */
  broker?: PerRequest<Broker, E>;
  /** The schedulers whose schedules to show, with their last and next slot. */
  scheduler?: Scheduler | readonly Scheduler[];
  /**
   * Where the schedulers keep their records, when they were given a `store` of their own
   * (by default the records are read beside an `UpstashBroker`, where a `Scheduler` keeps
   * them).
   */
  scheduleStore?: ScheduleStore;
  /**
   * The queues to show (default: each queue an actor is declared on in this process, and
   * each schedule's queue).
   */
  queues?: PerRequest<readonly string[], E>;
  /**
   * How dead letters' and in-flight messages' arguments are shown: `false` (default)
   * shows only how many there are, since they may hold personal data; `true` shows them
   * as JSON; a function shows what it returns (mask the fields you must).
   */
  showArguments?: boolean | ((args: readonly unknown[], message: Message) => unknown);
  /** How many dead letters and in-flight messages to list per queue, 1 to 100 (default 20). */
  limit?: number;
  /**
   * Over how many minutes each queue's throughput is shown, 1 to 60 (default 15), when the
   * broker counts finished messages (its `throughput` option): 1 `MGET` per queue.
   */
  throughputMinutes?: number;
}
