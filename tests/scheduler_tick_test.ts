/**
 * The scheduler behind each tick source: `tick()`, `POST /tick` of `workerApp()`,
 * Cloudflare's `scheduled` handler and `Deno.cron`. Each passes the `Scheduler` as
 * `scheduler`; duplicate triggers fire a slot once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { scheduledHandler } from "../src/cloudflare/mod.ts";
import { cronTick } from "../src/deno/mod.ts";
import { workerApp } from "../src/hono/mod.ts";
import { signPush } from "../src/push/signature.ts";
import { Scheduler, type SchedulerTickReport } from "../src/scheduler/scheduler.ts";
import { tick } from "../src/tick.ts";
import { silentLogger } from "./broker_conformance.ts";

const T0 = Date.UTC(2026, 0, 5, 12, 0);
const SECRET = "a-signing-secret-of-some-length";

/** A broker on an injected clock, and the seed's `print_current_date` on its own queue. */
function setup() {
  const clock = { time: T0 + 1_500 };
  const broker = new MemoryBroker({ now: () => clock.time, logger: silentLogger });
  const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
  const printed: number[] = [];
  const printCurrentDate = actor(`print_current_date-${crypto.randomUUID()}`, () => {
    printed.push(clock.time);
  }, { broker, queue });
  // Records live beside the scheduler's broker (here the global one: the tick sources do
  // not pass theirs yet), so each test has a schedule name of its own.
  const name = `print-current-date-${queue}`;
  const scheduler = new Scheduler().schedule(name, "* * * * *", printCurrentDate.message());
  return { clock, broker, queue, printed, scheduler, name };
}

Deno.test("tick(): the scheduler fires first, and its message runs in the same tick", async () => {
  const { broker, queue, printed, scheduler, name } = setup();
  const reports = await Promise.all([
    tick(broker, { queues: [queue], scheduler }),
    tick(broker, { queues: [queue], scheduler }),
  ]);
  assert.deepEqual(printed, [T0 + 1_500]);
  const fired = reports.flatMap((r) => (r.scheduled as SchedulerTickReport).fired);
  assert.deepEqual(fired.map((f) => [f.schedule, f.slot]), [[name, T0]]);
});

Deno.test("POST /tick: a signed tick fires the schedule once, however often it comes", async () => {
  const { clock, broker, queue, printed, scheduler } = setup();
  const app = workerApp({
    broker,
    signingKeys: [SECRET],
    scheduler,
    tick: { queues: [queue] },
  });
  const post = async () => {
    const signature = await signPush(SECRET, {
      method: "POST",
      path: "/tick",
      body: "",
      now: clock.time,
    });
    return await app.request("/tick", {
      method: "POST",
      headers: { "skiff-signature": signature },
    });
  };
  const first = await post();
  assert.equal(first.status, 200);
  assert.equal((await first.json()).scheduled.fired.length, 1);
  clock.time += 1;
  assert.equal((await (await post()).json()).scheduled.fired.length, 0);
  assert.equal(printed.length, 1);
});

Deno.test("Cloudflare scheduled: duplicate triggers for one minute fire the slot once", async () => {
  const { clock, broker, queue, printed, scheduler } = setup();
  const scheduled = scheduledHandler({ broker: () => broker, queues: [queue], scheduler });
  const controller = { cron: "* * * * *", scheduledTime: T0 };
  const ctx = { waitUntil: () => {} };
  await Promise.all([scheduled(controller, {}, ctx), scheduled(controller, {}, ctx)]);
  clock.time = T0 + 60_200;
  await scheduled({ ...controller, scheduledTime: T0 + 60_000 }, {}, ctx);
  assert.deepEqual(printed, [T0 + 1_500, T0 + 60_200]);
});

Deno.test("Deno.cron: each run of the cron ticks the scheduler", async () => {
  const { clock, broker, queue, printed, scheduler } = setup();
  let handler: (() => Promise<void>) | undefined;
  const reports: SchedulerTickReport[] = [];
  await cronTick({
    broker,
    queues: [queue],
    scheduler,
    onTick: (report) => reports.push(report.scheduled as SchedulerTickReport),
    cron: (_name, _schedule, fn) => {
      handler = fn;
      return Promise.resolve();
    },
  });
  await handler!();
  clock.time = T0 + 60_100;
  await handler!();
  await handler!();
  assert.deepEqual(printed, [T0 + 1_500, T0 + 60_100]);
  assert.deepEqual(reports.map((r) => r.fired.length), [1, 1, 0]);
});

Deno.test({
  name: "tick(): a scheduler with no broker of its own sends through the tick's broker",
  // Enable once tick() passes its broker: `scheduler.tick(new Date(start), { broker })`.
  fn: async () => {
    const broker = new MemoryBroker({ now: () => T0 + 1_000, logger: silentLogger });
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    const runs: number[] = [];
    const task = actor(`task-${crypto.randomUUID()}`, () => {
      runs.push(1);
    }, { queue });
    const scheduler = new Scheduler().schedule(`wired-${queue}`, "* * * * *", task.message());
    await tick(broker, { queues: [queue], scheduler });
    await tick(broker, { queues: [queue], scheduler });
    assert.equal(runs.length, 1);
  },
});
