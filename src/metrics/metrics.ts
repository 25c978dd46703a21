/**
 * `Metrics`: a middleware that counts what a process does with messages, per actor and
 * queue, and answers Prometheus scrapes. See `metrics()`.
 *
 * @module
 */
import type { Broker, NackOutcome } from "../broker.ts";
import type { MessageContext } from "../context.ts";
import type { Message } from "../message.ts";
import { Middleware, type ProcessOutcome } from "../middleware/middleware.ts";
import { exposition, type Family, type Sample } from "./_exposition.ts";

/** The buckets of the processing time histogram, in seconds. */
export const DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/** The counters, per actor and queue. */
const COUNTERS = {
  enqueued: "Messages this process enqueued",
  processed: "Messages processed and acknowledged (skipped ones included)",
  failed: "Attempts whose actor threw (each attempt of a message counts)",
  retried: "Failed attempts scheduled for a retry",
  dead: "Messages dead-lettered by this process",
} as const;

type Counter = keyof typeof COUNTERS;

/** Options of {@linkcode metrics}. */
export interface MetricsOptions {
  /**
   * The broker to count on (the middleware is added to it) and whose queues' depth a scrape
   * reads. Without it, add the middleware yourself and scrapes report no depth.
   */
  broker?: Broker;
  /**
   * The queues whose depth (ready, delayed, leased, dead) a scrape reads: `stats()` each,
   * 4 Redis commands per queue per scrape on an `UpstashBroker`. Default: none.
   */
  queues?: readonly string[];
  /** The clock for processing times, in milliseconds (default `performance.now`). */
  now?: () => number;
}

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

/** The label key of an actor and queue. */
const key = (actor: string, queue: string) => JSON.stringify([actor, queue]);

/**
 * Counts messages enqueued, processed, failed, retried and dead per actor and queue, the
 * messages being processed, and processing times, in memory; a scrape (`text()` or
 * `fetch()`) renders them in the Prometheus text format, with each queue's depth read
 * from the broker. Counts are this process's since it started, as Prometheus expects of
 * counters. Make it with {@linkcode metrics}.
 */
export class Metrics extends Middleware {
  readonly #counters = new Map<Counter, Map<string, number>>();
  readonly #inFlight = new Map<string, number>();
  readonly #durations = new Map<string, Histogram>();
  readonly #started = new WeakMap<MessageContext, number>();
  readonly #broker: Broker | undefined;
  readonly #queues: readonly string[];
  readonly #now: () => number;

  /**
   * Use {@linkcode metrics}, which also adds it to the broker.
   *
   * @param options The broker, the queues, the clock.
   */
  constructor(options: MetricsOptions = {}) {
    super();
    this.#broker = options.broker;
    this.#queues = [...(options.queues ?? [])];
    this.#now = options.now ?? (() => performance.now());
  }

