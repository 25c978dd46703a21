/**
 * The benchmark's cases, each for skiff and for BullMQ on the same private Redis: one
 * sample per call. Private to `scripts/bench.ts`.
 *
 * @module
 */
import { Redis } from "@upstash/redis";
import { Queue, Worker as BullWorker } from "bullmq";
import { cpuUsage } from "node:process";
import { actor, Message, Push, UpstashBroker, Worker } from "../mod.ts";
import { workerApp } from "../src/hono/mod.ts";
import { serve as serveOnNode } from "@hono/node-server";
import { createRedis as createNodeRedis, nodeFetch } from "../src/node/mod.ts";
import { createRedis as createDenoRedis, denoFetch } from "../src/deno/mod.ts";
import { onNode } from "../src/_util.ts";
import type { BenchServices } from "./_bench_services.ts";

/** One measurement. */
export interface Sample {
  /** Messages per second, or a latency in ms. */
  value: number;
  /** A second latency (p99), when `value` is a p50. */
  p99?: number;
  /** Redis commands per message. */
  commands: number;
  /** HTTP requests per message (skiff only). */
  requests: number;
  /** CPU ms per 1,000 messages of this process, of redis-server and of `skiff local`. */
  cpu: number;
  redisCpu: number;
  localCpu: number;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const SECRET = "bench-signing-key-0123456789";
const BATCH = 1000;
let serial = 0;

function unique(prefix: string): string {
  return `${prefix}${++serial}x${crypto.randomUUID().slice(0, 6)}`;
}

/** Measures `fn`, which handles `n` messages: time, commands, requests, CPU. */
async function measure(
  services: BenchServices,
  n: number,
  fn: () => Promise<number | void>,
): Promise<Sample> {
  await services.commands();
  const requests = services.requests.rest + services.requests.other;
  const cpu = cpuUsage();
  const redisCpu = services.redisCpuMs();
  const localCpu = services.localCpuMs();
  const start = performance.now();
  const ended = await fn();
  const ms = (typeof ended === "number" ? ended : performance.now()) - start;
  const used = cpuUsage(cpu);
  return {
    value: n / (ms / 1000),
    commands: (await services.commands()) / n,
    requests: (services.requests.rest + services.requests.other - requests) / n,
    cpu: (used.user + used.system) / 1000 / n * 1000,
    redisCpu: (services.redisCpuMs() - redisCpu) / n * 1000,
    localCpu: (services.localCpuMs() - localCpu) / n * 1000,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Resolves when `count()` reaches `n`, with the time it did. */
function until(count: () => number, n: number, timeoutMs = 300_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (count() >= n) return resolve(performance.now());
      if (performance.now() > deadline) {
        return reject(new Error(`Cannot finish the case: ${count()} of ${n} in time`));
      }
      setTimeout(check, 1);
    };
    check();
  });
}

/** Calls `send(i)` `n` times at `rate` per second, without waiting for each. */
async function paced(n: number, rate: number, send: (i: number) => Promise<unknown>) {
  const start = performance.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const at = start + (i * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    sends.push(send(i));
  }
  await Promise.all(sends);
}

/** Runs `n` calls of `fn`, `concurrency` at a time. */
async function concurrently(n: number, concurrency: number, fn: () => Promise<unknown>) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < n) await fn();
  }));
}

/**
 * What skiff sends its HTTP requests with: `@upstash/redis` and the global `fetch`, or the
 * Redis client and `fetch` of `skiff/node` or `skiff/deno`.
 */
const CLIENTS = {
  fetch: {
    redis: (credentials: { url: string; token: string }) =>
      new Redis({ ...credentials, enableTelemetry: false }),
    fetch: undefined,
  },
  node: { redis: createNodeRedis, fetch: nodeFetch },
  deno: { redis: createDenoRedis, fetch: denoFetch },
};

/** What skiff sends its HTTP requests with: `fetch`, `skiff/node` or `skiff/deno`. */
export type HttpClient = keyof typeof CLIENTS;

/** Whether this runs on Node itself. */
export const ON_NODE = onNode();

/** skiff through `skiff local`, a process of its own. */
export class SkiffCases {
  readonly #services: BenchServices;
  readonly #redis: Redis;

