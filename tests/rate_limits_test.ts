import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor, type ActorOptions } from "../src/actor.ts";
import type { NackOutcome } from "../src/broker.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { setBroker } from "../src/global_broker.ts";
import type { MessageContext } from "../src/context.ts";
import { RateLimitExceeded, Retry } from "../src/errors.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { Message } from "../src/message.ts";
import { Middleware } from "../src/middleware/middleware.ts";
import { Retries } from "../src/middleware/retries.ts";
import type { RateLimiterBackend } from "../src/rate_limits/backend.ts";
import { Barrier } from "../src/rate_limits/barrier.ts";
import { BucketRateLimiter } from "../src/rate_limits/bucket.ts";
import { ConcurrentRateLimiter } from "../src/rate_limits/concurrent.ts";
import { MemoryRateLimiterBackend } from "../src/rate_limits/memory_backend.ts";
import { SCRIPTS } from "../src/rate_limits/_scripts.ts";
import { UpstashRateLimiterBackend } from "../src/rate_limits/upstash_backend.ts";
import { WindowRateLimiter } from "../src/rate_limits/window.ts";
import { Worker } from "../src/worker.ts";
import { cleanup, restClient, restEnv, testRedisUrl } from "./_env.ts";
import { refusing } from "./_losing.ts";
import { silentLogger } from "./broker_conformance.ts";
import { rateLimitsConformance } from "./rate_limits_conformance.ts";

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;

rateLimitsConformance(
  "MemoryRateLimiterBackend",
  (options) => new MemoryRateLimiterBackend(options),
);

const redis = restClient();
rateLimitsConformance(
  "UpstashRateLimiterBackend",
  (options) =>
    new UpstashRateLimiterBackend({ redis, namespace: unique("test-rl").slice(0, 20), ...options }),
  {
    cleanup: (backend) => cleanup(redis, `${(backend as UpstashRateLimiterBackend).namespace}:`),
  },
);

Deno.test("UpstashRateLimiterBackend: every script declares allow-key-locking and Redis names it by our SHA", async () => {
  for (const script of SCRIPTS) {
    assert(script.source.startsWith("#!lua flags=allow-key-locking\n"), script.name);
    assert.equal(await redis.scriptLoad(script.source), await script.sha(), script.name);
  }
});

