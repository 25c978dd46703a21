/**
 * What one dashboard page view costs in Redis commands, as Upstash bills them (each call
 * inside a script included), counted with MONITOR on a database of its own
 * (`tests/_monitor.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { UPSTASH_SCRIPTS } from "../src/brokers/upstash/scripts.ts";
import { IN_FLIGHT } from "../src/dashboard/_in_flight.ts";
import { dashboardApp } from "../src/dashboard/mod.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { Message } from "../src/message.ts";
import { MessageContext } from "../src/context.ts";
import { SCHEDULER_SCRIPTS } from "../src/scheduler/_scripts.ts";
import { Scheduler } from "../src/scheduler/scheduler.ts";
import { silentLogger } from "./broker_conformance.ts";
import { assertCosts, CommandCounter, total } from "./_monitor.ts";
import { cleanup, testPrefix, testRedisUrl } from "./_env.ts";

/**
 * Redis commands per page view: per queue 4 (`stats()`), 5 (a page of dead letters: the
 * script and its 4 commands) and 4 (the leased messages: the script, `ZREVRANGEBYSCORE`,
 * `HMGET`, then one `MGET` of their progress); for the schedules 1 script call and 1 `GET`
 * each. Empty lists cost less (no `HMGET`, no `MGET`). When the broker counts throughput
 * (its `throughput` option), 1 `MGET` more per queue (the last 15 minutes' counts). Progress: a burst of
 * `this.progress()` calls within a second is one `SET`; `broker.progress()` one `GET`. A requeue is the broker's `requeue()` (9 with its call record); the page the
 * redirect leads to is another page view. A change here is a change of the bill: update `docs/operations.md`.
 */
export const DASHBOARD_COST = {
  "page view, 1 queue, no schedule": 13,
  "page view, 3 queues, 2 schedules": 3 * 13 + 3,
  "page view, 1 empty queue": 4 + 3 + 2,
  "page view, 1 queue, no schedule, broker option throughput": 13 + 1,
  "requeue 1 dead letter (then the redirect's page view is another page view)": 9,
  "this.progress() called 10 times within a second": 1,
  "broker.progress(queue, id)": 1,
} as const;

const TOKEN = "dashboard-cost-token";
/** The database the counted commands run on (scheduler cost uses 12, push 14, rate limits 13). */
const DB = 11;
const AUTH = { basic: { username: "ops", password: "dashboard-cost-password" } };
const HEADERS = { authorization: `Basic ${btoa("ops:dashboard-cost-password")}` };

