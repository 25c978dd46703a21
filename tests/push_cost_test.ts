/**
 * What push delivery costs in Redis commands, as Upstash bills them (every command, each
 * `redis.call` inside a script included), and that an idle push deployment costs nothing.
 *
 * How it is measured: `INFO commandstats` is server-wide and `CONFIG RESETSTAT` would reset
 * the counters of `tests/cost_test.ts` if both ran at once (Deno runs test files in
 * parallel), so this file does not use the cost Redis at all. Instead its own in-process
 * local server talks to the test Redis on a database index of its own (`/14`), and a
 * `MONITOR` connection counts what runs there: MONITOR prints each command with its
 * database, and the commands a script runs as `[14 lua]`, so other tests (database 0) never
 * mix in, and nothing needs a lock. Between two marker `ECHO`s on database 14, every line of
 * database 14 but the markers and `SELECT` (a new pooled connection's setup, not a per-push
 * cost; Upstash has none) is counted. Scripts are run once before measuring, so that no
 * measurement pays for a NOSCRIPT and its EVAL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import type { Hono } from "hono";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { workerApp } from "../src/hono/mod.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { Push } from "../src/push/push.ts";
import { signPush } from "../src/push/signature.ts";
import { tick } from "../src/tick.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, testPrefix, testRedisUrl } from "./_env.ts";
import { assertCosts, CommandCounter, countRequests } from "./_monitor.ts";

/** The database index this file measures on; no other test uses it. */
const DB = 14;
const SECRET = "cost-secret-0123456789ab";
const TOKEN = "push-cost-token";

/**
 * Redis commands per push-delivery operation. A change that moves one of these changes the
 * bill: update docs with it. A processed push is one `claimById` script for all its ids
 * (with its signature's `SET NX GET` inside), and one `ack` script per batch of messages that finish together
 * (`processMessage` acks each message as it finishes; `UpstashBroker` runs the acks of one
 * turn of the event loop as one script: at the default concurrency of 8, 10 ids take two).
 */
export const PUSH_COST = {
  "idle deployment: GET /health, no messages": 0,
  "push refused: forged signature": 0,
  "push refused: replayed signature": 2,
  "send 1 message (Push middleware on)": 4,
  "push of 1 id: processed and acked": 11,
  "push of 10 ids: processed and acked": 17,
  "push of 1 id already done": 8,
  "push of 1 id leased elsewhere": 8,
  "tick, idle (1 queue)": 4,
  "tick, 1 ready message (inline)": 10,
} as const;

type Operation = keyof typeof PUSH_COST;

/** REST requests per push operation (the local server's, so the ones Upstash would serve). */
export const PUSH_REQUESTS = {
  "push refused: forged signature": 0,
  "push refused: replayed signature": 1,
  "push of 1 id: processed and acked": 2,
  "push of 1 id already done": 1,
} as const;
const PUSH_REQUESTS_MEASURED = Object.keys(PUSH_REQUESTS) as (keyof typeof PUSH_REQUESTS)[];

async function signedPush(app: Hono, queue: string, ids: string[], now = Date.now()) {
  const body = JSON.stringify({ queue, ids });
  const signature = await signPush(SECRET, { method: "POST", path: "/messages", body, now });
  const init = {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "skiff-signature": signature },
  };
  return { init, send: () => app.request("/messages", init) };
}

