/**
 * The push endpoint (`workerApp()`), end to end through `app.request()`, against the
 * MemoryBroker and the UpstashBroker (through the harness's local server): one suite for
 * both. Each test counts the broker's storage calls (Redis requests for the UpstashBroker),
 * so that refusals are shown to cost nothing.
 */
import assert from "node:assert/strict";
import type { Redis } from "@upstash/redis";
import type { Context } from "hono";
import { Hono } from "hono";
import { actor } from "../src/actor.ts";
import type { Broker, BrokerOptions } from "../src/broker.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import type { MessageContext } from "../src/context.ts";
import { workerApp, type WorkerAppOptions } from "../src/hono/mod.ts";
import { Push } from "../src/push/push.ts";
import { RedisReplayStore, type ReplayStore } from "../src/push/replay.ts";
import { signPush } from "../src/push/signature.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";

const SECRET = "endpoint-secret-0123456789";
const OTHER = "someone-elses-secret-0123";

/** What a suite's factory makes for one test. */
interface Fixture {
  broker: Broker;
  /** Storage calls so far: broker methods (memory) or Redis requests (Upstash). */
  calls: () => number;
  replayStore?: ReplayStore;
  done: () => Promise<void>;
}

type Factory = (options: BrokerOptions) => Fixture;

/** Counts calls to the storage methods of a MemoryBroker. */
function countingMemory(options: BrokerOptions): Fixture {
  let calls = 0;
  const broker = new MemoryBroker(options);
  for (const name of ["claim", "claimById", "ack", "nack", "release", "extendLease", "stats"]) {
    const method = (broker as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
    Object.defineProperty(broker, name, {
      configurable: true,
      value: (...args: unknown[]) => {
        calls++;
        return method.apply(broker, args);
      },
    });
  }
  return { broker, calls: () => calls, done: () => Promise.resolve() };
}

/** An UpstashBroker whose client counts its requests; the replay store shares the client. */
function countingUpstash(options: BrokerOptions): Fixture {
  const redis = restClient();
  let calls = 0;
  const counted = new Proxy(redis, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls++;
        return value.apply(target, args);
      };
    },
  }) as Redis;
  const namespace = testPrefix("endpoint").slice(0, -1);
  const broker = new UpstashBroker({ ...options, redis: counted, namespace });
  return {
    broker,
    calls: () => calls,
    replayStore: new RedisReplayStore({ redis: counted, prefix: `${namespace}:sig:` }),
    done: () => cleanup(redis, `${namespace}:`),
  };
}

interface Setup extends Fixture {
  clock: { time: number };
  queue: string;
  app: Hono;
  /** A unique actor name. */
  name: (prefix: string) => string;
  /** A signed push of ids (or any body) to a path. */
  push: (ids: string[] | string, init?: PushInit) => Promise<Response>;
}

interface PushInit {
  path?: string;
  signedPath?: string;
  secret?: string;
  time?: number;
  headers?: Record<string, string>;
  signature?: string | null;
  queue?: string;
}

async function signed(
  body: string,
  time: number,
  init: PushInit,
  path: string,
): Promise<RequestInit> {
  const signature = init.signature !== undefined ? init.signature : await signPush(
    init.secret ?? SECRET,
    { method: "POST", path: init.signedPath ?? path, body, now: time },
  );
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (signature !== null) headers["skiff-signature"] = signature;
  return { method: "POST", body, headers: { ...headers, ...init.headers } };
}

