import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { MemoryResultBackend } from "../src/results/memory.ts";
import { UpstashResultBackend } from "../src/results/upstash.ts";
import { recipesConformance } from "./recipes_conformance.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";

recipesConformance("MemoryBroker", (options) => ({
  broker: new MemoryBroker(options),
  backend: new MemoryResultBackend(),
}));

const redis = restClient();

recipesConformance("UpstashBroker", (options) => {
  const namespace = testPrefix("recipes").slice(0, -1);
  return {
    broker: new UpstashBroker({ ...options, redis, namespace }),
    backend: new UpstashResultBackend({ redis, namespace, pollMin: 1, pollMax: 20 }),
    cleanup: () => cleanup(redis, `${namespace}:`),
  };
});
