import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import type { Logger } from "../src/broker.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { workerApp } from "../src/hono/mod.ts";
import { Push, type PushOptions } from "../src/push/push.ts";
import { verifyPush } from "../src/push/signature.ts";
import { tick } from "../src/tick.ts";
import { group } from "../src/composition/group.ts";
import { pipeline } from "../src/composition/pipeline.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import type { Broker } from "../src/broker.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";
import { silentLogger } from "./broker_conformance.ts";

const SECRET = "sender-secret-0123456789";
const URL_WITH_SECRET = "https://user:pw@worker.example/skiff/messages?token=abc";

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;

/** A fake endpoint that records requests and answers with a status. */
function recorder(status = 200) {
  const requests: { path: string; signature: string | null; body: string }[] = [];
  const fetch = async (request: Request) => {
    requests.push({
      path: new URL(request.url).pathname,
      signature: request.headers.get("skiff-signature"),
      body: await request.text(),
    });
    return Response.json({}, { status });
  };
  return { requests, fetch };
}

function setup(options: Partial<PushOptions> = {}) {
  const broker = new MemoryBroker({ logger: silentLogger });
  const { requests, fetch } = recorder();
  const push = new Push({ url: URL_WITH_SECRET, signingKey: SECRET, fetch, ...options });
  broker.addMiddleware(push);
  return { broker, push, requests };
}

Deno.test("Push: given sends to two queues at once, then one signed request per queue", async () => {
  const { broker, push, requests } = setup();
  const [a, b] = [unique("a"), unique("b")];
  const onA = actor(unique("t"), () => {}, { broker, queue: a });
  const onB = actor(unique("t"), () => {}, { broker, queue: b });
  const sent = await Promise.all([
    onA.send(),
    onA.send(),
    onB.send(),
    broker.enqueue([onB.message()]),
  ]);
  await push.flush();
  assert.equal(requests.length, 2);
  const byQueue = Object.fromEntries(requests.map((r) => [JSON.parse(r.body).queue, r]));
  assert.deepEqual(JSON.parse(byQueue[a].body).ids, [sent[0].id, sent[1].id]);
  assert.equal(JSON.parse(byQueue[b].body).ids.length, 2);
  for (const request of requests) {
    assert.equal(request.path, "/skiff/messages");
    const result = await verifyPush(request.signature, {
      method: "POST",
      path: request.path,
      body: request.body,
      secrets: [SECRET],
      now: Date.now(),
    });
    assert(result.ok);
  }
});

Deno.test("Push: given one enqueue of 250 messages, then their ids share requests of maxIds", async () => {
  const { broker, push, requests } = setup();
  const queue = unique("q");
  const task = actor(unique("t"), () => {}, { broker, queue });
  await broker.enqueue(Array.from({ length: 250 }, () => task.message()));
  await push.flush();
  const sizes = requests.map((r) => JSON.parse(r.body).ids.length);
  assert.deepEqual(sizes.toSorted((x: number, y: number) => x - y), [50, 100, 100]);
});

Deno.test("Push: given more ids than maxIds, then they are split into requests", async () => {
  const { broker, push, requests } = setup({ maxIds: 2 });
  const queue = unique("q");
  const task = actor(unique("t"), () => {}, { broker, queue });
  await broker.enqueue(Array.from({ length: 5 }, () => task.message()));
  await push.flush();
  // The requests leave at once: their order is not part of the contract.
  const sizes = requests.map((r) => JSON.parse(r.body).ids.length);
  assert.deepEqual(sizes.toSorted(), [1, 2, 2]);
});

Deno.test("Push: given more pushes than concurrency, then that many are in flight and every one arrives", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const app = workerApp({ broker, signingKeys: [SECRET] });
  let inFlight = 0;
  let most = 0;
  const statuses: number[] = [];
  const push = new Push({
    url: "https://worker.example/messages",
    signingKey: SECRET,
    maxIds: 1,
    concurrency: 3,
    fetch: async (request) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      const response = await app.fetch(request);
      statuses.push(response.status);
      inFlight--;
      return response;
    },
  });
  broker.addMiddleware(push);
  const queue = unique("q");
  let ran = 0;
  const task = actor(unique("t"), () => void ran++, { broker, queue });
  await broker.enqueue(Array.from({ length: 10 }, () => task.message()));
  await push.flush();
  assert.equal(most, 3);
  assert.deepEqual(statuses, Array(10).fill(200));
  assert.equal(ran, 10);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("Push: given pushes waiting their turn, then their timeout starts when they leave", async () => {
  const lines: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (line: string) => void lines.push(line) };
  const { requests, fetch } = recorder();
  // One at a time, 60 ms each: the last leaves after 420 ms, past the 400 ms timeout.
  const push = new Push({
    url: "https://worker.example/messages",
    signingKey: SECRET,
    maxIds: 1,
    concurrency: 1,
    timeoutMs: 400,
    logger,
    fetch: async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 60));
      return await fetch(request);
    },
  });
  const reports = await push.push(unique("q"), Array.from({ length: 8 }, (_, i) => `id-${i}`));
  assert.deepEqual(reports.map((r) => r.status), Array(8).fill(200));
  assert.equal(requests.length, 8);
  assert.deepEqual(lines, []);
});