Deno.test("UpstashRateLimiterBackend: given keys of every kind, then they are namespaced and hash-tagged", async () => {
  const namespace = unique("test-keys").slice(0, 20);
  const clock = { time: 1_700_000_000_000 };
  const backend = new UpstashRateLimiterBackend({ redis, namespace, now: () => clock.time });
  try {
    await new ConcurrentRateLimiter(backend, "k").acquire(async () => {
      await new WindowRateLimiter(backend, "k").acquire(() => {});
      await new BucketRateLimiter(backend, "k").acquire(() => {});
      await new BucketRateLimiter(backend, "k", { strategy: "token" }).acquire(() => {});
      const barrier = new Barrier(backend, "k");
      await barrier.create(1);
      const [, keys] = await redis.scan(0, { match: `${namespace}:*`, count: 1_000 });
      // The token bucket's record of the request that took a token, under the same tag
      const taken = keys.filter((name) => name.includes(":tokens:taken:"));
      assert.equal(taken.length, 1);
      assert.match(taken[0], /^[^{]*:rate:\{k\}:tokens:taken:[0-9a-f-]{36}$/);
      assert.deepEqual(keys.filter((name) => !taken.includes(name)).sort(), [
        `${namespace}:barrier:{k}`,
        `${namespace}:rate:{k}:concurrent`,
        `${namespace}:rate:{k}:fixed:${Math.floor(clock.time / 1_000)}`,
        `${namespace}:rate:{k}:tokens`,
        `${namespace}:rate:{k}:window`,
      ]);
    });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashRateLimiterBackend: given responses lost at random (the client retries), then 32 acquirers still never exceed limit 2 and no slot leaks", async () => {
  let dropped = 0;
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token: restEnv().token,
    port: 0,
    faults: {
      dropRate: 0.3,
      random: () => {
        const r = Math.random();
        if (r < 0.3) dropped++;
        return r;
      },
    },
    log: () => {},
  });
  const flaky = new Redis({
    url: server.url,
    token: restEnv().token,
    enableTelemetry: false,
    retry: { retries: 20, backoff: () => 1 },
  });
  const namespace = unique("test-drop").slice(0, 20);
  const backend = new UpstashRateLimiterBackend({ redis: flaky, namespace });
  try {
    const limiter = new ConcurrentRateLimiter(backend, "flaky", { limit: 2, ttl: 60_000 });
    let inside = 0;
    let most = 0;
    let finished = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      for (let attempt = 1;; attempt++) {
        assert(attempt < 2_000, "an acquirer starved: a slot leaked");
        try {
          await limiter.acquire(async () => {
            most = Math.max(most, ++inside);
            await new Promise((resolve) => setTimeout(resolve, 2));
            inside--;
          });
          finished++;
          return;
        } catch (error) {
          if (!(error instanceof RateLimitExceeded)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
    }));
    assert.equal(finished, 32);
    assert(most <= 2, `at most 2 at once, saw ${most}`);
    assert(dropped > 10, `responses were lost (${dropped}) and the client retried them`);
    server.faults.dropRate = 0;
    const holds = await Promise.all(
      [1, 2, 3].map(() =>
        backend.acquireConcurrent("flaky", { token: crypto.randomUUID(), limit: 2, ttl: 60_000 })
      ),
    );
    assert.equal(holds.filter(Boolean).length, 2, "both slots came back");
  } finally {
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});

/**
 * A backend whose client loses the response of the next request when `lose()` was called
 * (after Redis ran it): `@upstash/redis` then sends the same request again.
 */
async function losingBackend() {
  let armed = false;
  let lost = 0;
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token: restEnv().token,
    port: 0,
    log: () => {},
    faults: {
      dropRate: 0.5,
      random: () => {
        if (!armed) return 1;
        armed = false;
        lost++;
        return 0;
      },
    },
  });
  const client = new Redis({
    url: server.url,
    token: restEnv().token,
    enableTelemetry: false,
    retry: { retries: 3, backoff: () => 1 },
  });
  // Loaded ahead, so that each operation is one request (no NOSCRIPT, then EVAL).
  for (const script of SCRIPTS) await client.scriptLoad(script.source);
  const namespace = unique("test-lost").slice(0, 20);
  const backend = new UpstashRateLimiterBackend({ redis: client, namespace });
  /** Runs `op` with the response of its (only) request lost once. */
  const losing = async <T>(op: () => Promise<T>): Promise<T> => {
    armed = true;
    const before = lost;
    const result = await op();
    assert.equal(lost, before + 1, "the response was lost and the request sent again");
    return result;
  };
  const close = async () => {
    await cleanup(redis, `${namespace}:`);
    await server.close();
  };
  return { backend, losing, close };
}

Deno.test("UpstashRateLimiterBackend: given the answer of each operation lost once (the client sends it again), then each answers as its first run and takes no second slot", async () => {
  const { backend, losing, close } = await losingBackend();
  try {
    // A mutex: the lost acquire holds the slot, once; the lost release frees it, once
    const token = crypto.randomUUID();
    const expiresAt = backend.now() + 60_000;
    const slot = { token, limit: 1, ttl: 60_000 };
    assert.equal(await losing(() => backend.acquireConcurrent("m", slot)), true);
    const rival = { token: crypto.randomUUID(), limit: 1, ttl: 60_000 };
    assert.equal(await backend.acquireConcurrent("m", rival), false);
    assert.equal(await losing(() => backend.releaseConcurrent("m", token, { expiresAt })), true);
    assert.equal(await backend.acquireConcurrent("m", rival), true);
    // Windows and buckets with room for one: the lost acquire is admitted, the next refused
    const id = () => crypto.randomUUID();
    const one = { limit: 1, bucket: 60_000 };
    assert.equal(
      await losing(() => backend.acquireWindow("w", { id: id(), limit: 1, window: 60_000 })),
      true,
    );
    assert.equal(await backend.acquireWindow("w", { id: id(), limit: 1, window: 60_000 }), false);
    assert.equal(await losing(() => backend.acquireFixedBucket("f", { id: id(), ...one })), true);
    assert.equal(await backend.acquireFixedBucket("f", { id: id(), ...one }), false);
    assert.equal(await losing(() => backend.acquireTokenBucket("t", { id: id(), ...one })), true);
    assert.equal(await backend.acquireTokenBucket("t", { id: id(), ...one }), false);
    // A barrier: the lost creation answers true; a lost arrival counts once
    const barrier = { token: id(), parties: 2, ttl: 60_000 };
    assert.equal(await losing(() => backend.createBarrier("b", barrier)), true);
    assert.equal(await backend.createBarrier("b", { ...barrier, token: id() }), false);
    const arrival = await losing(() => backend.arriveAtBarrier("b", "party-1"));
    assert.deepEqual([arrival?.parties, arrival?.arrived], [2, 1]);
    assert.equal(await backend.barrierArrivals("b"), 1);
  } finally {
    await close();
  }
});

