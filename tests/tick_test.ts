import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import type { Logger } from "../src/broker.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { scheduledHandler } from "../src/cloudflare/mod.ts";
import { cronTick } from "../src/deno/mod.ts";
import { workerApp } from "../src/hono/mod.ts";
import { deliver } from "../src/push/deliver.ts";
import { Push } from "../src/push/push.ts";
import { tick } from "../src/tick.ts";
import { silentLogger } from "./broker_conformance.ts";
import { countingIntervals, leaseWatch } from "./_heartbeat.ts";

const SECRET = "tick-secret-0123456789ab";
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;

function setup(logger: Logger = silentLogger) {
  const clock = { time: 1_700_000_000_000 };
  const broker = new MemoryBroker({ now: () => clock.time, logger });
  return { clock, broker, queue: unique("q") };
}

Deno.test("tick: given due delays and expired leases, then it promotes, recovers and runs them", async () => {
  const { clock, broker, queue } = setup();
  const seen: string[] = [];
  const task = actor(unique("t"), (s: string) => {
    seen.push(s);
  }, { broker, queue });
  await task.sendWithOptions({ args: ["delayed"], delay: 1_000 });
  await task.sendWithOptions({ args: ["later"], delay: 60_000 });
  await task.send("abandoned");
  await broker.claim(queue, { leaseMs: 500 }); // a consumer that died
  clock.time += 1_000;
  const report = await tick(broker, { queues: [queue] });
  assert.deepEqual(report, {
    queues: { [queue]: { claimed: 2, processed: 2, failed: 0, pushed: 0 } },
    exhausted: false,
  });
  assert.deepEqual(seen.sort(), ["abandoned", "delayed"]);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 1, leased: 0, dead: 0 });
});

Deno.test("tick: given more than maxMessages, then it stops there and says so; concurrency bounds the runs", async () => {
  const { broker, queue } = setup();
  let running = 0;
  let peak = 0;
  const task = actor(unique("t"), async () => {
    peak = Math.max(peak, ++running);
    await Promise.resolve();
    running--;
  }, { broker, queue });
  await broker.enqueue(Array.from({ length: 7 }, () => task.message()));
  const report = await tick(broker, { queues: [queue], maxMessages: 5, concurrency: 2 });
  assert.equal(report.queues[queue].processed, 5);
  assert.equal(report.exhausted, true);
  assert.equal(peak, 2);
  assert.equal((await broker.stats(queue)).ready, 2);
});

/**
 * A broker whose messages, `n` at once, run until one heartbeat extends all their leases
 * in one call (or until a lease is extended alone, as a timer per message does).
 */
function heartbeatWatch(n: number) {
  const { broker, extendCalls, extended } = leaseWatch(n);
  const queue = unique("q");
  let started = 0;
  const all = Promise.withResolvers<void>();
  const task = actor(unique("t"), async () => {
    if (++started === n) all.resolve();
    await all.promise;
    await extended;
  }, { broker, queue });
  return { broker, queue, task, extendCalls };
}

Deno.test("tick: given 10 messages run at once, then one heartbeat extends all their leases in one call, with one timer", async () => {
  const { broker, queue, task, extendCalls } = heartbeatWatch(10);
  await broker.enqueue(Array.from({ length: 10 }, () => task.message()));
  const { answer, intervals } = await countingIntervals(() =>
    tick(broker, { queues: [queue], concurrency: 10, leaseMs: 30 })
  );
  assert.equal(answer.queues[queue].processed, 10);
  assert.equal(intervals, 1);
  assert.ok(extendCalls.includes(10));
  assert.ok(extendCalls.every((count) => count === 10), String(extendCalls));
});

Deno.test("deliver (the push endpoint): given 10 messages pushed at once, then one heartbeat extends all their leases in one call, with one timer", async () => {
  const { broker, queue, task, extendCalls } = heartbeatWatch(10);
  const sent = await broker.enqueue(Array.from({ length: 10 }, () => task.message()));
  const { answer, intervals } = await countingIntervals(() =>
    deliver(broker, queue, sent.map((m) => m.id), { concurrency: 10, leaseMs: 30 })
  );
  assert.deepEqual(answer.map((r) => r.status), Array(10).fill("acked"));
  assert.equal(intervals, 1);
  assert.ok(extendCalls.includes(10));
  assert.ok(extendCalls.every((count) => count === 10), String(extendCalls));
});