function endpointSuite(label: string, factory: Factory): void {
  const test = (
    name: string,
    fn: (setup: Setup) => Promise<void>,
    appOptions: (queue: string) => Partial<WorkerAppOptions> = () => ({}),
  ) =>
    Deno.test(`${label}: ${name}`, async () => {
      const clock = { time: 1_700_000_000_000 };
      const fixture = factory({ now: () => clock.time, logger: silentLogger });
      const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
      const app = workerApp({
        broker: fixture.broker,
        signingKeys: [SECRET],
        replayStore: fixture.replayStore,
        ...appOptions(queue),
      });
      // Each push is signed at its own millisecond: the same signature twice is a replay.
      let pushes = 0;
      const push = async (ids: string[] | string, init: PushInit = {}) => {
        const path = init.path ?? "/messages";
        const body = typeof ids === "string"
          ? ids
          : JSON.stringify({ queue: init.queue ?? queue, ids });
        const time = init.time ?? clock.time - pushes++;
        return await app.request(path, await signed(body, time, init, path));
      };
      try {
        await fn({
          ...fixture,
          clock,
          queue,
          app,
          push,
          name: (prefix) => `${prefix}-${crypto.randomUUID()}`,
        });
      } finally {
        await fixture.done();
      }
    });

  test("given a signed push, then the actor runs once and the message is acked (200)", async (s) => {
    const seen: number[] = [];
    const task = actor(s.name("task"), (n: number) => {
      seen.push(n);
    }, { broker: s.broker, queue: s.queue });
    const [a, b] = await s.broker.enqueue([task.message(1), task.message(2)]);
    const res = await s.push([a.id, b.id, a.id]);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), {
      queue: s.queue,
      results: [{ id: a.id, status: "acked" }, { id: b.id, status: "acked" }],
    });
    assert.deepEqual(seen.sort(), [1, 2]);
    assert.deepEqual(await s.broker.stats(s.queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    // Pushed again (a retried push): already done.
    const again = await s.push([a.id]);
    assert.equal(again.status, 200);
    assert.deepEqual((await again.json()).results, [{ id: a.id, status: "missing" }]);
    assert.equal(seen.length, 2);
  });

  test("given forged, expired, future, unknown-key, missing or malformed signatures, then 401 and nothing runs, with no storage call", async (s) => {
    let runs = 0;
    const task = actor(s.name("task"), () => {
      runs++;
    }, { broker: s.broker, queue: s.queue });
    const { id } = await task.send();
    const before = s.calls();
    const cases: PushInit[] = [
      { secret: OTHER },
      { time: s.clock.time - 300_001 },
      { time: s.clock.time + 300_001 },
      { signature: null },
      { signature: "t=1,k=zz,v1=00" },
      { signedPath: "/other" },
    ];
    for (const init of cases) {
      const res = await s.push([id], init);
      assert.equal(res.status, 401, JSON.stringify(init));
      const body = await res.json();
      assert.match(body.error, /^Cannot accept push: /);
      assert(!body.error.includes(SECRET) && !body.error.includes(id));
    }
    // A forged signature over the right string, with a wrong MAC.
    const good = await signPush(SECRET, {
      method: "POST",
      path: "/messages",
      body: JSON.stringify({ queue: s.queue, ids: [id] }),
      now: s.clock.time,
    });
    const forged = good.replace(/v1=([0-9a-f])/, (_m, c) => `v1=${c === "0" ? "1" : "0"}`);
    assert.equal((await s.push([id], { signature: forged })).status, 401);
    assert.equal(s.calls(), before);
    assert.equal(runs, 0);
    assert.equal((await s.broker.stats(s.queue)).ready, 1);
  });

  test("given a replayed signature, then 401 after one remember, and the actor ran once", async (s) => {
    let runs = 0;
    const task = actor(s.name("task"), () => {
      runs++;
    }, { broker: s.broker, queue: s.queue });
    const { id } = await task.send();
    const init = await signed(
      JSON.stringify({ queue: s.queue, ids: [id] }),
      s.clock.time,
      {},
      "/messages",
    );
    assert.equal((await s.app.request("/messages", init)).status, 200);
    const { id: second } = await task.send();
    const replayed = await s.app.request("/messages", init);
    assert.equal(replayed.status, 401);
    assert.deepEqual(await replayed.json(), {
      error: "Cannot accept push: this signature was used already",
    });
    assert.equal(runs, 1);
    assert.equal((await s.broker.stats(s.queue)).ready, 1);
    assert.equal((await s.push([second])).status, 200);
    assert.equal(runs, 2);
  });

  test("given a bad body, then 4xx JSON and nothing is lost", async (s) => {
    let runs = 0;
    const task = actor(s.name("task"), () => {
      runs++;
    }, { broker: s.broker, queue: s.queue });
    const { id } = await task.send();
    const cases: [string, PushInit, number, RegExp][] = [
      ["{not json", {}, 400, /valid JSON/],
      ['"just a string"', {}, 400, /object with 'queue' and 'ids'/],
      [JSON.stringify({ queue: s.queue, ids: [id], extra: 1 }), {}, 400, /'queue' and 'ids' only/],
      [JSON.stringify({ queue: "bad queue{", ids: [id] }), {}, 400, /'queue' must be/],
      [JSON.stringify({ queue: s.queue, ids: [] }), {}, 400, /'ids' must be an array of 1 to 100/],
      [JSON.stringify({ queue: s.queue, ids: [7] }), {}, 400, /'ids' must be/],
      [
        JSON.stringify({ queue: s.queue, ids: Array.from({ length: 101 }, (_, i) => `id-${i}`) }),
        {},
        400,
        /'ids' must be an array of 1 to 100/,
      ],
      [
        JSON.stringify({ queue: s.queue, ids: [id] }),
        { headers: { "content-type": "text/plain" } },
        415,
        /application\/json/,
      ],
      [
        JSON.stringify({ queue: s.queue, ids: [id], pad: "x".repeat(70_000) }),
        {},
        413,
        /at most 65536 bytes/,
      ],
    ];
    for (const [body, init, status, error] of cases) {
      const res = await s.push(body, init);
      assert.equal(res.status, status, body.slice(0, 60));
      const json = await res.json();
      assert.match(json.error, error);
      assert(!json.error.includes(id));
    }
    assert.equal(runs, 0);
    assert.equal((await s.push([id])).status, 200);
    assert.equal(runs, 1);
  });

  test("given a huge streamed body without Content-Length, then 413 once the limit is passed", async (s) => {
    const chunk = new TextEncoder().encode("x".repeat(16_384));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent++;
        if (sent > 1_000) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const res = await s.app.request("/messages", {
      method: "POST",
      body: stream,
      headers: { "content-type": "application/json", "skiff-signature": "t=1,k=00000000,v1=0" },
    });
    assert.equal(res.status, 413);
    // It stopped reading soon after 64 KiB, not at the end of the 16 MiB stream.
    assert(sent < 10, String(sent));
  });

  test("given the same id pushed twice at once, then the actor runs once (200 and 202)", async (s) => {
    let runs = 0;
    let started!: () => void;
    const running = new Promise<void>((resolve) => started = resolve);
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => finish = resolve);
    const task = actor(s.name("task"), async () => {
      runs++;
      started();
      await gate;
    }, { broker: s.broker, queue: s.queue });
    const { id } = await task.send();
    const first = s.push([id]);
    await running;
    const second = await s.push([id]);
    assert.equal(second.status, 202);
    assert.deepEqual((await second.json()).results, [{ id, status: "leased" }]);
    finish();
    const done = await first;
    assert.equal(done.status, 200);
    assert.deepEqual((await done.json()).results, [{ id, status: "acked" }]);
    assert.equal(runs, 1);
  });

  test("given an endpoint that dies mid message, then the message runs again once its lease expires", async (s) => {
    const attempts: number[] = [];
    let finish!: () => void;
    const hung = new Promise<void>((resolve) => finish = resolve);
    const task = actor(s.name("task"), async function (this: MessageContext) {
      attempts.push(this.attempt);
      if (attempts.length === 1) await hung; // the first invocation never gets further
    }, { broker: s.broker, queue: s.queue });
    const { id } = await task.send();
    const dying = s.push([id]);
    while (attempts.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    // While its lease holds, a push finds it in flight.
    assert.equal((await s.push([id])).status, 202);
    s.clock.time += 30_001;
    const rerun = await s.push([id]);
    assert.equal(rerun.status, 200);
    assert.deepEqual((await rerun.json()).results, [{ id, status: "acked" }]);
    assert.deepEqual(attempts, [1, 1]);
    // The first invocation wakes up late: its ack is refused (fenced), nothing runs twice more.
    finish();
    const late = await dying;
    assert.deepEqual((await late.json()).results, [{ id, status: "stale" }]);
    assert.deepEqual(await s.broker.stats(s.queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  });

  test("given the broker failing before the ack, then 503, and the message runs again after its lease", async (s) => {
    let runs = 0;
    const task = actor(s.name("task"), () => {
      runs++;
    }, { broker: s.broker, queue: s.queue });
    const { id } = await task.send();
    const ack = s.broker.ack;
    Object.defineProperty(s.broker, "ack", {
      configurable: true,
      value: () => Promise.reject(new Error("connection reset")),
    });
    const res = await s.push([id]);
    assert.equal(res.status, 503);
    assert.deepEqual((await res.json()).results, [{ id, status: "error" }]);
    Object.defineProperty(s.broker, "ack", { configurable: true, value: ack });
    s.clock.time += 30_001;
    const again = await s.push([id]);
    assert.equal(again.status, 200);
    assert.equal(runs, 2);
  });

  test("given the broker unreachable, then 503 JSON and the message stays ready", async (s) => {
    const task = actor(s.name("task"), () => {}, { broker: s.broker, queue: s.queue });
    const { id } = await task.send();
    const claimById = s.broker.claimById;
    Object.defineProperty(s.broker, "claimById", {
      configurable: true,
      value: () => Promise.reject(new Error("fetch failed: token=hunter2")),
    });
    const res = await s.push([id]);
    assert.equal(res.status, 503);
    const body = await res.json();
    assert.match(body.error, /retry later/);
    assert(!JSON.stringify(body).includes("hunter2"));
    Object.defineProperty(s.broker, "claimById", { configurable: true, value: claimById });
    assert.equal((await s.broker.stats(s.queue)).ready, 1);
  });

  test(
    "given more work than the time budget, then the rest is deferred to ready (202)",
    async (s) => {
      const seen: number[] = [];
      const task = actor(s.name("task"), (n: number) => {
        seen.push(n);
        s.clock.time += 6_000; // each message takes 6 s of the 10 s budget
      }, { broker: s.broker, queue: s.queue });
      const sent = await s.broker.enqueue([1, 2, 3].map((n) => task.message(n)));
      const res = await s.push(sent.map((m) => m.id));
      assert.equal(res.status, 202);
      assert.deepEqual((await res.json()).results.map((r: { status: string }) => r.status), [
        "acked",
        "acked",
        "deferred",
      ]);
      assert.deepEqual(seen, [1, 2]);
      assert.equal((await s.broker.stats(s.queue)).ready, 1);
    },
    () => ({ concurrency: 1 }),
  );

  test("given ids in other states, then each is reported (200)", async (s) => {
    const task = actor(s.name("task"), () => {
      throw new TypeError("secret payload inside");
    }, { broker: s.broker, queue: s.queue, maxRetries: 0 });
    const later = await task.sendWithOptions({ delay: 60_000 });
    const failing = await task.send();
    const res = await s.push([later.id, failing.id, "no-such-id"]);
    assert.equal(res.status, 200);
    const { results } = await res.json();
    assert.deepEqual(results, [
      { id: later.id, status: "delayed" },
      { id: failing.id, status: "dead", error: "TypeError" },
      { id: "no-such-id", status: "missing" },
    ]);
    assert.deepEqual((await (await s.push([failing.id])).json()).results, [
      { id: failing.id, status: "dead" },
    ]);
  });

  test("given GET /health, then JSON with no storage call", async (s) => {
    const res = await s.app.request("/health");
    assert.equal(res.status, 200);
    assert.equal((await res.json()).ok, true);
    assert.equal(s.calls(), 0);
  });

  test("given unknown routes and methods, then 404 and 405 as JSON", async (s) => {
    const missing = await s.app.request("/nope");
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error, /No route for GET \/nope/);
    for (
      const [path, method, allow] of [
        ["/messages", "GET", "POST"],
        ["/tick", "PUT", "GET, POST"],
        ["/health", "POST", "GET"],
      ]
    ) {
      const res = await s.app.request(path, { method });
      assert.equal(res.status, 405);
      assert.equal(res.headers.get("allow"), allow);
      assert.match((await res.json()).error, /not allowed/);
    }
    assert.equal(s.calls(), 0);
  });

  test("given POST /tick signed, then due messages run; unsigned, 401", async (s) => {
    let runs = 0;
    const task = actor(s.name("task"), () => {
      runs++;
    }, { broker: s.broker, queue: s.queue });
    await task.sendWithOptions({ delay: 5_000 });
    await task.send();
    s.clock.time += 5_000;
    const before = s.calls();
    const unsigned = await s.app.request("/tick", { method: "POST" });
    assert.equal(unsigned.status, 401);
    assert.equal(s.calls(), before);
    const body = JSON.stringify({ queues: [s.queue] });
    const res = await s.app.request("/tick", await signed(body, s.clock.time, {}, "/tick"));
    assert.equal(res.status, 200);
    const report = await res.json();
    assert.deepEqual(report.queues[s.queue], { claimed: 2, processed: 2, failed: 0, pushed: 0 });
    assert.equal(runs, 2);
    const bad = await s.app.request(
      "/tick",
      await signed('{"queues":"all"}', s.clock.time, {}, "/tick"),
    );
    assert.equal(bad.status, 400);
  });

  test(
    "given POST /tick with an empty signed body, then the configured queues are ticked",
    async (s) => {
      const task = actor(s.name("task"), () => {}, { broker: s.broker, queue: s.queue });
      await task.send();
      const signature = await signPush(SECRET, {
        method: "POST",
        path: "/tick",
        body: "",
        now: s.clock.time,
      });
      const res = await s.app.request("/tick", {
        method: "POST",
        headers: { "skiff-signature": signature },
      });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).queues[s.queue].processed, 1);
    },
    (queue) => ({ tick: { queues: [queue] } }),
  );
}

