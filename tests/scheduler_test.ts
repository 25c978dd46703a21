/**
 * The `Scheduler`: each (schedule, slot) once, misfire and overlap policies, time zones,
 * cron errors, and the timer loop. Every test of a store runs against both stores
 * (memory, and Redis through the local REST server).
 *
 * @module
 */
import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import type { Broker } from "../src/broker.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { Message } from "../src/message.ts";
import { Middleware } from "../src/middleware/middleware.ts";
import { MemoryScheduleStore } from "../src/scheduler/memory_store.ts";
import { runScheduler } from "../src/scheduler/run_scheduler.ts";
import { Scheduler, type SchedulerTickReport } from "../src/scheduler/scheduler.ts";
import type { RecordSwap, ScheduleStore, SwapResult } from "../src/scheduler/store.ts";
import { UpstashScheduleStore } from "../src/scheduler/upstash_store.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";

const redis = restClient();
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 5, 12, 0); // a Monday, on a minute slot

/** A store, and how to make another client of the same records (another region). */
interface StoreKind {
  name: string;
  run(test: (stores: () => ScheduleStore) => Promise<void>): Promise<void>;
}

const STORES: StoreKind[] = [
  {
    name: "memory",
    run: async (test) => {
      const store = new MemoryScheduleStore();
      await test(() => store);
    },
  },
  {
    name: "redis",
    run: async (test) => {
      const namespace = testPrefix("scheduler").slice(0, -1);
      try {
        await test(() => new UpstashScheduleStore({ redis: restClient(), namespace }));
      } finally {
        await cleanup(redis, `${namespace}:`);
      }
    },
  },
];

/** Counts each store call and swap, to assert what a tick costs. */
class CountingStore implements ScheduleStore {
  calls = 0;
  swaps: RecordSwap[] = [];
  constructor(readonly inner: ScheduleStore) {}
  swap(swaps: readonly RecordSwap[]): Promise<SwapResult[]> {
    this.calls++;
    this.swaps.push(...swaps);
    return this.inner.swap(swaps);
  }
}

function uniqueQueue(): string {
  return `sched-${crypto.randomUUID().slice(0, 8)}`;
}

/** A fresh actor on its own queue, recording its runs. */
function recorder(broker: Broker) {
  const queue = uniqueQueue();
  const runs: string[] = [];
  const task = actor(`record-${crypto.randomUUID()}`, (label: string) => {
    runs.push(label);
  }, { broker, queue });
  return { queue, runs, task };
}

function firedSlots(...reports: SchedulerTickReport[]): number[] {
  return reports.flatMap((r) => r.fired.map((f) => f.slot)).sort((a, b) => a - b);
}