/**
 * A backend on its own local server, whose next request `faults.next()` answers 503
 * without running it.
 */
async function refusingBackend() {
  const { token } = restEnv();
  const server = await startLocalServer({ redis: testRedisUrl(), token, port: 0, log: () => {} });
  const client = new Redis({ url: server.url, token, enableTelemetry: false });
  // Loaded ahead, so that each operation is one request (no NOSCRIPT, then EVAL).
  for (const script of SCRIPTS) await client.scriptLoad(script.source);
  const namespace = unique("test-503").slice(0, 20);
  const backend = new UpstashRateLimiterBackend({ redis: client, namespace });
  const close = async () => {
    server.faults = {};
    await cleanup(redis, `${namespace}:`);
    await server.close();
  };
  return { backend, faults: refusing(server), close };
}

Deno.test("ConcurrentRateLimiter on Upstash: given a 503 on the release, then the release is retried and the slot is free at once, not after its ttl", async () => {
  const { backend, faults, close } = await refusingBackend();
  try {
    const mutex = new ConcurrentRateLimiter(backend, "m", { limit: 1, ttl: 15 * 60_000 });
    // The next request, the release, is answered 503 without running.
    await mutex.acquire(() => faults.next());
    assert.equal(faults.refused, 1);
    assert.equal(await mutex.acquire((acquired) => acquired, { raiseOnFailure: false }), true);
  } finally {
    await close();
  }
});

Deno.test("rate limiters on Upstash: given a 503 on an acquire, then it is retried with the same id and admits once", async () => {
  const { backend, faults, close } = await refusingBackend();
  try {
    const limiters = [
      new ConcurrentRateLimiter(backend, "c", { limit: 1 }),
      new WindowRateLimiter(backend, "w", { limit: 1, window: 60_000 }),
      new BucketRateLimiter(backend, "f", { limit: 1, bucket: 60_000 }),
      new BucketRateLimiter(backend, "t", { limit: 1, bucket: 60_000, strategy: "token" }),
    ];
    for (const limiter of limiters) {
      // The acquire is answered 503 without running; its retry runs.
      faults.next();
      let ran = 0;
      await limiter.acquire(() => void ran++);
      assert.equal(ran, 1);
    }
    assert.equal(faults.refused, 4);
    // Each admitted one request only: its limit of 1 is used (the mutex is free again).
    for (const limiter of limiters.slice(1)) {
      assert.equal(await limiter.acquire((acquired) => acquired, { raiseOnFailure: false }), false);
    }
  } finally {
    await close();
  }
});