Deno.test("Push: given delayed messages or other queues, then they are not pushed", async () => {
  const queue = unique("q");
  const { broker, push, requests } = setup({ queues: [queue] });
  const task = actor(unique("t"), () => {}, { broker, queue });
  const elsewhere = actor(unique("t"), () => {}, { broker, queue: unique("other") });
  await task.sendWithOptions({ delay: 60_000 });
  await elsewhere.send();
  await push.flush();
  assert.equal(requests.length, 0);
});

Deno.test("Push: given the real endpoint, then a sent message is processed through it", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const app = workerApp({ broker, signingKeys: [SECRET] });
  const push = new Push({
    url: "https://worker.example/messages",
    signingKey: SECRET,
    fetch: (request) => Promise.resolve(app.fetch(request)),
  });
  broker.addMiddleware(push);
  const queue = unique("q");
  const seen: number[] = [];
  const task = actor(unique("t"), (n: number) => {
    seen.push(n);
  }, { broker, queue });
  await task.send(7);
  const [report] = await push.push(queue, []);
  assert.equal(report, undefined);
  await push.flush();
  assert.deepEqual(seen, [7]);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("Push: given a failed push, then nothing is lost: the next tick runs the message", async () => {
  const lines: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (line: string) => void lines.push(line) };
  const broker = new MemoryBroker({ logger });
  const push = new Push({
    url: URL_WITH_SECRET,
    signingKey: SECRET,
    fetch: () => Promise.reject(new TypeError("fetch failed")),
  });
  broker.addMiddleware(push);
  const queue = unique("q");
  let runs = 0;
  const task = actor(unique("t"), () => {
    runs++;
  }, { broker, queue });
  await task.send();
  await push.flush();
  assert.equal(runs, 0);
  assert.equal((await broker.stats(queue)).ready, 1);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^Cannot push 1 message\(s\) of queue '.*': TypeError; they wait/);
  for (const secret of ["pw", "abc", SECRET, "worker.example"]) {
    assert(!lines[0].includes(secret), secret);
  }
  const report = await tick(broker, { queues: [queue] });
  assert.equal(report.queues[queue].processed, 1);
  assert.equal(runs, 1);
});

Deno.test("Push: given the endpoint refuses, then the status is logged and reported", async () => {
  const lines: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (line: string) => void lines.push(line) };
  const { fetch } = recorder(503);
  const push = new Push({ url: URL_WITH_SECRET, signingKey: SECRET, fetch, logger });
  const [report] = await push.push("default", ["x"]);
  assert.deepEqual(report, { queue: "default", ids: ["x"], status: 503 });
  assert.deepEqual(lines, [
    "Cannot push 1 message(s) of queue 'default': the endpoint answered 503; they wait for the next tick",
  ]);
});

Deno.test("Push: given waitUntil, then every push is handed to it", async () => {
  const waited: Promise<unknown>[] = [];
  const { broker, push } = setup({ waitUntil: (p) => void waited.push(p) });
  const task = actor(unique("t"), () => {}, { broker });
  await Promise.all([task.send(), task.send()]);
  assert.equal(waited.length, 1);
  await push.push("default", ["a"]);
  assert.equal(waited.length, 2);
  await Promise.all(waited);
});

Deno.test("Push: given Vercel's request context, then its waitUntil is used", async () => {
  const waited: Promise<unknown>[] = [];
  const symbol = Symbol.for("@vercel/request-context");
  const global = globalThis as Record<symbol, unknown>;
  global[symbol] = { get: () => ({ waitUntil: (p: Promise<unknown>) => waited.push(p) }) };
  try {
    const { broker, push } = setup();
    const task = actor(unique("t"), () => {}, { broker });
    await task.send();
    assert.equal(waited.length, 1);
    await push.flush();
  } finally {
    delete global[symbol];
  }
});

