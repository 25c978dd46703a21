import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { workerApp } from "../src/hono/mod.ts";
import { startLocalServer } from "../src/local/mod.ts";
import {
  MemoryReplayStore,
  RedisReplayStore,
  type ReplayStore,
  replayStoreFor,
} from "../src/push/replay.ts";
import { signPush } from "../src/push/signature.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, restEnv, testPrefix, testRedisUrl } from "./_env.ts";

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

/**
 * A local server that loses the response of the requests `lose` picks (after Redis ran
 * them), and a client that sends a request again when its response is lost, as
 * `@upstash/redis` does by default.
 */
async function losingServer(lose: (request: number) => boolean) {
  let request = 0;
  let lost = 0;
  const { token } = restEnv();
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token,
    port: 0,
    log: () => {},
    faults: {
      dropRate: 0.5,
      random: () => {
        if (!lose(request++)) return 1;
        lost++;
        return 0;
      },
    },
  });
  const redis = new Redis({
    url: server.url,
    token,
    enableTelemetry: false,
    retry: { retries: 3, backoff: () => 1 },
  });
  return { server, redis, lost: () => lost };
}

for (const shape of ["set", "pipeline"] as const) {
  Deno.test(`RedisReplayStore (${shape}): given the answer of its SET lost and the request sent again, then the push is accepted; a replay is still refused`, async () => {
    // The response of the first request (the first SET) is lost after Redis ran it
    const { server, redis, lost } = await losingServer((n) => n === 0);
    const prefix = testPrefix(`replay-lost-${shape}`);
    const client = shape === "set" ? redis : { pipeline: () => redis.pipeline() };
    const store = new RedisReplayStore({ redis: client, prefix });
    try {
      assert.equal(await store.remember("mac", 60_000), true);
      assert.equal(lost(), 1, "the first answer was lost and the client sent the SET again");
      // A second check of the same signature, by any instance, is a replay
      assert.equal(await store.remember("mac", 60_000), false);
      assert.equal(
        await new RedisReplayStore({ redis: restClient(), prefix }).remember("mac", 60_000),
        false,
      );
    } finally {
      await cleanup(restClient(), prefix);
      await server.close();
    }
  });
}

Deno.test("POST /messages: given the replay check's answer lost, then no false 401; the same request again is a 401 before any other Redis command", async () => {
  const { server, redis, lost } = await losingServer((n) => n === 0);
  const prefix = testPrefix("replay-endpoint");
  const secret = "a-signing-secret-of-some-length";
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
  const ran: string[] = [];
  const task = actor(`task-${crypto.randomUUID()}`, (x: string) => {
    ran.push(x);
  }, { broker, queue });
  const app = workerApp({
    broker,
    signingKeys: [secret],
    replayStore: new RedisReplayStore({ redis, prefix }),
  });
  try {
    const message = await task.send("once");
    const body = JSON.stringify({ queue, ids: [message.id] });
    const signature = await signPush(secret, { method: "POST", path: "/messages", body });
    const init = {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "skiff-signature": signature },
    };
    const first = await app.request("/messages", init);
    assert.equal(lost(), 1);
    assert.equal(first.status, 200);
    assert.deepEqual(ran, ["once"]);
    const again = await app.request("/messages", init);
    assert.equal(again.status, 401);
    assert.match((await again.json()).error, /used already/);
    assert.deepEqual(ran, ["once"]);
  } finally {
    await cleanup(restClient(), prefix);
    await server.close();
  }
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

Deno.test("POST /messages without a replay store: the claim remembers the signature; its answer lost, no false 401; the same push again is a 401 with nothing claimed", async () => {
  // Request 0 is the claim by id (the signature is remembered in it): its answer is lost
  // after Redis ran it, and @upstash/redis sends it again.
  const { server, redis, lost } = await losingServer((n) => n === 0);
  const namespace = testPrefix("replay-claim").slice(0, -1);
  const secret = "a-signing-secret-of-some-length";
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const sender = new UpstashBroker({ redis: restClient(), namespace, logger: silentLogger });
  const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
  const ran: string[] = [];
  const task = actor(`task-${crypto.randomUUID()}`, (x: string) => {
    ran.push(x);
  }, { broker: sender, queue });
  const app = workerApp({ broker, signingKeys: [secret] });
  try {
    const message = await task.send("once");
    const body = JSON.stringify({ queue, ids: [message.id] });
    const signature = await signPush(secret, { method: "POST", path: "/messages", body });
    const init = {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "skiff-signature": signature },
    };
    const first = await app.request("/messages", init);
    assert.equal(lost(), 1);
    assert.equal(first.status, 200);
    assert.deepEqual((await first.json()).results, [{ id: message.id, status: "acked" }]);
    assert.deepEqual(ran, ["once"]);
    // A second message, pushed with the first push's signature again: refused, not claimed.
    const second = await task.send("never");
    const replayBody = JSON.stringify({ queue, ids: [second.id] });
    const replayed = await app.request("/messages", { ...init, body: replayBody });
    assert.equal(replayed.status, 401, "a body the signature does not cover");
    const again = await app.request("/messages", init);
    assert.equal(again.status, 401);
    assert.match((await again.json()).error, /used already/);
    assert.deepEqual(ran, ["once"]);
    assert.deepEqual(await sender.stats(queue), { ready: 1, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await cleanup(restClient(), `${namespace}:`);
    await server.close();
  }
});
