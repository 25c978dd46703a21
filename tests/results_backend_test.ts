import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { processMessage } from "../src/process.ts";
import type { ResultBackend, ResultBackendOptions } from "../src/results/backend.ts";
import { ResultFailure, ResultMissing, ResultTimeout } from "../src/results/errors.ts";
import { MemoryResultBackend } from "../src/results/memory.ts";
import { Results } from "../src/results/middleware.ts";
import { UpstashResultBackend, type UpstashResultClient } from "../src/results/upstash.ts";
// `Message.getResult()` is provided by the results layer when it loads.
import "../src/results/_lookup.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, restEnv, testPrefix, testRedisUrl } from "./_env.ts";
import { refusing } from "./_losing.ts";
import { CommandCounter } from "./_monitor.ts";

const redis = restClient();

/** One test per backend, each with its own namespace. */
function forEachBackend(
  title: string,
  fn: (make: (options?: ResultBackendOptions) => ResultBackend, label: string) => Promise<void>,
): void {
  Deno.test(`MemoryResultBackend: ${title}`, () =>
    fn((options) => new MemoryResultBackend(options), "memory"));
  Deno.test(`UpstashResultBackend: ${title}`, async () => {
    const namespace = testPrefix("results").slice(0, -1);
    try {
      await fn((options) => new UpstashResultBackend({ ...options, redis, namespace }), "upstash");
    } finally {
      await cleanup(redis, `${namespace}:`);
    }
  });
}

const id = () => crypto.randomUUID();

forEachBackend(
  "given results of every JSON shape, when stored, then they read back intact",
  async (make) => {
    const backend = make();
    const values = [42, "123", "text", null, true, [1, "2", [3]], { a: { b: [null, "x"] } }, 1.5];
    const ids = values.map(() => id());
    for (const [i, value] of values.entries()) await backend.storeResult(ids[i], value, 60_000);
    for (const [i, value] of values.entries()) {
      assert.deepEqual(
        await backend.getResult(ids[i]),
        value,
      );
    }
    const none = id();
    await backend.storeResult(none, undefined, 60_000);
    assert.equal(await backend.getResult(none), null);
  },
);

forEachBackend(
  "given nothing stored, then ResultMissing at once, and ResultTimeout when blocking past the timeout",
  async (make) => {
    let time = 0;
    const backend = make({ now: () => (time += 100), pollMin: 1, pollMax: 1 });
    const missing = id();
    await assert.rejects(backend.getResult(missing), (error) => {
      assert.ok(error instanceof ResultMissing);
      assert.equal(error.messageId, missing);
      return true;
    });
    await assert.rejects(backend.getResult(missing, { block: true, timeout: 1_000 }), (error) => {
      assert.ok(error instanceof ResultTimeout);
      assert.equal(error.timeout, 1_000);
      return true;
    });
    assert.throws(() => backend.getResults([missing], { timeout: -1 }), RangeError);
  },
);

forEachBackend(
  "given a blocking read, when this backend stores the result, then the read wakes at once",
  async (make) => {
    const backend = make({ pollMin: 60_000, pollMax: 60_000 }); // no poll would come in time
    const message = id();
    const reading = backend.getResult(message, { block: true, timeout: 120_000 });
    await new Promise((resolve) => setTimeout(resolve, 0)); // the first read misses
    await backend.storeResult(message, "landed", 60_000);
    assert.equal(await reading, "landed");
  },
);

forEachBackend(
  "given a failure stored for several messages, then each raises ResultFailure with the error",
  async (make) => {
    const backend = make();
    const [a, b] = [id(), id()];
    await backend.storeFailure(
      [a, b],
      { type: "RangeError", message: "too big", stack: "at x" },
      60_000,
    );
    for (const message of [a, b]) {
      await assert.rejects(backend.getResult(message), (error) => {
        assert.ok(error instanceof ResultFailure);
        assert.deepEqual([error.errorType, error.errorMessage, error.errorStack], [
          "RangeError",
          "too big",
          "at x",
        ]);
        assert.equal(
          error.message,
          `Cannot get the result of message ${message}: the actor failed with RangeError`,
        );
        return true;
      });
    }
  },
);

forEachBackend(
  "given slots of single ids and lists, then getResults yields them in order and stops at a failure",
  async (make) => {
    const backend = make({ pollMin: 1, pollMax: 1 });
    const [a, b, c, d] = [id(), id(), id(), id()];
    await backend.storeResult(c, "c", 60_000);
    await backend.storeResult(a, "a", 60_000);
    await backend.storeResult(b, "b", 60_000);
    assert.deepEqual(await backend.getResults([a, [b, c], c]).toArray(), ["a", ["b", "c"], "c"]);
    await backend.storeFailure([d], { type: "Error", message: "x" }, 60_000);
    const seen: unknown[] = [];
    await assert.rejects(async () => {
      for await (const result of backend.getResults([a, d, b])) seen.push(result);
    }, ResultFailure);
    assert.deepEqual(seen, ["a"]);
  },
);

