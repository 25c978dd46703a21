/**
 * Runs a test once per broker: a `MemoryBroker` with a `MemoryResultBackend`, and an
 * `UpstashBroker` with an `UpstashResultBackend` on the harness's Redis. Each run gets an
 * injected clock, the `Results` middleware, its own queue and namespace, and cleans up.
 *
 * @module
 */
import type { Redis } from "@upstash/redis";
import type { Broker } from "../src/broker.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import type { ResultBackend } from "../src/results/backend.ts";
import { MemoryResultBackend } from "../src/results/memory.ts";
import { Results } from "../src/results/middleware.ts";
import { UpstashResultBackend } from "../src/results/upstash.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";

/** What a test gets. */
export interface BrokerSetup {
  /** "MemoryBroker" or "UpstashBroker". */
  label: string;
  /** The broker, with the `Results` middleware. */
  broker: Broker;
  /** Its result backend. */
  backend: ResultBackend;
  /** The broker's clock; tests move it. */
  clock: { time: number };
  /** The test's queue. */
  queue: string;
  /** A unique actor name. */
  name: (prefix: string) => string;
  /** The Redis client and key prefix (UpstashBroker only). */
  redis?: { client: Redis; namespace: string };
  /** Logged errors, for tests that expect one. */
  errors: string[];
}

let client: Redis | undefined;

/**
 * Registers `fn` as one test per broker.
 *
 * @param title The test's name, after the broker's.
 * @param fn The test.
 */
export function forEachBroker(title: string, fn: (setup: BrokerSetup) => Promise<void>): void {
  for (const label of ["MemoryBroker", "UpstashBroker"]) {
    Deno.test(`${label}: ${title}`, async () => {
      const clock = { time: 1_700_000_000_000 };
      const errors: string[] = [];
      const logger = { ...silentLogger, error: (line: string) => errors.push(line) };
      const options = { now: () => clock.time, logger };
      let broker: Broker;
      let backend: ResultBackend;
      let redis: BrokerSetup["redis"];
      if (label === "MemoryBroker") {
        broker = new MemoryBroker(options);
        backend = new MemoryResultBackend();
      } else {
        client ??= restClient();
        const namespace = testPrefix("composition").slice(0, -1);
        broker = new UpstashBroker({ ...options, redis: client, namespace });
        backend = new UpstashResultBackend({ redis: client, namespace, pollMin: 1, pollMax: 20 });
        redis = { client, namespace };
      }
      broker.addMiddleware(new Results({ backend }));
      const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
      const name = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;
      try {
        await fn({ label, broker, backend, clock, queue, name, redis, errors });
      } finally {
        if (redis) await cleanup(redis.client, `${redis.namespace}:`);
      }
    });
  }
}

/**
 * Makes every `settle()` of a broker run twice, as a request retried after its response
 * was lost: the second run's answer is the one returned.
 *
 * @param broker The broker.
 * @returns How many settles ran, and what each first and second run answered.
 */
export function settleTwice(broker: Broker): { done: [boolean, boolean][] } {
  const done: [boolean, boolean][] = [];
  const settle = broker.settle.bind(broker);
  broker.settle = async (...args) => {
    const first = await settle(...args);
    const second = await settle(...args);
    done.push([first.done, second.done]);
    return second;
  };
  return { done };
}
