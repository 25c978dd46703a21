/**
 * The demo run by `scripts/demo.sh`: a shop's jobs sent to actors, with retries, an
 * explicit retry delay, a delayed message and a dead letter, processed by a pull worker.
 * With `UPSTASH_REDIS_REST_URL` set (the script points it at `skiff local`), messages live
 * in Redis; without it, in memory.
 *
 * @module
 */
import process from "node:process";
import { Redis } from "@upstash/redis";
import { type Broker, MemoryBroker, setBroker, UpstashBroker, Worker } from "../mod.ts";
import { askForReview, chargeCard, confirmOrder, importFeed, log, reserveStock } from "./shop.ts";

const url = process.env.UPSTASH_REDIS_REST_URL;
const quiet = { ...console, error: () => {}, warn: () => {} };
const broker: Broker = url
  ? new UpstashBroker({
    redis: new Redis({ url, token: process.env.UPSTASH_REDIS_REST_TOKEN!, enableTelemetry: false }),
    namespace: `demo-${crypto.randomUUID().slice(0, 8)}`,
    logger: quiet,
  })
  : new MemoryBroker({ logger: quiet });
setBroker(broker);
console.log(
  url ? `Broker: Redis through the Upstash REST protocol at ${url}` : "Broker: in memory",
);

console.log("\nSending 6 messages (one delayed by 1.5 s, in one batch request)...");
await broker.enqueue([
  confirmOrder.message(1001, "ada@example.com"),
  chargeCard.message(1001, 4_990),
  reserveStock.message("SKU-42"),
  askForReview.messageWithOptions({ args: [1001], delay: 1_500 }),
  importFeed.message("https://feeds.example.com/daily.csv"),
  confirmOrder.messageWithOptions({ args: [1002, "grace@example.com"], priority: -1 }),
]);
console.log(`Queue before the worker starts: ${JSON.stringify(await broker.stats("default"))}`);

console.log("\nWorker started (concurrency 4), processing:");
const worker = new Worker(broker, { queues: ["default"], concurrency: 4, pollMax: 100 });
await worker.start();
for (;;) {
  const stats = await broker.stats("default");
  if (stats.ready + stats.delayed + stats.leased === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
await worker.stop();

const stats = await broker.stats("default");
console.log(`\nQueue after: ${JSON.stringify(stats)}`);
for (const dead of await broker.deadLetters("default")) {
  console.log(`Dead letter ${dead.id}: ${dead.reason}`);
}
const charged = log.some((line) => line.startsWith("charged"));
const reviewed = log.some((line) => line.startsWith("asked for a review"));
if (!charged || !reviewed || stats.dead !== 1) {
  console.error("The demo did not end as expected.");
  process.exit(1);
}
console.log(`\nDone: ${log.length} actor runs, 1 message dead after its retries.`);
