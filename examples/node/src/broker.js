// The web server's broker: Redis from the environment, and pushes for the "signup" queue.
import process from "node:process";
import { Redis } from "@upstash/redis";
import { Push, setBroker, UpstashBroker } from "skiff";

/**
 * Reads a required environment variable; the error names it, never a value.
 * @param {string} name
 * @returns {string}
 */
export function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`Cannot start: set the environment variable ${name}`);
  return value;
}

export const broker = new UpstashBroker({
  redis: Redis.fromEnv({ enableTelemetry: false }),
  // Optional, as for the skiff command (worker.sh, the scheduler), which reads it too.
  namespace: process.env.SKIFF_NAMESPACE,
});
broker.addMiddleware(
  new Push({
    url: required("SKIFF_PUSH_URL"),
    signingKey: required("SKIFF_SIGNING_KEY"),
    queues: ["signup"],
  }),
);
setBroker(broker);