  #count(counter: Counter, actor: string, queue: string): void {
    let values = this.#counters.get(counter);
    if (!values) this.#counters.set(counter, values = new Map());
    const k = key(actor, queue);
    values.set(k, (values.get(k) ?? 0) + 1);
  }

  /** Counts an enqueued message. */
  override afterEnqueue(_broker: Broker, message: Message): void {
    this.#count("enqueued", message.actor, message.queue);
  }

  /** Starts the clock of an attempt. */
  override beforeProcessMessage(context: MessageContext): void {
    const k = key(context.message.actor, context.queue);
    this.#inFlight.set(k, (this.#inFlight.get(k) ?? 0) + 1);
    this.#started.set(context, this.#now());
  }

  /** Stops the clock of an attempt; counts a failure. */
  override afterProcessMessage(context: MessageContext, outcome: ProcessOutcome): void {
    const started = this.#end(context);
    if (started === undefined) return;
    const k = key(context.message.actor, context.queue);
    let histogram = this.#durations.get(k);
    if (!histogram) {
      this.#durations.set(
        k,
        histogram = { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 },
      );
    }
    const seconds = Math.max(0, this.#now() - started) / 1000;
    DURATION_BUCKETS.forEach((le, i) => {
      if (seconds <= le) histogram.buckets[i]++;
    });
    histogram.sum += seconds;
    histogram.count++;
    if (outcome.failed) this.#count("failed", context.message.actor, context.queue);
  }

  /** Ends an attempt a `SkipMessage` skipped. */
  override afterSkipMessage(context: MessageContext): void {
    this.#end(context);
  }

  /** Counts a processed message. */
  override afterAck(context: MessageContext): void {
    this.#count("processed", context.message.actor, context.queue);
  }

  /** Counts a retry or a death. */
  override afterNack(context: MessageContext, outcome: NackOutcome): void {
    this.#count(
      outcome.kind === "retry" ? "retried" : "dead",
      context.message.actor,
      context.queue,
    );
  }

  #end(context: MessageContext): number | undefined {
    const started = this.#started.get(context);
    if (started === undefined) return undefined;
    this.#started.delete(context);
    const k = key(context.message.actor, context.queue);
    this.#inFlight.set(k, (this.#inFlight.get(k) ?? 1) - 1);
    return started;
  }

  /**
   * Renders the metrics in the Prometheus text format (0.0.4).
   *
   * @returns The exposition text.
   * @throws {Error} When the broker fails to count a queue.
   */
  async text(): Promise<string> {
    const labels = (k: string) => {
      const [actor, queue] = JSON.parse(k) as [string, string];
      return { actor, queue };
    };
    const sorted = <T>(map: Map<string, T>) =>
      [...map.entries()].sort(([a], [b]) => a < b ? -1 : 1);
    const families: Family[] = Object.entries(COUNTERS).map(([name, help]) => ({
      name: `skiff_messages_${name}_total`,
      help,
      type: "counter",
      samples: sorted(this.#counters.get(name as Counter) ?? new Map()).map(([k, value]) => ({
        labels: labels(k),
        value,
      })),
    }));
    families.push({
      name: "skiff_messages_in_flight",
      help: "Messages being processed by this process",
      type: "gauge",
      samples: sorted(this.#inFlight).map(([k, value]) => ({ labels: labels(k), value })),
    });
    const duration: Sample[] = [];
    for (const [k, h] of sorted(this.#durations)) {
      DURATION_BUCKETS.forEach((le, i) =>
        duration.push({
          labels: { ...labels(k), le: String(le) },
          value: h.buckets[i],
          suffix: "_bucket",
        })
      );
      duration.push({ labels: { ...labels(k), le: "+Inf" }, value: h.count, suffix: "_bucket" });
      duration.push({ labels: labels(k), value: h.sum, suffix: "_sum" });
      duration.push({ labels: labels(k), value: h.count, suffix: "_count" });
    }
    families.push({
      name: "skiff_message_duration_seconds",
      help: "How long actors ran, per attempt",
      type: "histogram",
      samples: duration,
    });
    if (this.#broker && this.#queues.length > 0) {
      const broker = this.#broker;
      const stats = await Promise.all(this.#queues.map((queue) => broker.stats(queue)));
      families.push({
        name: "skiff_queue_messages",
        help: "Messages in each queue by state, read from the broker at each scrape",
        type: "gauge",
        samples: this.#queues.flatMap((queue, i) =>
          (["ready", "delayed", "leased", "dead"] as const).map((state) => ({
            labels: { queue, state },
            value: stats[i][state],
          }))
        ),
      });
    }
    return exposition(families);
  }

  /**
   * Answers a scrape: `GET` (any path) with the exposition text; other methods 405.
   *
   * @param request The request.
   * @returns The response.
   */
  async fetch(request: Request): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const body = await this.text();
    return new Response(request.method === "HEAD" ? null : body, {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }
}

/**
 * Counts what this process does with messages for Prometheus: adds a {@linkcode Metrics}
 * middleware to the broker and returns it; serve its `fetch` at `/metrics`.
 *
 * Metrics: `skiff_messages_{enqueued,processed,failed,retried,dead}_total` counters and the
 * `skiff_messages_in_flight` gauge per `actor` and `queue`, the
 * `skiff_message_duration_seconds` histogram, and with `queues`, the
 * `skiff_queue_messages{queue,state}` gauge read from the broker at each scrape.
 *
 * @example Count a workload, then scrape
 * ```ts
 * import assert from "node:assert/strict";
 * import { actor, MemoryBroker } from "@skiff/skiff";
 * import { metrics } from "@skiff/skiff/metrics";
 *
 * const broker = new MemoryBroker();
 * const m = metrics({ broker, queues: ["default"] });
 * const hello = actor(`hello-${crypto.randomUUID()}`, () => {}, { broker });
 * await hello.send();
 * await broker.join("default");
 * const text = await (await m.fetch(new Request("http://localhost/metrics"))).text();
 * assert.match(text, /^skiff_messages_processed_total\{actor="hello-[^"]+",queue="default"\} 1$/m);
 * ```
 *
 * @param options The broker, the queues whose depth to report, the clock.
 * @returns The middleware, with `text()` and `fetch()`.
 */
export function metrics(options: MetricsOptions = {}): Metrics {
  const m = new Metrics(options);
  options.broker?.addMiddleware(m);
  return m;
}