Deno.test("tick: given the budget runs out, then it claims no more and the rest waits", async () => {
  const { clock, broker, queue } = setup();
  const task = actor(unique("t"), () => {
    clock.time += 4_000;
  }, { broker, queue });
  await broker.enqueue(Array.from({ length: 5 }, () => task.message()));
  const report = await tick(broker, { queues: [queue], budgetMs: 10_000, concurrency: 1 });
  assert.equal(report.queues[queue].processed, 3);
  assert.equal(report.exhausted, true);
  assert.equal((await broker.stats(queue)).ready, 2);
});

Deno.test("tick: given failing actors, then they count as failed and are retried later", async () => {
  const { broker, queue } = setup();
  const task = actor(unique("t"), () => {
    throw new Error("boom");
  }, { broker, queue, maxRetries: 1 });
  await task.send();
  const report = await tick(broker, { queues: [queue] });
  assert.deepEqual(report.queues[queue], { claimed: 1, processed: 0, failed: 1, pushed: 0 });
  assert.equal((await broker.stats(queue)).delayed, 1);
});

Deno.test("tick: given a scheduler, then it fires first, with the broker's time, and its messages run in the same tick", async () => {
  const { clock, broker, queue } = setup();
  const seen: string[] = [];
  const task = actor(unique("t"), (s: string) => {
    seen.push(s);
  }, { broker, queue });
  const times: number[] = [];
  const scheduler = {
    async tick(now: Date) {
      times.push(now.getTime());
      await task.send("scheduled");
      return { fired: 1 };
    },
  };
  const report = await tick(broker, { queues: [queue], scheduler });
  assert.deepEqual(times, [clock.time]);
  assert.deepEqual(report.scheduled, { fired: 1 });
  assert.deepEqual(seen, ["scheduled"]);
});

Deno.test("tick: given a failing scheduler, then the tick goes on and reports its error name", async () => {
  const lines: string[] = [];
  const { broker, queue } = setup({ ...silentLogger, error: (line: string) => lines.push(line) });
  const task = actor(unique("t"), () => {}, { broker, queue });
  await task.send();
  const scheduler = { tick: () => Promise.reject(new RangeError("secret=1")) };
  const report = await tick(broker, { queues: [queue], scheduler });
  assert.equal(report.schedulerError, "RangeError");
  assert.equal(report.queues[queue].processed, 1);
  assert(!lines.join().includes("secret"));
});

Deno.test("tick: given no queues, then the queues of the declared actors are ticked", async () => {
  const { broker, queue } = setup();
  actor(unique("t"), () => {}, { broker, queue });
  const report = await tick(broker);
  assert(queue in report.queues);
});

