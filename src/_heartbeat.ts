/**
 * The pull worker's one heartbeat for every message it holds; private to skiff. One timer
 * and no listener per message: every third of the lease, the leases of each queue are
 * extended in one broker call, and the contexts of lost leases are aborted.
 */
import { errorName } from "./_util.ts";
import type { Broker } from "./broker.ts";
import type { Lease } from "./broker.ts";
import type { MessageContext } from "./context.ts";
import type { Heartbeat } from "./process.ts";

/** What the heartbeat keeps: a running message's context, or a claim not yet started. */
export interface Held {
  /** The queue it was claimed from. */
  readonly queue: string;
  /** Its lease. */
  readonly lease: Lease;
  /** Called when its lease is lost, or when the worker gives up. */
  abort(reason?: unknown): void;
}

/** Extends the leases of the messages a worker holds, all at once. */
export class WorkerHeartbeat implements Heartbeat {
  readonly #broker: Broker;
  readonly #leaseMs: number;
  readonly #held = new Set<Held>();
  #timer?: ReturnType<typeof setInterval>;
  #beating = false;
  #stopped?: { reason: unknown };

  constructor(broker: Broker, leaseMs: number) {
    this.#broker = broker;
    this.#leaseMs = leaseMs;
  }

  /** How many messages it holds. */
  get size(): number {
    return this.#held.size;
  }

  /**
   * Starts keeping a message's lease (a running message's context, or a claim held
   * ahead); the returned function stops.
   */
  hold(context: MessageContext | Held): () => void {
    if (this.#stopped) {
      context.abort(this.#stopped.reason);
    }
    this.#held.add(context);
    this.#timer ??= setInterval(() => this.#beat(), Math.max(1, Math.floor(this.#leaseMs / 3)));
    return () => {
      this.#held.delete(context);
      if (this.#held.size === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  /** Aborts every held message (and any held later) with `reason`: the worker gives up. */
  abort(reason: unknown): void {
    this.#stopped = { reason };
    for (const context of this.#held) context.abort(reason);
  }

  async #beat(): Promise<void> {
    // A slow broker must not stack beats: the next tick comes a third of a lease later.
    if (this.#beating) return;
    this.#beating = true;
    try {
      const byQueue = new Map<string, Held[]>();
      for (const context of this.#held) {
        const list = byQueue.get(context.queue) ?? [];
        list.push(context);
        byQueue.set(context.queue, list);
      }
      await Promise.all([...byQueue].map(([queue, contexts]) => this.#extend(queue, contexts)));
    } finally {
      this.#beating = false;
    }
  }

  async #extend(queue: string, contexts: Held[]): Promise<void> {
    try {
      const held = await this.#broker.extendLeases(
        queue,
        contexts.map((context) => context.lease),
        { leaseMs: this.#leaseMs },
      );
      contexts.forEach((context, i) => {
        if (!held[i] && this.#held.has(context)) context.abort(new Error("The lease was lost"));
      });
    } catch (error) {
      this.#broker.logger.warn(
        `Cannot extend the leases of ${contexts.length} messages of queue '${queue}': ${
          errorName(error)
        }`,
        { queue, count: contexts.length, error },
      );
    }
  }
}
