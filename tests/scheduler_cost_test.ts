/**
 * What a scheduler tick costs in Redis commands, as Upstash bills them (each call inside a
 * script included): records in the broker's Redis, messages sent through an
 * `UpstashBroker`. Counted with MONITOR on a database of its own (`tests/_monitor.ts`), so
 * other tests may run meanwhile.
 *
 * @module
 */
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { UPSTASH_SCRIPTS } from "../src/brokers/upstash/scripts.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { SCHEDULER_SCRIPTS } from "../src/scheduler/_scripts.ts";
import { Scheduler } from "../src/scheduler/scheduler.ts";
import { silentLogger } from "./broker_conformance.ts";
import { assertCosts, CommandCounter } from "./_monitor.ts";
import { cleanup, testPrefix, testRedisUrl } from "./_env.ts";

/**
 * Redis commands per scheduler tick, the slots' messages included: they are stored by the
 * same script as the records (2 commands for one message in a queue: `HSETNX`, `ZADD`; 3
 * for several: `HMGET`, `HSET`, `ZADD`), with no send after it. A change that moves one of
 * these is a change of the bill: update `docs/scheduling.md` (and the README) with it.
 * Every tick that writes a record pays 1 command for its call record (a `SET`), by which a
 * retried write recognises its own first run: see `SWAP_RECORDS`.
 */
export const SCHEDULER_COST = {
  "tick, nothing new due (records seen before)": 0,
  "first tick of an instance, latest slot past 'grace' (nothing to do)": 0,
  "first tick of an instance, latest slot already fired": 2,
  "tick that fires 1 schedule": 5,
  "tick that fires 1 schedule, first tick of an instance (record exists)": 7,
  "tick that fires 10 schedules": 15,
  "tick that fires 1 'catchUp' schedule, 2 slots late": 6,
  "tick that fires 1 'overlap: skip' schedule (previous run done)": 7,
  "tick that skips 1 'overlap: skip' schedule (previous run ready)": 7,
} as const;

type Operation = keyof typeof SCHEDULER_COST;

const TOKEN = "scheduler-cost-token";
/** The database the counted commands run on (push uses 14, rate limits 13). */
const DB = 12;
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 5, 12, 0);

Deno.test("cost: each kind of scheduler tick issues its documented number of Redis commands", async () => {
  const url = new URL(testRedisUrl());
  url.pathname = `/${DB}`;
  const server = await startLocalServer({ redis: url, token: TOKEN, port: 0, log: () => {} });
  const redis = new Redis({ url: server.url, token: TOKEN, enableTelemetry: false });
  const counter = await CommandCounter.open(testRedisUrl(), DB);
  const namespace = testPrefix("scheduler-cost").slice(0, -1);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const queue = "cost";
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  const measured = new Map<Operation, Record<string, number>>();
  const measure = async (operation: Operation, fn: () => Promise<unknown>) => {
    measured.set(operation, await counter.count(fn));
  };

  try {
    for (const script of [...UPSTASH_SCRIPTS, ...SCHEDULER_SCRIPTS]) {
      await redis.scriptLoad(script.source);
    }
    const one = new Scheduler().schedule("one", "* * * * *", task.message());
    await one.tick(T0, { broker }); // the first record
    await measure("tick that fires 1 schedule", () => one.tick(T0 + MINUTE, { broker }));
    await measure(
      "tick, nothing new due (records seen before)",
      () => one.tick(T0 + MINUTE + 30_000, { broker }),
    );
    const cold = () => new Scheduler().schedule("one", "* * * * *", task.message());
    const hourly = () => new Scheduler().schedule("hourly", "0 * * * *", task.message());
    await measure(
      "first tick of an instance, latest slot past 'grace' (nothing to do)",
      () => hourly().tick(T0 + 30 * MINUTE, { broker }),
    );
    await measure(
      "first tick of an instance, latest slot already fired",
      () => cold().tick(T0 + MINUTE + 40_000, { broker }),
    );
    await measure(
      "tick that fires 1 schedule, first tick of an instance (record exists)",
      () => cold().tick(T0 + 2 * MINUTE, { broker }),
    );

    const ten = new Scheduler();
    for (let i = 0; i < 10; i++) ten.schedule(`ten-${i}`, "*/5 * * * *", task.message());
    await ten.tick(T0, { broker });
    await measure("tick that fires 10 schedules", () => ten.tick(T0 + 5 * MINUTE, { broker }));

    const catching = new Scheduler()
      .schedule("catching", "* * * * *", task.message(), { misfire: { catchUp: 5 } });
    await catching.tick(T0, { broker });
    await measure(
      "tick that fires 1 'catchUp' schedule, 2 slots late",
      () => catching.tick(T0 + 2 * MINUTE, { broker }),
    );

    const exclusive = new Scheduler()
      .schedule("exclusive", "* * * * *", task.message(), { overlap: "skip" });
    await exclusive.tick(T0, { broker });
    await broker.join(queue);
    await measure(
      "tick that fires 1 'overlap: skip' schedule (previous run done)",
      () => exclusive.tick(T0 + MINUTE, { broker }),
    );
    await measure(
      "tick that skips 1 'overlap: skip' schedule (previous run ready)",
      () => exclusive.tick(T0 + 2 * MINUTE, { broker }),
    );

    assertCosts("tick", SCHEDULER_COST, measured);
  } finally {
    await counter.close();
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});