endpointSuite("workerApp (MemoryBroker)", countingMemory);
endpointSuite("workerApp (UpstashBroker)", countingUpstash);

const quiet = { logger: silentLogger };

async function signedPush(app: Hono, path: string, queue: string, ids: string[]) {
  const body = JSON.stringify({ queue, ids });
  return await app.request(path, await signed(body, Date.now(), {}, path));
}

Deno.test("workerApp: given it is mounted under a prefix, then the signed path includes the prefix", async () => {
  const broker = new MemoryBroker(quiet);
  const queue = `q-${crypto.randomUUID()}`;
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  const host = new Hono();
  host.route("/skiff", workerApp({ broker, signingKeys: [SECRET] }));
  const { id } = await task.send();
  // Signed for /messages but posted to /skiff/messages: refused.
  const body = JSON.stringify({ queue, ids: [id] });
  const wrong = await host.request(
    "/skiff/messages",
    await signed(body, Date.now(), { signedPath: "/messages" }, "/skiff/messages"),
  );
  assert.equal(wrong.status, 401);
  const res = await signedPush(host, "/skiff/messages", queue, [id]);
  assert.equal(res.status, 200);
  assert.equal((await host.request("/skiff/health")).status, 200);
});

Deno.test("workerApp: given keys and broker made from the request's env, then they are used per request", async () => {
  const broker = new MemoryBroker(quiet);
  const queue = `q-${crypto.randomUUID()}`;
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  type Bindings = { KEY: string };
  const seen: string[] = [];
  const app = workerApp<{ Bindings: Bindings }>({
    signingKeys: (c: Context<{ Bindings: Bindings }>) => [c.env.KEY],
    broker: (c: Context<{ Bindings: Bindings }>) => {
      seen.push(c.env.KEY.slice(0, 3));
      return broker;
    },
  });
  const { id } = await task.send();
  const body = JSON.stringify({ queue, ids: [id] });
  const res = await app.request("/messages", await signed(body, Date.now(), {}, "/messages"), {
    KEY: SECRET,
  });
  assert.equal(res.status, 200);
  assert.deepEqual(seen, ["end"]);
  const refused = await app.request(
    "/messages",
    await signed(body, Date.now() + 1, {}, "/messages"),
    { KEY: OTHER },
  );
  assert.equal(refused.status, 401);
});