Deno.test("rate limiters: given bad settings, then the constructors throw std-style errors", () => {
  const backend = new MemoryRateLimiterBackend();
  assert.throws(() => new ConcurrentRateLimiter(backend, "m", { limit: 0 }), {
    name: "RangeError",
    message:
      "Cannot create ConcurrentRateLimiter 'm': 'limit' must be a positive integer, received 0",
  });
  assert.throws(() => new WindowRateLimiter(backend, "w", { window: 1.5 }), {
    name: "RangeError",
    message:
      "Cannot create WindowRateLimiter 'w': 'window' must be a positive integer number of milliseconds, received 1.5",
  });
  assert.throws(
    () => new ConcurrentRateLimiter(backend, "m", { ttl: "5" as unknown as number }),
    TypeError,
  );
  assert.throws(() => new BucketRateLimiter(backend, "b", { strategy: "leaky" as "token" }), {
    name: "TypeError",
    message:
      `Cannot create BucketRateLimiter 'b': 'strategy' must be "fixed" or "token", received "leaky"`,
  });
  assert.throws(
    () =>
      new BucketRateLimiter(backend, "b", {
        limit: 2 ** 31 - 1,
        bucket: 2 ** 31 - 1,
        strategy: "token",
      }),
    RangeError,
  );
  assert.throws(() => new ConcurrentRateLimiter(backend, "has {braces}"), {
    name: "TypeError",
    message:
      `Cannot create ConcurrentRateLimiter: 'key' must be 1 to 200 of A-Z a-z 0-9 _ . : @ / -, received "has {braces}"`,
  });
  assert.throws(
    () => new WindowRateLimiter({} as RateLimiterBackend, "w"),
    {
      name: "TypeError",
      message:
        "Cannot create WindowRateLimiter: 'backend' must be a RateLimiterBackend, received an object",
    },
  );
  assert.throws(() => new Barrier(backend, "b", { pollMin: 10, pollMax: 5 }), RangeError);
  assert.throws(
    () => new MemoryRateLimiterBackend({ now: 5 as unknown as () => number }),
    TypeError,
  );
  assert.throws(
    () => new UpstashRateLimiterBackend({ redis: {} as Redis }),
    {
      name: "TypeError",
      message:
        "Cannot create UpstashRateLimiterBackend: 'redis' must be a client with eval and evalsha",
    },
  );
  assert.throws(
    () => new UpstashRateLimiterBackend({ redis, namespace: "a{b}" }),
    TypeError,
  );
});

Deno.test("rate limiters: given bad call arguments, then acquire, create and wait reject them", async () => {
  const backend = new MemoryRateLimiterBackend();
  const mutex = new ConcurrentRateLimiter(backend, "m");
  await assert.rejects(mutex.acquire(undefined as unknown as () => void), {
    name: "TypeError",
    message: "Cannot acquire rate limiter 'm': 'fn' must be a function, received undefined",
  });
  const barrier = new Barrier(backend, "b");
  await assert.rejects(barrier.create(0), {
    name: "RangeError",
    message: "Cannot create barrier 'b': 'parties' must be a positive integer, received 0",
  });
  await barrier.create(2);
  await assert.rejects(barrier.wait({ timeout: -1 }), {
    name: "RangeError",
    message:
      "Cannot wait at barrier 'b': 'timeout' must be a non-negative number of milliseconds, received -1",
  });
  await assert.rejects(barrier.wait({ party: "" }), TypeError);
});

Deno.test("rate limiters: RateLimitExceeded is a Retry with the key, and no payload", () => {
  const error = new RateLimitExceeded("api");
  assert(error instanceof Retry && error instanceof Error);
  assert.equal(error.name, "RateLimitExceeded");
  assert.equal(error.key, "api");
  assert.equal(error.delay, undefined);
  assert.equal(error.message, "Cannot acquire rate limiter 'api': its limit is reached");
});

Deno.test("rate limiters: given a release that fails, then fn's result stands and the ttl frees the slot", async () => {
  let time = 0;
  const memory = new MemoryRateLimiterBackend({ now: () => time });
  const broken: RateLimiterBackend = Object.assign(Object.create(memory), {
    now: () => memory.now(),
    acquireConcurrent: memory.acquireConcurrent.bind(memory),
    releaseConcurrent: () => Promise.reject(new Error("network down")),
  });
  const mutex = new ConcurrentRateLimiter(broken, "m", { ttl: 1_000 });
  assert.equal(await mutex.acquire(() => 42), 42);
  assert.equal(await mutex.acquire(() => 1, { raiseOnFailure: false }), 1);
  assert.equal(await mutex.acquire((acquired) => acquired, { raiseOnFailure: false }), false);
  time = 1_000;
  assert.equal(await mutex.acquire((acquired) => acquired), true);
});