Deno.test("tick: given push, then ready messages are handed back and pushed to the endpoint, which runs them", async () => {
  // Push signs with the real clock, so the endpoint's broker keeps the real clock too.
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = unique("q");
  const app = workerApp({ broker, signingKeys: [SECRET] });
  const requests: number[] = [];
  const push = new Push({
    url: "https://worker.example/messages",
    signingKey: SECRET,
    maxIds: 2,
    fetch: async (request) => {
      requests.push((await request.clone().json()).ids.length);
      return await app.fetch(request);
    },
  });
  let runs = 0;
  const task = actor(unique("t"), () => {
    runs++;
  }, { broker, queue });
  await broker.enqueue(Array.from({ length: 3 }, () => task.message()));
  const report = await tick(broker, { queues: [queue], push, maxMessages: 10 });
  assert.deepEqual(report.queues[queue], { claimed: 3, processed: 0, failed: 0, pushed: 3 });
  // The two pushes leave at once: their order is not part of the contract.
  assert.deepEqual(requests.toSorted(), [1, 2]);
  assert.equal(runs, 3);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("tick: given push and waitUntil, then the tick returns with the pushes handed over", async () => {
  const { broker, queue } = setup();
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const push = new Push({
    url: "https://worker.example/messages",
    signingKey: SECRET,
    fetch: async () => {
      await held;
      return Response.json({});
    },
  });
  const task = actor(unique("t"), () => {}, { broker, queue });
  await task.send();
  const waited: Promise<unknown>[] = [];
  const report = await tick(broker, { queues: [queue], push, waitUntil: (p) => waited.push(p) });
  assert.equal(report.queues[queue].pushed, 1);
  assert.equal(waited.length, 1);
  // Handed back before the push: ready for the endpoint's claim by id.
  assert.equal((await broker.stats(queue)).ready, 1);
  release();
  await Promise.all(waited);
});

Deno.test("tick: given bad options, then TypeError or RangeError", async () => {
  const { broker } = setup();
  await assert.rejects(tick(broker, { maxMessages: 0 }), RangeError);
  await assert.rejects(tick(broker, { budgetMs: 1.5 }), RangeError);
  await assert.rejects(tick(broker, { queues: ["bad queue{"] }), TypeError);
});

Deno.test("tick: given the broker unreachable, then it rejects and nothing is lost", async () => {
  const { broker, queue } = setup();
  const task = actor(unique("t"), () => {}, { broker, queue });
  await task.send();
  const claim = broker.claim;
  Object.defineProperty(broker, "claim", {
    configurable: true,
    value: () => Promise.reject(new Error("unreachable")),
  });
  await assert.rejects(tick(broker, { queues: [queue] }), /unreachable/);
  Object.defineProperty(broker, "claim", { configurable: true, value: claim });
  assert.equal((await broker.stats(queue)).ready, 1);
});

Deno.test("scheduledHandler: given a cron event, then it ticks the broker made from env and keeps pushes alive", async () => {
  const { broker, queue } = setup();
  const push = new Push({
    url: "https://worker.example/messages",
    signingKey: SECRET,
    fetch: () => Promise.resolve(Response.json({})),
  });
  broker.addMiddleware(push);
  const next = actor(unique("next"), () => {}, { broker, queue: unique("other") });
  const task = actor(unique("t"), async () => {
    await next.send();
  }, { broker, queue });
  await task.send();
  await push.flush();
  const envs: unknown[] = [];
  const reports: unknown[] = [];
  const handler = scheduledHandler<{ NAME: string }>({
    broker: (env) => {
      envs.push(env.NAME);
      return broker;
    },
    queues: [queue],
    onTick: (report) => reports.push(report),
  });
  const waited: Promise<unknown>[] = [];
  await handler({ cron: "* * * * *", scheduledTime: 0 }, { NAME: "env" }, {
    waitUntil: (p) => waited.push(p),
  });
  assert.deepEqual(envs, ["env"]);
  assert.equal(reports.length, 1);
  assert.equal(waited.length, 1);
  await Promise.all(waited);
  assert.equal((await broker.stats(queue)).ready, 0);
});

Deno.test("scheduledHandler: given the broker unreachable, then the event fails", async () => {
  const { broker } = setup();
  Object.defineProperty(broker, "claim", { value: () => Promise.reject(new Error("down")) });
  const handler = scheduledHandler({ broker: () => broker, queues: ["default"] });
  await assert.rejects(
    handler({ cron: "* * * * *", scheduledTime: 0 }, {}, { waitUntil() {} }),
    /down/,
  );
});

Deno.test("cronTick: given an injected cron, then it registers a job that ticks, logging failures", async () => {
  const lines: string[] = [];
  const { broker, queue } = setup({ ...silentLogger, error: (line: string) => lines.push(line) });
  const task = actor(unique("t"), () => {}, { broker, queue });
  await task.send();
  const jobs: { name: string; schedule: string; fn: () => Promise<void> }[] = [];
  const reports: unknown[] = [];
  await cronTick({
    broker: () => broker,
    queues: [queue],
    onTick: (report) => reports.push(report),
    cron: (name, schedule, fn) => {
      jobs.push({ name, schedule, fn });
      return Promise.resolve();
    },
  });
  assert.deepEqual(jobs.map((j) => [j.name, j.schedule]), [["skiff-tick", "* * * * *"]]);
  await jobs[0].fn();
  assert.equal(reports.length, 1);
  assert.equal((await broker.stats(queue)).ready, 0);
  Object.defineProperty(broker, "claim", { value: () => Promise.reject(new Error("down")) });
  await jobs[0].fn();
  assert.deepEqual(lines, ["The cron tick 'skiff-tick' failed with Error"]);
});

Deno.test("cronTick: given no Deno.cron (no --unstable-cron), then TypeError", () => {
  const cron = (globalThis as { Deno?: { cron?: unknown } }).Deno?.cron;
  if (typeof cron === "function") return; // run with --unstable-cron: nothing to check
  assert.throws(() => cronTick({}), {
    name: "TypeError",
    message:
      "Cannot register cron tick: Deno.cron is not available (use Deno Deploy, or run with --unstable-cron)",
  });
});