Deno.test("Push: given bad options, then TypeError or RangeError without the secret", () => {
  const cases: [Partial<PushOptions>, ErrorConstructor][] = [
    [{ url: "not a url" }, TypeError],
    [{ url: "ftp://worker.example/messages" }, TypeError],
    [{ signingKey: "short" }, TypeError],
    [{ maxIds: 0 }, RangeError],
    [{ timeoutMs: 1.5 }, RangeError],
    [{ concurrency: 0 }, RangeError],
    [{ queues: ["bad queue{"] }, TypeError],
  ];
  for (const [options, type] of cases) {
    assert.throws(
      () => new Push({ url: "https://w.example/m", signingKey: SECRET, ...options }),
      (error: Error) => {
        assert(error instanceof type, JSON.stringify(options));
        assert(!error.message.includes("short") && !error.message.includes(SECRET));
        return true;
      },
    );
  }
  const push = new Push({ url: "https://w.example/m", signingKey: SECRET });
  assert.throws(() => push.push("bad queue{", ["x"]), TypeError);
});

/**
 * A `Push` on `broker` whose pushes reach `workerApp()` on the same broker in this process:
 * what runs arrived by push alone. `pushed` holds each push's ids.
 */
function pushingTo(broker: Broker): { push: Push; pushed: string[][] } {
  const app = workerApp({ broker, signingKeys: [SECRET] });
  const pushed: string[][] = [];
  const push = new Push({
    url: "https://worker.example/messages",
    signingKey: SECRET,
    fetch: async (request) => {
      pushed.push((await request.clone().json()).ids);
      return await app.fetch(request);
    },
  });
  broker.addMiddleware(push);
  return { push, pushed };
}

for (
  const [label, makeBroker] of [
    [
      "MemoryBroker",
      () => ({ broker: new MemoryBroker({ logger: silentLogger }), done: () => {} }),
    ],
    ["UpstashBroker", () => {
      const redis = restClient();
      const namespace = testPrefix("push-pipeline").slice(0, -1);
      const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
      return { broker, done: () => cleanup(redis, `${namespace}:`) };
    }],
  ] as const
) {
  Deno.test(`Push (${label}): given a pipeline with a group, then every step continues by push through the endpoint`, async () => {
    const { broker, done } = (makeBroker as () => { broker: Broker; done: () => unknown })();
    const { push, pushed } = pushingTo(broker);
    try {
      const queue = unique("q");
      const double = actor(unique("double"), (n: number) => n * 2, { broker, queue });
      const seen: unknown[] = [];
      const sum = actor(unique("sum"), (values: number[]) => {
        seen.push(values);
      }, { broker, queue });
      await pipeline([group([double.message(1), double.message(2)]), sum.message()]).run();
      await push.flush();
      // No tick and no worker: the group's members, then the next step, arrived by push.
      assert.deepEqual(seen, [[2, 4]]);
      assert.equal(pushed.flat().length, 3);
      assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    } finally {
      await done();
    }
  });

  Deno.test(`Push (${label}): given a group member cancelled, then the group's failure callback runs by push through the endpoint`, async () => {
    const { broker, done } = (makeBroker as () => { broker: Broker; done: () => unknown })();
    const { push, pushed } = pushingTo(broker);
    try {
      const queue = unique("q");
      const work = actor(unique("work"), () => {}, { broker, queue });
      const failures: unknown[] = [];
      const failed = actor(unique("failed"), (_data?: unknown, error?: { type: string }) => {
        failures.push(error?.type);
      }, { broker, queue });
      // Members an hour away: nothing is pushed until the cancel.
      const later = () => work.messageWithOptions({ args: [], delay: 3_600_000 });
      const members = [later(), later()];
      await group(members).addFailureCallback(failed.message()).run();
      await push.flush();
      assert.deepEqual(pushed, []);
      assert.deepEqual(await broker.cancel(queue, [members[0].id]), ["cancelled"]);
      await push.flush();
      // No tick and no worker: the failure callback arrived by push and ran.
      assert.deepEqual(failures, ["Cancelled"]);
      assert.equal(pushed.flat().length, 1);
      assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 1, leased: 0, dead: 0 });
    } finally {
      await done();
    }
  });
}
