import assert from "node:assert/strict";
import type { Redis } from "@upstash/redis";
import { MemoryBroker } from "../src/brokers/memory.ts";
import {
  MemoryReplayStore,
  RedisReplayStore,
  type ReplayStore,
  replayStoreFor,
} from "../src/push/replay.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";

/** One suite for every ReplayStore: remembered once, forgotten after the TTL. */
function replayConformance(
  label: string,
  make: (clock: { time: number }) => {
    store: ReplayStore;
    /** Waits until the key is forgotten (Redis expires keys on its own clock). */
    expire?: (key: string) => Promise<void>;
    done?: () => Promise<void>;
  },
): void {
  Deno.test(`${label}: given a key, then it is accepted once`, async () => {
    const clock = { time: 0 };
    const { store, done } = make(clock);
    try {
      const key = crypto.randomUUID();
      assert.equal(await store.remember(key, 60_000), true);
      assert.equal(await store.remember(key, 60_000), false);
      assert.equal(await store.remember(`${key}-other`, 60_000), true);
    } finally {
      await done?.();
    }
  });

  Deno.test(`${label}: given the same key at once, then exactly one call wins`, async () => {
    const clock = { time: 0 };
    const { store, done } = make(clock);
    try {
      const key = crypto.randomUUID();
      const wins = await Promise.all(Array.from({ length: 5 }, () => store.remember(key, 60_000)));
      assert.equal(wins.filter(Boolean).length, 1);
    } finally {
      await done?.();
    }
  });

  Deno.test(`${label}: given the TTL passed, then the key is accepted again`, async () => {
    const clock = { time: 0 };
    const { store, expire, done } = make(clock);
    try {
      const key = crypto.randomUUID();
      assert.equal(await store.remember(key, 20), true);
      clock.time += 19;
      if (!expire) assert.equal(await store.remember(key, 20), false);
      clock.time += 1;
      await expire?.(key);
      assert.equal(await store.remember(key, 20), true);
    } finally {
      await done?.();
    }
  });
}

replayConformance("MemoryReplayStore", (clock) => ({
  store: new MemoryReplayStore({ now: () => clock.time }),
}));

/** Polls until Redis has expired the key: a PX of 20 ms, waited for, not timed. */
function expireIn(redis: Redis, prefix: string): (key: string) => Promise<void> {
  return async (key) => {
    while (await redis.exists(`${prefix}${key}`) === 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
}

replayConformance("RedisReplayStore", () => {
  const redis = restClient();
  const prefix = testPrefix("replay");
  return {
    store: new RedisReplayStore({ redis, prefix }),
    expire: expireIn(redis, prefix),
    done: () => cleanup(redis, prefix),
  };
});

replayConformance("RedisReplayStore (pipeline-only client)", () => {
  const redis = restClient();
  const prefix = testPrefix("replay-pipe");
  const narrow: Pick<Redis, "pipeline"> = { pipeline: () => redis.pipeline() };
  return {
    store: new RedisReplayStore({ redis: narrow, prefix }),
    expire: expireIn(redis, prefix),
    done: () => cleanup(redis, prefix),
  };
});

Deno.test("RedisReplayStore: given a key, then it is one SET NX PX under the prefix", async () => {
  const redis = restClient();
  const prefix = testPrefix("replay-ttl");
  try {
    await new RedisReplayStore({ redis, prefix }).remember("mac", 600_000);
    const ttl = await redis.pttl(`${prefix}mac`);
    assert(ttl > 590_000 && ttl <= 600_000, String(ttl));
  } finally {
    await cleanup(redis, prefix);
  }
});

Deno.test("MemoryReplayStore: given more keys than maxKeys, then the oldest are forgotten", async () => {
  const store = new MemoryReplayStore({ maxKeys: 2, now: () => 0 });
  await store.remember("a", 1_000);
  await store.remember("b", 1_000);
  await store.remember("c", 1_000);
  assert.equal(await store.remember("a", 1_000), true);
  assert.equal(await store.remember("c", 1_000), false);
  assert.throws(() => new MemoryReplayStore({ maxKeys: 0 }), RangeError);
});

Deno.test("replayStoreFor: given a broker that exposes redis and namespace, then a Redis store under <namespace>:sig:", async () => {
  const redis = restClient();
  const namespace = testPrefix("replay-for").slice(0, -1);
  const broker = Object.assign(new MemoryBroker({ logger: silentLogger }), { redis, namespace });
  try {
    const store = replayStoreFor(broker);
    assert(store instanceof RedisReplayStore);
    assert.equal(await store.remember("mac", 60_000), true);
    assert.equal(await redis.exists(`${namespace}:sig:mac`), 1);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("RedisReplayStore: given no client, then TypeError", () => {
  assert.throws(() => new RedisReplayStore({ redis: {} as Pick<Redis, "set"> }), TypeError);
});