  readonly #client: HttpClient;

  /**
   * @param services The servers to measure against.
   * @param options `client`: send with `fetch` (`@upstash/redis`'s client and the global
   * `fetch` for pushes), or with `skiff/node` or `skiff/deno` (their Redis client and
   * `nodeFetch` or `denoFetch`), as docs/runtimes.md advises on Node and Deno.
   */
  constructor(services: BenchServices, options: { client: HttpClient }) {
    this.#services = services;
    this.#client = options.client;
    this.#redis = CLIENTS[options.client].redis({
      url: services.local.url,
      token: services.token,
    });
  }

  #broker(): UpstashBroker {
    return new UpstashBroker({ redis: this.#redis, namespace: unique("bench"), logger: silent });
  }

  async #drop(broker: UpstashBroker): Promise<void> {
    for (let cursor = "0";;) {
      const [next, keys] = await this.#redis.scan(cursor, {
        match: `${broker.namespace}*`,
        count: 1000,
      });
      if (keys.length > 0) await this.#redis.del(...keys);
      if ((cursor = String(next)) === "0") break;
    }
  }

  /** `broker.enqueue` of 1,000 messages per call. */
  async enqueueBatch(n: number): Promise<Sample> {
    const broker = this.#broker();
    const queue = unique("q");
    const name = unique("bench.noop");
    actor(name, () => {}, { broker, queue });
    const sample = await measure(this.#services, n, async () => {
      for (let i = 0; i < n; i += BATCH) {
        const size = Math.min(BATCH, n - i);
        await broker.enqueue(
          Array.from({ length: size }, () => new Message({ queue, actor: name, args: [] })),
        );
      }
    });
    await this.#drop(broker);
    return sample;
  }

  /** `send()` one at a time, `concurrency` senders. */
  async sendOne(n: number, concurrency: number): Promise<Sample> {
    const broker = this.#broker();
    const task = actor(unique("bench.noop"), () => {}, { broker, queue: unique("q") });
    const sample = await measure(
      this.#services,
      n,
      () => concurrently(n, concurrency, () => task.send()),
    );
    await this.#drop(broker);
    return sample;
  }

  /** A Worker drains `n` messages enqueued ahead; `concurrency` undefined: its defaults. */
  async process(n: number, concurrency?: number): Promise<Sample> {
    const broker = this.#broker();
    const queue = unique("q");
    let ran = 0;
    const name = unique("bench.noop");
    actor(name, () => void ran++, { broker, queue });
    for (let i = 0; i < n; i += BATCH) {
      const size = Math.min(BATCH, n - i);
      await broker.enqueue(
        Array.from({ length: size }, () => new Message({ queue, actor: name, args: [] })),
      );
    }
    const worker = new Worker(
      broker,
      concurrency ? { queues: [queue], concurrency } : { queues: [queue] },
    );
    const sample = await measure(this.#services, n, async () => {
      await worker.start();
      const ended = await until(() => ran, n);
      await worker.join();
      return ended;
    });
    await worker.stop();
    await this.#drop(broker);
    return sample;
  }

  /** Send → actor start, paced at `rate`, through a pull Worker at its default settings. */
  async latencyPull(n: number, rate: number): Promise<Sample> {
    const broker = this.#broker();
    const queue = unique("q");
    const seen: number[] = [];
    const task = actor(unique("bench.latency"), (sent: number) => {
      seen.push(performance.now() - sent);
    }, { broker, queue });
    const worker = new Worker(broker, { queues: [queue] });
    await worker.start();
    const sample = await measure(this.#services, n, async () => {
      await paced(n, rate, () => task.send(performance.now()));
      await until(() => seen.length, n);
      await worker.join();
    });
    await worker.stop();
    await this.#drop(broker);
    return latency(sample, seen);
  }

  /**
   * A push endpoint (`workerApp` served over HTTP in this process) and a sender's broker
   * with the `Push` middleware, on one namespace; `close()` stops the server and drops it.
   */
  async #pushed(): Promise<{ sender: UpstashBroker; push: Push; close: () => Promise<void> }> {
    const namespace = unique("bench");
    const endpoint = new UpstashBroker({ redis: this.#redis, namespace, logger: silent });
    const app = workerApp({ broker: endpoint, signingKeys: [SECRET] });
    const server = await serve((request) => app.fetch(request));
    const sender = new UpstashBroker({ redis: this.#redis, namespace, logger: silent });
    const push = new Push({
      url: `${server.url}/messages`,
      signingKey: SECRET,
      fetch: CLIENTS[this.#client].fetch,
    });
    sender.addMiddleware(push);
    const close = async () => {
      await server.close();
      await this.#drop(endpoint);
    };
    return { sender, push, close };
  }

  /**
   * Send → actor start, paced at `rate`, through the push endpoint: `workerApp` served over
   * HTTP in this process, the sender's broker with the `Push` middleware.
   */
  async latencyPush(n: number, rate: number): Promise<Sample> {
    const { sender, push, close } = await this.#pushed();
    const queue = unique("q");
    const seen: number[] = [];
    const task = actor(unique("bench.latency"), (sent: number) => {
      seen.push(performance.now() - sent);
    }, { broker: sender, queue });
    const sample = await measure(this.#services, n, async () => {
      await paced(n, rate, () => task.send(performance.now()));
      await until(() => seen.length, n);
      await push.flush();
    });
    await close();
    return latency(sample, seen);
  }

  /**
   * `n` messages sent at once (`broker.enqueue()` of 1,000 per call) to a queue served by
   * the push endpoint: time from the first send to the last actor start.
   */
  async pushBurst(n: number): Promise<Sample> {
    const { sender, push, close } = await this.#pushed();
    const queue = unique("q");
    const name = unique("bench.noop");
    let ran = 0;
    actor(name, () => void ran++, { broker: sender, queue });
    const sample = await measure(this.#services, n, async () => {
      for (let i = 0; i < n; i += BATCH) {
        const size = Math.min(BATCH, n - i);
        await sender.enqueue(
          Array.from({ length: size }, () => new Message({ queue, actor: name, args: [] })),
        );
      }
      const ended = await until(() => ran, n);
      await push.flush();
      return ended;
    });
    await close();
    return sample;
  }

  /**
   * Requests a pull Worker at its defaults sends after its queue empties: in the first
   * `ms`, and per second over the `steadyMs` after those (its pauses have grown to
   * `pollMax` by then).
   */
  async idleRequests(
    ms: number,
    steadyMs: number,
    queues = 1,
  ): Promise<{ first: number; perSecond: number }> {
    const broker = this.#broker();
    const names = Array.from({ length: queues }, () => unique("q"));
    const task = actor(unique("bench.noop"), () => {}, { broker, queue: names[0] });
    await task.send();
    const worker = new Worker(broker, { queues: names });
    await worker.start();
    await worker.join();
    const before = this.#services.requests.rest;
    await new Promise((resolve) => setTimeout(resolve, ms));
    const first = this.#services.requests.rest - before;
    await new Promise((resolve) => setTimeout(resolve, steadyMs));
    const steady = this.#services.requests.rest - before - first;
    await worker.stop();
    await this.#drop(broker);
    return { first, perSecond: steady / (steadyMs / 1000) };
  }
}

function latency(sample: Sample, seen: number[]): Sample {
  const sorted = [...seen].sort((a, b) => a - b);
  return { ...sample, value: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** An HTTP server for a fetch handler: the runtime's own on Deno and Bun, `@hono/node-server` on Node. */
async function serve(
  handler: (request: Request) => Response | Promise<Response>,
): Promise<{ url: string; close(): Promise<void> }> {
  const g = globalThis as unknown as {
    Deno?: {
      serve(
        options: { hostname: string; port: number; onListen(): void },
        handler: (request: Request) => Response | Promise<Response>,
      ): { addr: { port: number }; shutdown(): Promise<void> };
    };
    Bun?: {
      serve(options: {
        hostname: string;
        port: number;
        fetch: (request: Request) => Response | Promise<Response>;
      }): { port: number; stop(force?: boolean): Promise<void> | void };
    };
  };
  if (g.Deno) {
    const server = g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
  }
  if (g.Bun) {
    const server = g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
    return { url: `http://127.0.0.1:${server.port}`, close: async () => await server.stop(true) };
  }
  // Node: @hono/node-server, as Node apps serve workerApp (examples/node).
  return await new Promise((resolve) => {
    const server = serveOnNode({ fetch: handler, hostname: "127.0.0.1", port: 0 }, (info) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

/** BullMQ over TCP on the same Redis. */
export class BullCases {
  readonly #services: BenchServices;
  readonly #connection: { host: string; port: number; maxRetriesPerRequest: null };

  constructor(services: BenchServices) {
    this.#services = services;
    this.#connection = { host: "127.0.0.1", port: services.port, maxRetriesPerRequest: null };
  }

  #queue(): Queue {
    return new Queue(unique("bull"), {
      connection: this.#connection,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
  }

  async #drop(queue: Queue): Promise<void> {
    await queue.obliterate({ force: true });
    await queue.close();
  }

  /** `addBulk` of 1,000 jobs per call. */
  async enqueueBatch(n: number): Promise<Sample> {
    const queue = this.#queue();
    await queue.waitUntilReady();
    const sample = await measure(this.#services, n, async () => {
      for (let i = 0; i < n; i += BATCH) {
        const size = Math.min(BATCH, n - i);
        await queue.addBulk(Array.from({ length: size }, () => ({ name: "noop", data: {} })));
      }
    });
    await this.#drop(queue);
    return sample;
  }

  /** `add()` one at a time, `concurrency` senders. */
  async sendOne(n: number, concurrency: number): Promise<Sample> {
    const queue = this.#queue();
    await queue.waitUntilReady();
    const sample = await measure(
      this.#services,
      n,
      () => concurrently(n, concurrency, () => queue.add("noop", {})),
    );
    await this.#drop(queue);
    return sample;
  }

  /** A Worker at `concurrency` drains `n` jobs added ahead. */
  async process(n: number, concurrency: number): Promise<Sample> {
    const queue = this.#queue();
    for (let i = 0; i < n; i += BATCH) {
      const size = Math.min(BATCH, n - i);
      await queue.addBulk(Array.from({ length: size }, () => ({ name: "noop", data: {} })));
    }
    let ran = 0;
    const worker = new BullWorker(queue.name, () => Promise.resolve(void ran++), {
      connection: this.#connection,
      concurrency,
      autorun: false,
    });
    await worker.waitUntilReady();
    const sample = await measure(this.#services, n, async () => {
      void worker.run();
      return await until(() => ran, n);
    });
    await worker.close();
    await this.#drop(queue);
    return sample;
  }

  /**
   * `n` jobs added at once (`addBulk` of 1,000 per call) to a queue a Worker at
   * `concurrency` serves: time from the first add to the last processor start.
   */
  async burst(n: number, concurrency: number): Promise<Sample> {
    const queue = this.#queue();
    await queue.waitUntilReady();
    let ran = 0;
    const worker = new BullWorker(queue.name, () => Promise.resolve(void ran++), {
      connection: this.#connection,
      concurrency,
    });
    await worker.waitUntilReady();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sample = await measure(this.#services, n, async () => {
      for (let i = 0; i < n; i += BATCH) {
        const size = Math.min(BATCH, n - i);
        await queue.addBulk(Array.from({ length: size }, () => ({ name: "noop", data: {} })));
      }
      return await until(() => ran, n);
    });
    await worker.close();
    await this.#drop(queue);
    return sample;
  }

  /** Add → processor start, paced at `rate`, with a Worker at `concurrency`. */
  async latency(n: number, rate: number, concurrency: number): Promise<Sample> {
    const queue = this.#queue();
    await queue.waitUntilReady();
    const seen: number[] = [];
    const worker = new BullWorker(queue.name, (job) => {
      seen.push(performance.now() - job.data.sent);
      return Promise.resolve();
    }, { connection: this.#connection, concurrency });
    await worker.waitUntilReady();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sample = await measure(this.#services, n, async () => {
      await paced(n, rate, () => queue.add("latency", { sent: performance.now() }));
      await until(() => seen.length, n);
    });
    await worker.close();
    await this.#drop(queue);
    return latency(sample, seen);
  }
}
