/**
 * The Node side of the workerd dashboard suite, bundled for Node by the test: puts a dead
 * letter and a message in flight (with progress) in a queue, and reads the queue back.
 *
 * @module
 */
import { Redis } from "@upstash/redis";
import type { QueueStats } from "../../src/broker.ts";
import { UpstashBroker } from "../../src/brokers/upstash.ts";
import { Message } from "../../src/message.ts";

/** Where the queue is. */
export interface Place {
  /** The local server. */
  redis: { url: string; token: string };
  /** The broker's namespace. */
  namespace: string;
  /** The queue. */
  queue: string;
}

function broker(place: Place): UpstashBroker {
  const redis = new Redis({ ...place.redis, enableTelemetry: false });
  return new UpstashBroker({ redis, namespace: place.namespace });
}

/**
 * Sends two messages; dead-letters one, leases the other and reports its progress.
 *
 * @param place Where the queue is.
 * @returns The ids of the dead letter and of the message in flight.
 */
export async function seed(place: Place): Promise<{ dead: string; leased: string }> {
  const b = broker(place);
  const make = () => new Message({ queue: place.queue, actor: "workerd-task", args: [1] });
  await b.enqueue([make(), make()]);
  const [first, second] = await b.claim(place.queue, { count: 2, leaseMs: 60_000 });
  await b.nack(place.queue, first, { kind: "dead", reason: "Error: boom" });
  await b.setProgress(place.queue, second.id, JSON.stringify({ done: 3, total: 4 }), 60_000);
  return { dead: first.id, leased: second.id };
}

/**
 * Counts the queue's messages.
 *
 * @param place Where the queue is.
 * @returns The counts.
 */
export function stats(place: Place): Promise<QueueStats> {
  return broker(place).stats(place.queue);
}