/** Records nacks, and lets a test wait for the first one. */
class NackWatcher extends Middleware {
  readonly outcomes: NackOutcome[] = [];
  #first = Promise.withResolvers<void>();
  get first(): Promise<void> {
    return this.#first.promise;
  }
  override afterNack(_context: MessageContext, outcome: NackOutcome): void {
    this.outcomes.push(outcome);
    this.#first.resolve();
  }
}

async function oneAtATime(label: string, backend: RateLimiterBackend): Promise<void> {
  let time = 1_700_000_000_000;
  const broker = new MemoryBroker({ now: () => time, logger: silentLogger });
  const watcher = new NackWatcher();
  broker.addMiddleware(watcher);
  const mutex = new ConcurrentRateLimiter(backend, unique("one-at-a-time"), { limit: 1 });
  const gate = Promise.withResolvers<void>();
  let inside = 0;
  const ran: string[] = [];
  const oneAtATimeActor = actor(
    unique(`one_at_a_time-${label}`),
    async function (this: MessageContext, n: string) {
      await mutex.acquire(async () => {
        assert.equal(++inside, 1, "one at a time");
        await gate.promise;
        ran.push(n);
        inside--;
      });
    },
    { broker, minBackoff: 1_000, maxBackoff: 1_000 },
  );
  // Given two messages at once and a worker that runs two at a time,
  await oneAtATimeActor.send("a");
  await oneAtATimeActor.send("b");
  const worker = new Worker(broker, { concurrency: 2, pollMin: 1, pollMax: 5 });
  await worker.start();
  try {
    // when one holds the mutex, the other is refused and retried later;
    await watcher.first;
    assert.equal(watcher.outcomes.length, 1);
    assert.equal(watcher.outcomes[0].kind, "retry");
    gate.resolve();
    await worker.join();
    assert.equal(ran.length, 1);
    const retried = Message.decode((watcher.outcomes[0] as { body: string }).body);
    assert.equal(retried.retries, 1, "the rate-limit retry counts by default");
    // then, once the backoff passes, it runs too.
    time += 2_000;
    await worker.join();
    assert.deepEqual(ran.toSorted(), ["a", "b"]);
    assert.equal(ran[1], retried.args[0]);
    assert.deepEqual(await broker.stats("default"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await worker.stop();
  }
}

Deno.test("one_at_a_time: given two messages at once on a memory mutex, then one runs and the other is retried", async () => {
  await oneAtATime("memory", new MemoryRateLimiterBackend());
});

Deno.test("one_at_a_time: given two messages at once on an Upstash mutex, then one runs and the other is retried", async () => {
  const namespace = unique("test-1at").slice(0, 20);
  try {
    await oneAtATime("upstash", new UpstashRateLimiterBackend({ redis, namespace }));
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

/** A broker whose only actor is always rate limited; answers the nacks it saw. */
async function alwaysLimited(
  brokerRetries: Retries | undefined,
  options: Record<string, unknown>,
): Promise<{ outcomes: NackOutcome[]; dead: number }> {
  let time = 1_700_000_000_000;
  const broker = new MemoryBroker({
    now: () => time,
    logger: silentLogger,
    ...(brokerRetries ? { middleware: [brokerRetries] } : {}),
  });
  const watcher = new NackWatcher();
  broker.addMiddleware(watcher);
  const backend = new MemoryRateLimiterBackend();
  const window = new WindowRateLimiter(backend, "always", { limit: 1, window: 1e9 });
  await window.acquire(() => {});
  const declared: ActorOptions = { broker, maxRetries: 1, minBackoff: 100, maxBackoff: 100 };
  const limited = actor(unique("limited"), async () => {
    await window.acquire(() => {});
  }, { ...declared, ...options });
  await limited.send();
  for (let i = 0; i < 4; i++) {
    await broker.join("default");
    time += 1_000;
  }
  return { outcomes: watcher.outcomes, dead: (await broker.stats("default")).dead };
}

Deno.test("Retries: given rate-limit retries count (the default), then they use up maxRetries", async () => {
  const { outcomes, dead } = await alwaysLimited(undefined, {});
  assert.deepEqual(outcomes.map((o) => o.kind), ["retry", "dead"]);
  assert.equal(dead, 1);
  assert.match(
    (outcomes[1] as { reason: string }).reason,
    /^Retries exhausted after 1 retry: RateLimitExceeded/,
  );
});

Deno.test("Retries: given the actor option rateLimitRetriesCount false, then rate-limit retries keep the count and never exhaust", async () => {
  const { outcomes, dead } = await alwaysLimited(undefined, { rateLimitRetriesCount: false });
  assert.deepEqual(outcomes.map((o) => o.kind), ["retry", "retry", "retry", "retry"]);
  assert.equal(dead, 0);
  for (const outcome of outcomes) {
    assert.equal(Message.decode((outcome as { body: string }).body).retries, 0);
  }
});

Deno.test("Retries: given the middleware option rateLimitRetriesCount false, then an actor may still opt back in", async () => {
  const uncounted = await alwaysLimited(new Retries({ rateLimitRetriesCount: false }), {});
  assert.equal(uncounted.dead, 0);
  assert.equal(uncounted.outcomes.length, 4);
  const counted = await alwaysLimited(new Retries({ rateLimitRetriesCount: false }), {
    rateLimitRetriesCount: true,
  });
  assert.deepEqual(counted.outcomes.map((o) => o.kind), ["retry", "dead"]);
});

Deno.test("Retries: given rateLimitRetriesCount false, then other errors still count", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const options: ActorOptions = {
    broker,
    maxRetries: 0,
    rateLimitRetriesCount: false,
  };
  const failing = actor(unique("failing"), () => {
    throw new Error("boom");
  }, options);
  await failing.send();
  await broker.join("default", { failFast: false });
  assert.equal((await broker.stats("default")).dead, 1);
});

Deno.test("Retries: rateLimitRetriesCount is a declared boolean option; near-misses stay unknown", () => {
  const options = (extra: Record<string, unknown>) => extra as ActorOptions;
  assert.throws(() => actor(unique("typo"), () => {}, options({ rateLimitRetriesCounts: false })), {
    name: "TypeError",
    message: /unknown option 'rateLimitRetriesCounts'/,
  });
  assert.throws(
    () => actor(unique("wrong-type"), () => {}, options({ rateLimitRetriesCount: "no" })),
    TypeError,
  );
  const ok = actor(unique("ok"), () => {}, options({ rateLimitRetriesCount: false }));
  assert.equal((ok.options as Record<string, unknown>).rateLimitRetriesCount, false);
});

Deno.test("rate limiters: given no backend, when they acquire, then the state lives beside the broker option's, shared by key and not across brokers", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const other = new MemoryBroker({ logger: silentLogger });
  const key = unique("mutex");
  const mutex = new ConcurrentRateLimiter({ key, limit: 1, broker });
  const same = new ConcurrentRateLimiter({ key, broker });
  const elsewhere = new ConcurrentRateLimiter({ key, broker: other });
  assert.equal(mutex.limit, 1);
  assert.equal(mutex.backend, same.backend);
  assert.notEqual(mutex.backend, elsewhere.backend);
  await mutex.acquire(async () => {
    assert.equal(await same.acquire((acquired) => acquired, { raiseOnFailure: false }), false);
    assert.equal(await elsewhere.acquire((acquired) => acquired), true);
  });
  const window = new WindowRateLimiter({ key, limit: 1, window: 60_000, broker });
  assert.equal(await window.acquire((acquired) => acquired), true);
  await assert.rejects(window.acquire(() => {}), RateLimitExceeded);
  const bucket = new BucketRateLimiter({
    key,
    limit: 1,
    bucket: 60_000,
    strategy: "token",
    broker,
  });
  assert.equal(bucket.strategy, "token");
  assert.equal(await bucket.acquire((acquired) => acquired), true);
  const barrier = new Barrier({ key, broker, ttl: 60_000 });
  const twin = new Barrier({ key, broker });
  assert.equal(barrier.ttl, 60_000);
  assert.deepEqual([await barrier.create(1), await twin.create(1)], [true, false]);
  assert.equal(await twin.wait({ block: false }), true);
});

Deno.test("rate limiters: given neither backend nor broker, then the global broker is looked up at each acquire, not at construction", async () => {
  const key = unique("global");
  const mutex = new ConcurrentRateLimiter({ key });
  const first = new MemoryBroker({ logger: silentLogger });
  const second = new MemoryBroker({ logger: silentLogger });
  try {
    setBroker(first);
    await mutex.acquire(async () => {
      const holder = new ConcurrentRateLimiter({ key, broker: first });
      assert.equal(await holder.acquire((got) => got, { raiseOnFailure: false }), false);
      setBroker(second);
      assert.equal(await mutex.acquire((got) => got), true);
    });
  } finally {
    setBroker(new MemoryBroker());
  }
});

Deno.test("rate limiters: given an UpstashBroker, then limiters without a backend use its Redis and namespace, shared with an explicit backend there", async () => {
  const namespace = unique("test-rlb").slice(0, 20);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const key = unique("mutex");
  try {
    const derived = new ConcurrentRateLimiter({ key, broker });
    assert(derived.backend instanceof UpstashRateLimiterBackend);
    assert.equal((derived.backend as UpstashRateLimiterBackend).namespace, namespace);
    const explicit = new ConcurrentRateLimiter(
      new UpstashRateLimiterBackend({ redis, namespace }),
      key,
    );
    await derived.acquire(async () => {
      assert.deepEqual(await redis.keys(`${namespace}:rate:*`), [
        `${namespace}:rate:{${key}}:concurrent`,
      ]);
      assert.equal(await explicit.acquire((got) => got, { raiseOnFailure: false }), false);
    });
    const barrier = new Barrier({ key, broker });
    await barrier.create(1);
    assert.equal(await redis.exists(`${namespace}:barrier:{${key}}`), 1);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("rate limiters: given a broker on Redis that is not an UpstashBroker, then its limiters use its Redis too, as Results does", async () => {
  // A wrapper (tracing, say) that keeps the broker's client and namespace, as Results reads.
  class Wrapped extends MemoryBroker {
    readonly redis = redis;
    readonly namespace = unique("test-rlw").slice(0, 20);
  }
  const broker = new Wrapped({ logger: silentLogger });
  const key = unique("mutex");
  try {
    const mutex = new ConcurrentRateLimiter({ key, broker });
    assert(mutex.backend instanceof UpstashRateLimiterBackend);
    await mutex.acquire(async () => {
      assert.equal(await redis.exists(`${broker.namespace}:rate:{${key}}:concurrent`), 1);
    });
    // A client that cannot run scripts is refused, not replaced by a mutex in memory.
    class Unfit extends MemoryBroker {
      readonly redis = {};
      readonly namespace = "unfit";
    }
    assert.throws(() => new ConcurrentRateLimiter({ key, broker: new Unfit() }).backend, TypeError);
  } finally {
    await cleanup(redis, `${broker.namespace}:`);
  }
});

Deno.test("rate limiters: given a bad broker or backend in the options form, then TypeError", () => {
  assert.throws(() => new ConcurrentRateLimiter({ key: "m", broker: {} as MemoryBroker }), {
    name: "TypeError",
    message: "Cannot create ConcurrentRateLimiter: 'broker' must be a Broker, received an object",
  });
  assert.throws(
    () => new WindowRateLimiter({ key: "w", backend: {} as RateLimiterBackend }),
    {
      name: "TypeError",
      message:
        "Cannot create WindowRateLimiter: 'backend' must be a RateLimiterBackend, received an object",
    },
  );
  assert.throws(() => new Barrier({ key: "has {braces}" }), {
    name: "TypeError",
    message:
      `Cannot create Barrier: 'key' must be 1 to 200 of A-Z a-z 0-9 _ . : @ / -, received "has {braces}"`,
  });
  assert.throws(() => new ConcurrentRateLimiter({ key: "m", limit: 0 }), {
    name: "RangeError",
    message:
      "Cannot create ConcurrentRateLimiter 'm': 'limit' must be a positive integer, received 0",
  });
});
