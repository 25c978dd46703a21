// The web server's broker: Redis from the environment, and pushes for the "signup" queue,
// both sent over node:http (skiff/node), cheaper per request than Node's fetch.
import process from "node:process";
import { Push, setBroker, UpstashBroker } from "skiff";
import { nodeFetch, redisFromEnv } from "skiff/node";

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
  redis: redisFromEnv(),
  // Optional, as for the skiff command (worker.sh, the scheduler), which reads it too.
  namespace: process.env.SKIFF_NAMESPACE,
});
broker.addMiddleware(
  new Push({
    url: required("SKIFF_PUSH_URL"),
    signingKey: required("SKIFF_SIGNING_KEY"),
    queues: ["signup"],
    fetch: nodeFetch,
  }),
);
setBroker(broker);