for (const kind of STORES) {
  Deno.test(`scheduler (${kind.name}): concurrent ticks for the same slot enqueue once`, async () => {
    await kind.run(async (stores) => {
      // Given three instances (regions) of the same schedule sharing one store
      const broker = new MemoryBroker();
      const { queue, task } = recorder(broker);
      const regions = [0, 1, 2].map(() =>
        new Scheduler({ broker, store: stores() }).schedule(
          "every-minute",
          "* * * * *",
          task.message("x"),
        )
      );
      // When each ticks twice, concurrently, within the 12:00 slot
      const reports = await Promise.all(
        regions.flatMap((s) => [s.tick(T0 + 10), s.tick(new Date(T0 + 900))]),
      );
      // Then one message is sent, for that slot
      assert.deepEqual(firedSlots(...reports), [T0]);
      assert.equal((await broker.stats(queue)).ready, 1);
      // And the next slot fires once too, each slot with a fresh message id
      const next = await Promise.all(regions.map((s) => s.tick(T0 + MINUTE + 5)));
      assert.deepEqual(firedSlots(...next), [T0 + MINUTE]);
      const ids = [...reports, ...next].flatMap((r) => r.fired.map((f) => f.id));
      assert.equal(new Set(ids).size, 2);
      assert.equal((await broker.stats(queue)).ready, 2);
    });
  });

  Deno.test(`scheduler (${kind.name}): after a gap, 'skip' fires the current slot only`, async () => {
    await kind.run(async (stores) => {
      const broker = new MemoryBroker();
      const { task } = recorder(broker);
      const scheduler = new Scheduler({ broker, store: stores() })
        .schedule("skipper", "* * * * *", task.message("x"));
      assert.deepEqual(firedSlots(await scheduler.tick(T0)), [T0]);
      // Given no tick for ten minutes, when one comes
      const report = await scheduler.tick(T0 + 10 * MINUTE + 2_000);
      // Then only 12:10 fires (the tick looks at the latest slot only: nothing to report)
      assert.deepEqual(firedSlots(report), [T0 + 10 * MINUTE]);
      assert.deepEqual(report.skipped, []);
      assert.deepEqual(firedSlots(await scheduler.tick(T0 + 10 * MINUTE + 30_000)), []);
    });
  });

  Deno.test(`scheduler (${kind.name}): after a gap, 'catchUp: 3' fires 3 missed slots, then the current`, async () => {
    await kind.run(async (stores) => {
      const broker = new MemoryBroker();
      const { queue, runs, task } = recorder(broker);
      const store = stores();
      const scheduler = new Scheduler({ broker, store })
        .schedule("catcher", "* * * * *", task.message("x"), { misfire: { catchUp: 3 } });
      await scheduler.tick(T0);
      // Another instance (that never saw the record) ticks after ten minutes
      const other = new Scheduler({ broker, store })
        .schedule("catcher", "* * * * *", task.message("x"), { misfire: { catchUp: 3 } });
      const report = await other.tick(T0 + 10 * MINUTE + 2_000);
      assert.deepEqual(firedSlots(report), [7, 8, 9, 10].map((m) => T0 + m * MINUTE));
      assert.deepEqual(report.skipped, []);
      // The first instance, whose memory of the record is stale, fires nothing more
      assert.deepEqual(firedSlots(await scheduler.tick(T0 + 10 * MINUTE + 3_000)), []);
      await broker.join(queue);
      assert.equal(runs.length, 5);
    });
  });

  Deno.test(`scheduler (${kind.name}): a slot later than 'grace' is a misfire`, async () => {
    await kind.run(async (stores) => {
      const broker = new MemoryBroker();
      const { task } = recorder(broker);
      const store = stores();
      const declare = (scheduler: Scheduler) =>
        scheduler
          .schedule("daily-skip", "0 3 * * *", task.message("a"))
          .schedule("daily-catch", "0 3 * * *", task.message("b"), { misfire: { catchUp: 1 } });
      const day = Date.UTC(2026, 0, 5, 3);
      // A schedule first seen hours after its slot does not fire yesterday's run
      const first = declare(new Scheduler({ broker, store }));
      assert.deepEqual(firedSlots(await first.tick(day + 5 * 3_600_000)), []);
      // The next day's slot fires on time for both
      const onTime = await first.tick(day + 86_400_000 + 30_000);
      assert.deepEqual(onTime.fired.map((f) => f.schedule).sort(), ["daily-catch", "daily-skip"]);
      // The day after, the tick comes an hour late: skipped, or caught up
      const late = await first.tick(day + 2 * 86_400_000 + 3_600_000);
      assert.deepEqual(late.fired.map((f) => f.schedule), ["daily-catch"]);
      assert.deepEqual(late.skipped, [
        { schedule: "daily-skip", slot: day + 2 * 86_400_000, reason: "misfire" },
      ]);
    });
  });

  Deno.test(`scheduler (${kind.name}): a first tick that comes late reports the slot skipped, once, as later ticks do`, async () => {
    await kind.run(async (stores) => {
      const broker = new MemoryBroker();
      const { queue, task } = recorder(broker);
      const store = stores();
      const declare = (scheduler: Scheduler) =>
        scheduler
          .schedule("daily", "0 2 * * *", task.message("a"))
          .schedule("daily-catch", "0 2 * * *", task.message("b"), { misfire: { catchUp: 1 } });
      const day = Date.UTC(2026, 0, 5, 2);
      // Given schedules never ticked before, when their first tick comes 40 minutes after the
      // slot (Vercel Hobby fires a daily cron within the hour; the grace is 5 minutes)
      const report = await declare(new Scheduler({ broker, store })).tick(day + 40 * MINUTE);
      // Then nothing fires (no record: nothing to catch up) and both slots are reported skipped
      assert.deepEqual(report, {
        fired: [],
        skipped: [
          { schedule: "daily", slot: day, reason: "misfire" },
          { schedule: "daily-catch", slot: day, reason: "misfire" },
        ],
      });
      // And another instance's late tick finds them handled: nothing twice
      const again = await declare(new Scheduler({ broker, store })).tick(day + 45 * MINUTE);
      assert.deepEqual(again, { fired: [], skipped: [] });
      assert.equal((await broker.stats(queue)).ready, 0);
      // And the next day's slot, on time, fires
      const next = await declare(new Scheduler({ broker, store })).tick(day + 86_400_000 + 2_000);
      assert.deepEqual(next.fired.map((f) => f.schedule), ["daily", "daily-catch"]);
    });
  });

  Deno.test(`scheduler (${kind.name}): 'overlap: skip' skips slots while the previous run is unfinished`, async () => {
    await kind.run(async (stores) => {
      const broker = new MemoryBroker();
      const { queue, runs, task } = recorder(broker);
      const scheduler = new Scheduler({ broker, store: stores() })
        .schedule("exclusive", "* * * * *", task.message("x"), { overlap: "skip" });
      assert.equal((await scheduler.tick(T0)).fired.length, 1);
      // The 12:00 message is still ready: 12:01 and 12:02 are skipped
      for (const m of [1, 2]) {
        const report = await scheduler.tick(T0 + m * MINUTE);
        assert.deepEqual(report.skipped, [
          { schedule: "exclusive", slot: T0 + m * MINUTE, reason: "overlap" },
        ]);
      }
      const [claim] = await broker.claim(queue);
      assert.equal((await scheduler.tick(T0 + 3 * MINUTE)).skipped[0].reason, "overlap");
      // Once it is done, the next slot fires
      await broker.ack(queue, [claim]);
      assert.deepEqual(firedSlots(await scheduler.tick(T0 + 4 * MINUTE)), [T0 + 4 * MINUTE]);
      await broker.join(queue);
      assert.equal(runs.length, 1);
    });
  });

  Deno.test(`scheduler (${kind.name}): a failed send is sent again, same message, by the next tick`, async () => {
    await kind.run(async (stores) => {
      const broker = new MemoryBroker();
      const { queue, task } = recorder(broker);
      let failures = 1;
      const flaky = new Proxy(broker, {
        get(target, property) {
          // The scheduler's send after the record: the second half of enqueue()
          if (property === "enqueueEncoded") {
            return (...args: Parameters<MemoryBroker["enqueueEncoded"]>) =>
              failures-- > 0
                ? Promise.reject(new Error("Redis is down"))
                : target.enqueueEncoded(...args);
          }
          const value = Reflect.get(target, property);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const scheduler = new Scheduler({ broker: flaky, store: stores(), logger: silentLogger })
        .schedule("flaky", "* * * * *", task.message("x"));
      await assert.rejects(scheduler.tick(T0 + 1_000), /Redis is down/);
      const { fired } = await scheduler.tick(T0 + 2_000);
      assert.deepEqual(firedSlots({ fired, skipped: [] }), [T0]);
      assert.equal((await broker.stats(queue)).ready, 1);
      // Its id carries its slot: a UUIDv7 whose time is the slot's
      assert.equal(parseInt(fired[0].id.replace(/-/g, "").slice(0, 12), 16), T0);
    });
  });
}

for (const kind of ["memory", "redis"] as const) {
  Deno.test(`scheduler (${kind}): on its broker's own store, a slot's message is stored with its record, hooks around it, and no send follows`, async () => {
    const namespace = testPrefix("carried").slice(0, -1);
    const broker = kind === "memory"
      ? new MemoryBroker()
      : new UpstashBroker({ redis, namespace, logger: silentLogger });
    try {
      const { queue, task } = recorder(broker);
      const hooks: string[] = [];
      broker.addMiddleware(
        new class extends Middleware {
          override beforeEnqueue(_: Broker, message: Message) {
            hooks.push("before");
            return message.copy({ options: { ...message.options, stamped: 1 } });
          }
          override afterEnqueue(_: Broker, message: Message) {
            hooks.push(`after ${message.options.stamped}`);
          }
        }(),
      );
      // Given a broker whose enqueue fails: the slot must not need it
      broker.enqueue = () => Promise.reject(new Error("no send expected"));
      const scheduler = new Scheduler({ broker })
        .schedule("carried", "* * * * *", task.message("x"))
        .schedule("later", "* * * * *", task.messageWithOptions({ args: ["y"], delay: 60_000 }));
      // When a tick fires a slot
      const report = await scheduler.tick(T0 + 10);
      // Then the message, as the hooks made it, is in its queue, and the report names it
      assert.deepEqual(firedSlots(report), [T0, T0]);
      assert.deepEqual(hooks, ["before", "before", "after 1", "after 1"]);
      const stats = await broker.stats(queue);
      assert.deepEqual([stats.ready, stats.delayed], [1, 1]);
      const [claim] = await broker.claim(queue, { count: 1, leaseMs: 1_000 });
      assert.equal(claim.id, report.fired.find((f) => f.schedule === "carried")?.id);
      assert.equal(Message.decode(claim.body).options.stamped, 1);
    } finally {
      if (kind === "redis") await cleanup(redis, `${namespace}:`);
    }
  });
}

Deno.test("scheduler: a tick with nothing new due does not touch the store", async () => {
  const broker = new MemoryBroker();
  const { task } = recorder(broker);
  const store = new CountingStore(new MemoryScheduleStore());
  const scheduler = new Scheduler({ broker, store })
    .schedule("hourly", "0 * * * *", task.message("x"))
    .schedule("minutely", "* * * * *", task.message("y"));
  // The first tick reads both records, then writes both: one call each
  await scheduler.tick(T0);
  assert.equal(store.calls, 2);
  assert.deepEqual(store.swaps.map((s) => s.next === undefined ? "read" : "write"), [
    "read",
    "read",
    "write",
    "write",
  ]);
  for (let s = 1; s < 60; s++) await scheduler.tick(T0 + s * 1_000);
  assert.equal(store.calls, 2);
  await scheduler.tick(T0 + MINUTE);
  assert.equal(store.calls, 3);
  assert.equal(store.swaps.length, 5); // only the minutely one
});

Deno.test("scheduler: a schedule in Europe/Berlin fires at the right instants across DST changes", async () => {
  const broker = new MemoryBroker();
  const { task } = recorder(broker);
  const scheduler = new Scheduler({ broker })
    .schedule("half-past-two", "30 2 * * *", task.message("x"), { timezone: "Europe/Berlin" })
    .schedule("every-half-hour", "*/30 * * * *", task.message("y"), {
      timezone: "Europe/Berlin",
    });
  const fired = async (from: number, to: number) => {
    const out: Record<string, string[]> = {};
    for (let t = from; t <= to; t += MINUTE) {
      for (const f of (await scheduler.tick(t)).fired) {
        (out[f.schedule] ??= []).push(new Date(f.slot).toISOString());
      }
    }
    return out;
  };
  // Spring forward, 2026-03-29: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist.
  // The fixed-time job runs once, at the first instant after the gap (03:00 CEST).
  const spring = await fired(Date.UTC(2026, 2, 28, 23), Date.UTC(2026, 2, 29, 3));
  assert.deepEqual(spring["half-past-two"], ["2026-03-29T01:00:00.000Z"]);
  assert.deepEqual(spring["every-half-hour"], [
    "2026-03-28T23:00:00.000Z", // 00:00 CET
    "2026-03-28T23:30:00.000Z",
    "2026-03-29T00:00:00.000Z", // 01:00 CET
    "2026-03-29T00:30:00.000Z",
    "2026-03-29T01:00:00.000Z", // 03:00 CEST: 02:00 and 02:30 do not exist
    "2026-03-29T01:30:00.000Z",
    "2026-03-29T02:00:00.000Z",
    "2026-03-29T02:30:00.000Z",
    "2026-03-29T03:00:00.000Z",
  ]);
  // Fall back, 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice.
  // The fixed-time job runs once (the first 02:30); the interval job on both.
  const fall = await fired(Date.UTC(2026, 9, 24, 23), Date.UTC(2026, 9, 25, 2));
  assert.deepEqual(fall["half-past-two"], ["2026-10-25T00:30:00.000Z"]);
  assert.deepEqual(fall["every-half-hour"], [
    "2026-10-24T23:00:00.000Z", // 01:00 CEST
    "2026-10-24T23:30:00.000Z",
    "2026-10-25T00:00:00.000Z", // 02:00 CEST
    "2026-10-25T00:30:00.000Z", // 02:30 CEST
    "2026-10-25T01:00:00.000Z", // 02:00 CET
    "2026-10-25T01:30:00.000Z", // 02:30 CET
    "2026-10-25T02:00:00.000Z",
  ]);
});

Deno.test("scheduler: the seed's print_current_date every minute, through tick()", async () => {
  const broker = new MemoryBroker();
  const printed: string[] = [];
  const printCurrentDate = actor(`print_current_date-${crypto.randomUUID()}`, () => {
    printed.push(new Date(broker.now()).toISOString());
  }, { broker });
  const scheduler = new Scheduler();
  scheduler.schedule("print-current-date", "* * * * *", printCurrentDate.message());
  for (let t = T0; t < T0 + 3 * MINUTE; t += 15_000) await scheduler.tick(new Date(t));
  await broker.join("default");
  assert.equal(printed.length, 3);
});

Deno.test("scheduler: the seed's print_current_date every minute, through the timer loop", async () => {
  let time = T0 + 250;
  const broker = new MemoryBroker({ now: () => time });
  const printed: string[] = [];
  const printCurrentDate = actor(`print_current_date-${crypto.randomUUID()}`, () => {
    printed.push(new Date(time).toISOString().slice(0, 19));
  }, { broker });
  const scheduler = new Scheduler({ broker, now: () => time })
    .schedule("print-current-date", "* * * * *", printCurrentDate.message());
  const stop = new AbortController();
  const waits: number[] = [];
  const reports: SchedulerTickReport[] = [];
  await runScheduler(scheduler, {
    signal: stop.signal,
    onTick: (report) => reports.push(report),
    sleep: async (ms) => {
      // The worker side: run what was sent, when it was sent
      await broker.join("default");
      waits.push(ms);
      time += ms;
      if (time >= T0 + 3 * MINUTE) stop.abort();
    },
  });
  // Ticks at each whole second: the first wait aligns to 12:00:01.000
  assert.equal(waits[0], 750);
  assert(waits.slice(1).every((ms) => ms === 1_000));
  assert.deepEqual(printed, ["2026-01-05T12:00:00", "2026-01-05T12:01:00", "2026-01-05T12:02:00"]);
  assert.equal(reports.filter((r) => r.fired.length > 0).length, 3);
});

Deno.test("scheduler: the timer loop logs a failing tick once, retries, and recovers", async () => {
  let time = T0;
  const broker = new MemoryBroker();
  const { queue, task } = recorder(broker);
  let down = 3;
  const store = new MemoryScheduleStore();
  const scheduler = new Scheduler({
    broker,
    now: () => time,
    store: {
      swap: (swaps) => down-- > 0 ? Promise.reject(new Error("down")) : store.swap(swaps),
    },
  }).schedule("retrying", "* * * * *", task.message("x"));
  const logged: string[] = [];
  const logger = { ...silentLogger, error: (line: string) => logged.push(line) };
  const stop = new AbortController();
  await runScheduler(scheduler, {
    signal: stop.signal,
    logger,
    retryMs: 500,
    sleep: (ms) => {
      time += ms;
      if (time >= T0 + 5_000) stop.abort();
      return Promise.resolve();
    },
  });
  assert.deepEqual(logged, ["The scheduler failed to tick with Error; retrying"]);
  assert.equal((await broker.stats(queue)).ready, 1);
});

Deno.test("scheduler: a bad cron expression fails at declaration, quoting the field at fault", () => {
  const task = actor(`task-${crypto.randomUUID()}`, () => {});
  const scheduler = new Scheduler();
  const cases: [string, RegExp][] = [
    [
      "61 * * * *",
      /'bad': the minute field of the cron expression '61 \* \* \* \*' must be 0-59.*received '61'/,
    ],
    ["* 24 * * *", /the hour field .* must be 0-23 .*received '24'/],
    ["0 0 32 * *", /the day-of-month field .*received '32'/],
    ["0 0 * 13 *", /the month field .*received '13'/],
    ["0 0 * * MOON", /the day-of-week field .*received 'MOON'/],
    ["*/0 * * * * *", /the second field .*received '\*\/0'/],
    ["* * * *", /must have five fields .* or six .*received 4/],
    ["* * * * * * *", /must have five fields .*received 7/],
  ];
  for (const [cron, pattern] of cases) {
    assert.throws(() => scheduler.schedule("bad", cron, task.message()), pattern, cron);
  }
  assert.throws(
    () => scheduler.schedule("bad", "0 0 31 2 *", task.message()),
    (e) => e instanceof RangeError && /never matches/.test(e.message),
  );
  assert.throws(
    () => scheduler.schedule("bad", "* * * * *", task.message(), { timezone: "Mars/Olympus" }),
    /'timezone' must be an IANA time zone name.*"Mars\/Olympus"/,
  );
  assert.equal(scheduler.schedules.length, 0);
});

Deno.test("scheduler: bad names, messages and options fail at declaration", async () => {
  const task = actor(`task-${crypto.randomUUID()}`, () => {});
  const scheduler = new Scheduler().schedule("taken", "@hourly", task.message());
  const broker = new MemoryBroker();
  const [sent] = await broker.enqueue([task.message()]);
  const cases: [() => unknown, RegExp, ErrorConstructor][] = [
    [() => scheduler.schedule("a b", "* * * * *", task.message()), /the name must be/, TypeError],
    [() => scheduler.schedule("taken", "* * * * *", task.message()), /already declared/, TypeError],
    [() => scheduler.schedule("x", "* * * * *", {} as Message), /must be a Message/, TypeError],
    [() => scheduler.schedule("x", "* * * * *", sent), /must be unsent/, TypeError],
    [
      () => scheduler.schedule("x", "* * * * *", task.messageWithOptions({ eta: 5 })),
      /without an eta/,
      TypeError,
    ],
    [
      () => scheduler.schedule("x", "* * * * *", task.message(), { every: 5 } as never),
      /unknown option 'every'/,
      TypeError,
    ],
    [
      () => scheduler.schedule("x", "* * * * *", task.message(), { misfire: "run" as never }),
      /'misfire' must be "skip" or \{ catchUp: n \}/,
      TypeError,
    ],
    [
      () => scheduler.schedule("x", "* * * * *", task.message(), { misfire: { catchUp: 0 } }),
      /'misfire.catchUp' must be an integer from 1 to 1000, received 0/,
      RangeError,
    ],
    [
      () => scheduler.schedule("x", "* * * * *", task.message(), { overlap: "never" as never }),
      /'overlap' must be "allow" or "skip"/,
      TypeError,
    ],
    [
      () => scheduler.schedule("x", "* * * * *", task.message(), { grace: -1 }),
      /'grace' must be a positive integer/,
      RangeError,
    ],
  ];
  for (const [declare, pattern, type] of cases) {
    assert.throws(declare, (e) => e instanceof type && pattern.test((e as Error).message));
  }
  await assert.rejects(scheduler.tick(new Date(NaN)), /must be a Date or milliseconds/);
});

Deno.test("scheduler: messages go to the actor's broker, else the tick's, else the global one", async () => {
  const own = new MemoryBroker();
  const ticks = new MemoryBroker();
  const queue = uniqueQueue();
  const pinned = actor(`pinned-${crypto.randomUUID()}`, () => {}, { broker: own, queue });
  const free = actor(`free-${crypto.randomUUID()}`, () => {}, { queue });
  const scheduler = new Scheduler()
    .schedule("pinned", "* * * * *", pinned.message())
    .schedule("free", "* * * * *", free.message());
  await scheduler.tick(T0, { broker: ticks });
  assert.equal((await own.stats(queue)).ready, 1);
  assert.equal((await ticks.stats(queue)).ready, 1);
});

Deno.test("scheduler: a delayed message keeps its delay from each slot", async () => {
  let time = T0;
  const broker = new MemoryBroker({ now: () => time });
  const { queue, task } = recorder(broker);
  const scheduler = new Scheduler({ broker })
    .schedule("delayed", "* * * * *", task.messageWithOptions({ args: ["x"], delay: 5_000 }));
  const [fired] = (await scheduler.tick(T0)).fired;
  assert.equal((await broker.stats(queue)).delayed, 1);
  time += 5_000;
  assert.deepEqual((await broker.claim(queue)).map((c) => c.id), [fired.id]);
});

Deno.test("scheduler: nextSlot() is the earliest slot of any schedule", () => {
  const task = actor(`task-${crypto.randomUUID()}`, () => {});
  const scheduler = new Scheduler();
  assert.equal(scheduler.nextSlot(T0), undefined);
  scheduler.schedule("hourly", "0 * * * *", task.message());
  scheduler.schedule("quarter", "*/15 * * * *", task.message());
  assert.equal(scheduler.nextSlot(T0), T0 + 15 * MINUTE);
  assert.equal(scheduler.nextSlot(new Date(T0 + 50 * MINUTE)), T0 + 60 * MINUTE);
});