Deno.test("cost: a push deployment idles at zero commands; each push costs its documented commands", async () => {
  const url = new URL(testRedisUrl());
  url.pathname = `/${DB}`;
  const server = await startLocalServer({ redis: url, token: TOKEN, port: 0, log: () => {} });
  const redis = new Redis({ url: server.url, token: TOKEN, enableTelemetry: false });
  const counter = await CommandCounter.open(testRedisUrl(), DB);
  const namespace = testPrefix("push-cost").slice(0, -1);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const captured: Request[] = [];
  const push = new Push({
    url: "https://worker.example/messages",
    signingKey: SECRET,
    fetch: (request) => {
      captured.push(request);
      return Promise.resolve(Response.json({}));
    },
  });
  broker.addMiddleware(push);
  // As users get it: no replay store given, so the claim remembers each push's signature.
  const app = workerApp({ broker, signingKeys: [SECRET] });
  // REST requests to the local server, counted per operation.
  const requests = countRequests(server.url);
  const requestsOf = new Map<Operation, number>();
  const queue = "cost";
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  const measured = new Map<Operation, Record<string, number>>();
  const measure = async <T>(operation: Operation, fn: () => Promise<T>): Promise<T> => {
    let result!: T;
    const before = requests.value;
    const counts = await counter.count(async () => {
      result = await fn();
      await push.flush();
    });
    measured.set(operation, counts);
    requestsOf.set(operation, requests.value - before);
    return result;
  };

  try {
    // Warm up: every script runs once (EVAL after NOSCRIPT if Redis had never seen it).
    const warm = await task.send();
    await (await signedPush(app, queue, [warm.id])).send();
    await tick(broker, { queues: [queue] });
    await push.flush();

    await measure("idle deployment: GET /health, no messages", async () => {
      // A fresh deployment: broker, Push and endpoint made, a health check, and a few turns
      // of the event loop for any timer to fire (there is none).
      const idle = new UpstashBroker({ redis, namespace, logger: silentLogger });
      idle.addMiddleware(new Push({ url: "https://worker.example/messages", signingKey: SECRET }));
      const idleApp = workerApp({ broker: idle, signingKeys: [SECRET] });
      assert.equal((await idleApp.request("/health")).status, 200);
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    });
    await measure("push refused: forged signature", async () => {
      const { init } = await signedPush(app, queue, ["x"]);
      init.headers["skiff-signature"] = init.headers["skiff-signature"].replace("v1=", "v1=0");
      assert.equal((await app.request("/messages", init)).status, 401);
    });
    const one = await measure("send 1 message (Push middleware on)", () => task.send());
    assert.equal(captured.length, 2);
    // The push the middleware sent, delivered to the endpoint.
    const pushed = captured.at(-1)!;
    const delivery = { method: "POST", headers: pushed.headers, body: await pushed.text() };
    await measure("push of 1 id: processed and acked", async () => {
      assert.equal((await app.request("/messages", delivery)).status, 200);
    });
    await measure("push refused: replayed signature", async () => {
      assert.equal((await app.request("/messages", delivery)).status, 401);
    });
    await measure("push of 1 id already done", async () => {
      assert.equal((await (await signedPush(app, queue, [one.id])).send()).status, 200);
    });
    const ten = await broker.enqueue(Array.from({ length: 10 }, () => task.message()));
    await push.flush();
    await measure("push of 10 ids: processed and acked", async () => {
      const res = await (await signedPush(app, queue, ten.map((m) => m.id))).send();
      assert.equal(res.status, 200);
    });
    const held = await task.send();
    await push.flush();
    await broker.claimById(queue, [held.id]);
    await measure("push of 1 id leased elsewhere", async () => {
      assert.equal((await (await signedPush(app, queue, [held.id])).send()).status, 202);
    });
    await measure("tick, idle (1 queue)", () => tick(broker, { queues: [`${queue}-idle`] }));
    const idleQueue = `${queue}-tick`;
    const other = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue: idleQueue });
    await other.send();
    await push.flush();
    await measure("tick, 1 ready message (inline)", () => tick(broker, { queues: [idleQueue] }));

    assertCosts("operation", PUSH_COST, measured);
    // A push is two requests: the claim (which remembers its signature) and the ack.
    assert.deepEqual(
      Object.fromEntries(PUSH_REQUESTS_MEASURED.map((op) => [op, requestsOf.get(op)])),
      PUSH_REQUESTS,
    );
  } finally {
    requests.restore();
    await counter.close();
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});