Deno.test("cost: a dashboard page view issues a bounded, documented number of Redis commands", async () => {
  const url = new URL(testRedisUrl());
  url.pathname = `/${DB}`;
  const server = await startLocalServer({ redis: url, token: TOKEN, port: 0, log: () => {} });
  const redis = new Redis({ url: server.url, token: TOKEN, enableTelemetry: false });
  const counter = await CommandCounter.open(testRedisUrl(), DB);
  const namespace = testPrefix("dashboard-cost").slice(0, -1);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const measured = new Map<string, Record<string, number>>();
  try {
    for (const script of [...UPSTASH_SCRIPTS, ...SCHEDULER_SCRIPTS, IN_FLIGHT]) {
      await redis.scriptLoad(script.source);
    }
    const queues = ["a", "b", "c"];
    for (const queue of queues) {
      const make = () => new Message({ queue, actor: "task", args: [1] });
      await broker.enqueue([make(), make(), make(), make()]);
      const claims = await broker.claim(queue, { count: 2 });
      await broker.nack(queue, claims[0], { kind: "dead", reason: "Error: boom" });
    }
    const task = actor(`cost-${crypto.randomUUID()}`, () => {}, { queue: "a", broker });
    const scheduler = new Scheduler({ broker })
      .schedule(`${namespace}-one`, "* * * * *", task.message())
      .schedule(`${namespace}-two`, "0 * * * *", task.message());
    await scheduler.tick();
    const [leased] = await broker.claim("a");
    const context = new MessageContext({
      broker,
      queue: "a",
      message: Message.decode(leased.body),
      actor: undefined,
      lease: leased,
      leaseMs: 60_000,
    });
    measured.set(
      "this.progress() called 10 times within a second",
      await counter.count(async () => {
        const writes = Array.from({ length: 10 }, (_, i) => context.progress({ done: i + 1 }));
        await Promise.all(writes);
      }),
    );
    measured.set(
      "broker.progress(queue, id)",
      await counter.count(async () => {
        assert.deepEqual(await broker.progress("a", leased.id), { done: 10 });
      }),
    );
    let page = "";
    const view = async (app: ReturnType<typeof dashboardApp>) => {
      const res = await app.request("http://d.test/", { headers: HEADERS });
      assert.equal(res.status, 200);
      page = await res.text();
    };
    const one = dashboardApp({ broker, auth: AUTH, queues: ["a"] });
    const three = dashboardApp({ broker, auth: AUTH, queues, scheduler });
    const empty = dashboardApp({ broker, auth: AUTH, queues: ["empty"] });
    measured.set("page view, 1 queue, no schedule", await counter.count(() => view(one)));
    assert.match(page, /<td class="progress">\{&#34;done&#34;:10\}<\/td>/);
    measured.set("page view, 3 queues, 2 schedules", await counter.count(() => view(three)));
    measured.set("page view, 1 empty queue", await counter.count(() => view(empty)));
    // A workload on a broker that counts: 2 acked in one call, 1 retried, 1 dead.
    const counting = new UpstashBroker({
      redis,
      namespace,
      logger: silentLogger,
      throughput: true,
    });
    await counting.enqueue(
      Array.from({ length: 4 }, () => new Message({ queue: "a", actor: "task", args: [1] })),
    );
    const finished = await counting.claim("a", { count: 4 });
    await counting.ack("a", finished.slice(0, 2));
    await counting.nack("a", finished[2], { kind: "retry", at: Date.now() + 60_000 });
    await counting.nack("a", finished[3], { kind: "dead", reason: "Error: boom" });
    const counted = dashboardApp({ broker: counting, auth: AUTH, queues: ["a"] });
    measured.set(
      "page view, 1 queue, no schedule, broker option throughput",
      await counter.count(() => view(counted)),
    );
    assert.match(page, /<span class="rate">0\.2\/min<\/span> <span class="muted">\(3 in 15 min\)/);
    const minutes = (await counting.throughput("a", { minutes: 15 }))!;
    const sum = (kind: "acked" | "retried" | "dead") => minutes.reduce((n, m) => n + m[kind], 0);
    assert.deepEqual([sum("acked"), sum("retried"), sum("dead")], [2, 1, 1]);
    const [dead] = await broker.deadLetters("b");
    measured.set(
      "requeue 1 dead letter (then the redirect's page view is another page view)",
      await counter.count(async () => {
        const res = await one.request("http://d.test/requeue", {
          method: "POST",
          headers: {
            ...HEADERS,
            origin: "http://d.test",
            "content-type": "application/x-www-form-urlencoded",
          },
          body: `queue=b&id=${dead.id}`,
        });
        assert.equal(res.status, 400, "b is not shown by this dashboard");
        const ok = await three.request("http://d.test/requeue", {
          method: "POST",
          headers: {
            ...HEADERS,
            origin: "http://d.test",
            "content-type": "application/x-www-form-urlencoded",
          },
          body: `queue=b&id=${dead.id}`,
        });
        assert.equal(ok.status, 303);
      }),
    );
    assert.equal((await broker.stats("b")).dead, 0);
    const unauthorized = await counter.count(async () => {
      assert.equal((await three.request("http://d.test/")).status, 401);
    });

    assert.equal(total(unauthorized), 0, "a refused request costs nothing");
    assertCosts("dashboard", DASHBOARD_COST, measured);
  } finally {
    await counter.close();
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});