forEachBackend("given a time to live, then results expire with it", async (make, label) => {
  let time = 1_000;
  const backend = make({ now: () => time });
  const message = id();
  await backend.storeResult(message, 1, 5_000);
  assert.equal(await backend.getResult(message), 1);
  if (label === "memory") {
    time += 5_000;
    await assert.rejects(backend.getResult(message), ResultMissing);
  } else {
    const ttl = await redis.pttl((backend as UpstashResultBackend).key(message));
    assert.ok(ttl > 0 && ttl <= 5_000, String(ttl));
  }
  await assert.rejects(backend.storeResult(message, 1, 0), RangeError);
  await assert.rejects(backend.storeResult(message, 10n, 1_000), TypeError);
});

Deno.test("UpstashResultBackend: given a reader on another instance, then it polls until the result lands", async () => {
  const namespace = testPrefix("results-poll").slice(0, -1);
  const writer = new UpstashResultBackend({ redis, namespace });
  const reader = new UpstashResultBackend({ redis, namespace, pollMin: 1, pollMax: 5 });
  const message = id();
  try {
    const reading = reader.getResult(message, { block: true, timeout: 30_000 });
    await writer.storeResult(message, { ok: true }, 60_000);
    assert.deepEqual(await reading, { ok: true });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashResultBackend: given a client without automatic deserialization, or a foreign value, then it reads what it wrote, and refuses the rest", async () => {
  const namespace = testPrefix("results-raw").slice(0, -1);
  const { url, token } = restEnv();
  const raw = new Redis({ url, token, enableTelemetry: false, automaticDeserialization: false });
  const backend = new UpstashResultBackend({ redis: raw, namespace });
  const [a, b] = [id(), id()];
  try {
    await backend.storeResult(a, "42", 60_000);
    assert.equal(await backend.getResult(a), "42");
    await redis.set(backend.key(b), "not a result");
    await assert.rejects(backend.getResult(b), {
      name: "TypeError",
      message: "Cannot read a result: the stored value is not a skiff result",
    });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("result backends: given bad options, then TypeError or RangeError at once", () => {
  assert.throws(() => new MemoryResultBackend({ pollMin: 0 }), RangeError);
  assert.throws(() => new UpstashResultBackend({ redis: {} as never }), TypeError);
  assert.throws(() => new UpstashResultBackend({ redis, namespace: "a{b}" }), TypeError);
  assert.throws(() => new Results({ backend: {} } as never), TypeError);
  assert.throws(
    () => new Results({ backend: new MemoryResultBackend(), resultTtl: 0 }),
    RangeError,
  );
});

Deno.test("Results: given includeStack, a resultTtl per message and a default storeResults, then each applies", async () => {
  let time = 0;
  const backend = new MemoryResultBackend({ now: () => time });
  const broker = new MemoryBroker({ logger: silentLogger });
  broker.addMiddleware(new Results({ backend, storeResults: true, includeStack: true }));
  const fail = actor(`fail-${crypto.randomUUID()}`, (): number => {
    throw new Error("boom");
  }, { broker, maxRetries: 0 });
  const echo = actor(`echo-${crypto.randomUUID()}`, (n: number) => n, { broker });
  const off = actor(`off-${crypto.randomUUID()}`, () => 1, { broker, storeResults: false });
  const failed = await fail.send();
  const short = await echo.sendWithOptions({ args: [1], resultTtl: 1_000 });
  const long = await echo.send(2);
  const quiet = await off.send();
  await broker.join("default", { failFast: false });
  await assert.rejects(failed.getResult(), (error) => {
    assert.ok(error instanceof ResultFailure);
    assert.match(error.errorStack ?? "", /boom/);
    return true;
  });
  time = 1_000;
  await assert.rejects(short.getResult(), ResultMissing);
  assert.equal(await long.getResult(), 2);
  await assert.rejects(quiet.getResult(), /does not store results/);
});

Deno.test("Results: given a broker without the Results middleware, or an actor not declared here, then getResult fails at once", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const echo = actor(`echo-${crypto.randomUUID()}`, (n: number) => n, {
    broker,
    storeResults: true,
  });
  const message = await echo.send(1);
  await assert.rejects(message.getResult({ block: true }), {
    name: "TypeError",
    message: `Cannot get the result of message ${message.id}: the broker has no Results middleware`,
  });
  const stranger = message.copy({ actor: `nobody-${crypto.randomUUID()}` });
  await assert.rejects(stranger.getResult(), /is declared here/);
});

/** The database index the group-read test counts commands on; no other test uses it. */
const GROUP_DB = 10;

Deno.test("UpstashResultBackend: given a group of 1000 read while its results land one by one, then the reads send and receive bytes linear in the group", async () => {
  const url = new URL(testRedisUrl());
  url.pathname = `/${GROUP_DB}`;
  const server = await startLocalServer({ redis: url, token: "results", port: 0, log: () => {} });
  const client = new Redis({ url: server.url, token: "results", enableTelemetry: false });
  const counter = await CommandCounter.open(testRedisUrl(), GROUP_DB);
  const namespace = testPrefix("results-group").slice(0, -1);
  const sent = { keys: 0, bytes: 0, received: 0, mgets: 0 };
  const counted = {
    set: client.set.bind(client),
    pipeline: client.pipeline.bind(client),
    mget: async (...keys: string[]) => {
      sent.mgets++;
      sent.keys += keys.length;
      sent.bytes += JSON.stringify(["mget", ...keys]).length;
      const values = await client.mget(...keys);
      sent.received += JSON.stringify(values).length;
      return values;
    },
  } as unknown as UpstashResultClient;
  // Polls a minute apart: every read here follows the first pass, a wake-up by a stored
  // result or a read that found all it asked for, whatever the load on the machine.
  const backend = new UpstashResultBackend({
    redis: counted,
    namespace,
    pollMin: 60_000,
    pollMax: 60_000,
  });
  const ids = Array.from({ length: 1000 }, () => id());
  try {
    const counts = await counter.count(async () => {
      const reading = backend.getResults([ids], { block: true, timeout: 120_000 }).toArray();
      // The results land in order, each waking the reader, as a worker in this process would.
      for (const [i, member] of ids.entries()) await backend.storeResult(member, i, 60_000);
      assert.deepEqual(await reading, [ids.map((_, i) => i)]);
    });
    assert.equal(counts.mget, sent.mgets);
    assert.equal(counts.set, 1000);
    // Each id is asked for at most three times (once in the first pass, then in windows that
    // double only as far as the previous read found results), plus one per empty read.
    assert.ok(sent.keys <= 3 * 1000 + sent.mgets, JSON.stringify(sent));
    // Each read either finds a result (at most 1000 such reads) or finds none and waits for
    // the next store to wake it (at most one per store), plus the first pass in chunks: linear,
    // however the stores and reads interleave.
    assert.ok(sent.mgets <= 2 * 1000 + 10, JSON.stringify(sent));
    assert.ok(sent.bytes <= 100 * sent.keys + 10 * sent.mgets, JSON.stringify(sent));
    assert.ok(sent.received <= 40 * 1000 + 10 * sent.mgets, JSON.stringify(sent));
  } finally {
    await cleanup(client, `${namespace}:`);
    await counter.close();
    await server.close();
  }
});

Deno.test("Results on an UpstashBroker: given a 503 on the write of a result or of a failure, then it is retried and stored before the ack, and nothing is logged", async () => {
  const token = "results-503";
  const server = await startLocalServer({ redis: testRedisUrl(), token, port: 0, log: () => {} });
  const client = new Redis({ url: server.url, token, enableTelemetry: false });
  const namespace = testPrefix("results-503").slice(0, -1);
  const queue = "q";
  const lines: string[] = [];
  const keep = (line: unknown) => void lines.push(String(line));
  const logger = { debug() {}, info() {}, warn: keep, error: keep };
  const broker = new UpstashBroker({ redis: client, namespace, logger });
  broker.addMiddleware(new Results({ storeResults: true }));
  // The next request, the write of the result (or of the failure), is answered 503.
  const faults = refusing(server);
  const echo = actor(`echo-${crypto.randomUUID()}`, (n: number) => {
    faults.next();
    return n;
  }, { broker, queue });
  const doomed = actor(`doomed-${crypto.randomUUID()}`, (): number => {
    faults.next();
    throw new RangeError("no");
  }, { broker, queue, maxRetries: 0 });
  try {
    const sent = await echo.send(7);
    const [claim] = await broker.claim(queue);
    assert.equal((await processMessage(broker, queue, claim)).status, "acked");
    assert.equal(faults.refused, 1);
    assert.equal(await sent.getResult(), 7);

    const failing = await doomed.send();
    const [again] = await broker.claim(queue);
    assert.equal((await processMessage(broker, queue, again)).status, "dead");
    assert.equal(faults.refused, 2);
    await assert.rejects(failing.getResult(), ResultFailure);
    // The dead letter is logged; no hook failed.
    assert.deepEqual(lines.filter((line) => !line.startsWith("Message ")), []);
  } finally {
    server.faults = {};
    await cleanup(client, `${namespace}:`);
    await server.close();
  }
});
