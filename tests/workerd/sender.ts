/**
 * The sending side of the workerd push suite, bundled for Node by the test: an
 * `UpstashBroker` with the `Push` middleware, sending the suite's actor from outside the
 * worker, as an application would.
 *
 * @module
 */
import { Redis } from "@upstash/redis";
import { UpstashBroker } from "../../src/brokers/upstash.ts";
import { Push } from "../../src/push/push.ts";
import { group } from "../../src/composition/group.ts";
import { pipeline } from "../../src/composition/pipeline.ts";
import { double, record, storeSum } from "./actors.ts";

/** Options of {@linkcode sendPushed}. */
export interface SendOptions {
  /** The local server. */
  redis: { url: string; token: string };
  /** The broker's namespace. */
  namespace: string;
  /** The endpoint's messages URL. */
  url: string;
  /** The signing key. */
  signingKey: string;
  /** The key the actor counts its runs under. */
  key: string;
  /** Lose the push: its fetch fails. */
  lose?: boolean;
}

/** What the endpoint answered a push. */
export interface Answer {
  /** The HTTP status. */
  status: number;
  /** The JSON body. */
  body: unknown;
}

/**
 * Sends one message and waits for its push to settle; then pushes it once more, as a
 * duplicate delivery would.
 *
 * @param options Where to send and push.
 * @returns The message id and the endpoint's answers.
 */
export async function sendPushed(
  options: SendOptions,
): Promise<{ id: string; answers: Answer[] }> {
  const redis = new Redis({ ...options.redis, enableTelemetry: false });
  const broker = new UpstashBroker({
    redis,
    namespace: options.namespace,
    logger: { ...console, warn: () => {} },
  });
  const answers: Answer[] = [];
  const push = new Push({
    url: options.url,
    signingKey: options.signingKey,
    fetch: async (request) => {
      if (options.lose) throw new TypeError("fetch failed (the push is lost on purpose)");
      const response = await fetch(request);
      answers.push({ status: response.status, body: await response.clone().json() });
      return response;
    },
  });
  broker.addMiddleware(push);
  const [message] = await broker.enqueue([record.message(options.key)]);
  await push.flush();
  if (!options.lose) await push.push(message.queue, [message.id]);
  return { id: message.id, answers };
}

/**
 * Counts a queue's messages by state.
 *
 * @param options The local server and the namespace.
 * @returns The counts.
 */
export function queueStats(options: Pick<SendOptions, "redis" | "namespace">) {
  const redis = new Redis({ ...options.redis, enableTelemetry: false });
  return new UpstashBroker({ redis, namespace: options.namespace }).stats(record.queue);
}

/**
 * Runs a pipeline whose first step is a group (double 1, double 2) and whose last step
 * stores the sum of the group's results under `key`; only the group's members are pushed
 * from here, the rest continues by push inside the worker.
 *
 * @param options Where to send and push, and the key.
 * @returns The statuses of the pushes sent from here.
 */
export async function sendPipeline(options: Omit<SendOptions, "lose">): Promise<number[]> {
  const redis = new Redis({ ...options.redis, enableTelemetry: false });
  const broker = new UpstashBroker({ redis, namespace: options.namespace });
  const statuses: number[] = [];
  const push = new Push({
    url: options.url,
    signingKey: options.signingKey,
    fetch: async (request) => {
      const response = await fetch(request);
      statuses.push(response.status);
      return response;
    },
  });
  broker.addMiddleware(push);
  await pipeline([
    group([double.message(1), double.message(2)], { broker }),
    storeSum.message(options.key),
  ], { broker }).run();
  await push.flush();
  return statuses;
}