Deno.test("workerApp: given no credentials, then pushes and ticks answer 500 and health still works", async () => {
  const app = workerApp({ broker: new MemoryBroker(quiet) });
  const res = await signedPush(app, "/messages", "default", ["x"]);
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), {
    error:
      "Cannot accept push: no credentials are configured; set 'signingKeys', 'cronSecret' or 'qstash'",
  });
  assert.equal((await app.request("/health")).status, 200);
  const empty = workerApp({ broker: new MemoryBroker(quiet), signingKeys: () => [] });
  assert.equal((await signedPush(empty, "/messages", "default", ["x"])).status, 500);
});

Deno.test("workerApp: given bad options, then TypeError or RangeError at once, without the key", () => {
  assert.throws(() => workerApp({ signingKeys: ["short"] }), (error: Error) => {
    assert(error instanceof TypeError);
    assert(!error.message.includes("short"));
    return true;
  });
  assert.throws(() => workerApp({ maxIds: 0 }), RangeError);
  assert.throws(() => workerApp({ maxIds: 1001 }), RangeError);
  assert.throws(() => workerApp({ budgetMs: 1.5 }), RangeError);
  assert.throws(() => workerApp({ maxBodyBytes: -1 }), RangeError);
});

Deno.test("workerApp: given an actor that sends while pushed, then its push goes to the platform's waitUntil", async () => {
  const broker = new MemoryBroker(quiet);
  const queue = `q-${crypto.randomUUID()}`;
  const app = workerApp({ broker, signingKeys: [SECRET] });
  const pushed: Request[] = [];
  const sender = new Push({
    url: "https://worker.example/messages",
    signingKey: SECRET,
    fetch: (request) => {
      pushed.push(request);
      return Promise.resolve(Response.json({}, { status: 200 }));
    },
  });
  broker.addMiddleware(sender);
  const next = actor(`next-${crypto.randomUUID()}`, () => {}, { broker, queue });
  const first = actor(`first-${crypto.randomUUID()}`, async () => {
    await next.send();
  }, { broker, queue });
  const message = first.message();
  await broker.enqueue([message]);
  await sender.flush();
  pushed.length = 0;
  const waited: Promise<unknown>[] = [];
  const executionCtx = {
    waitUntil: (promise: Promise<unknown>) => void waited.push(promise),
    passThroughOnException() {},
    props: {},
  };
  const body = JSON.stringify({ queue, ids: [message.id] });
  const res = await app.request(
    "/messages",
    await signed(body, Date.now(), {}, "/messages"),
    {},
    executionCtx,
  );
  assert.equal(res.status, 200);
  assert.equal(waited.length, 1);
  await Promise.all(waited);
  assert.equal(pushed.length, 1);
  const { ids } = await pushed[0].json();
  assert.equal(ids.length, 1);
  assert.notEqual(ids[0], message.id);
  assert.equal((await broker.stats(queue)).ready, 1);
});
