/**
 * The scheduler on Redis: its scripts, retried requests, the store an `UpstashBroker`
 * brings, and the message states `overlap: "skip"` reads.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { WRITE } from "../src/brokers/upstash/write.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { SCHEDULER_SCRIPTS } from "../src/scheduler/_scripts.ts";
import { slotOfId } from "../src/scheduler/_slot_id.ts";
import { messageStates } from "../src/scheduler/_states.ts";
import type { ScheduleStore } from "../src/scheduler/store.ts";
import type { Message } from "../src/message.ts";
import type { MessageContext } from "../src/context.ts";
import { Scheduler, type SchedulerTickReport } from "../src/scheduler/scheduler.ts";
import { UpstashScheduleStore } from "../src/scheduler/upstash_store.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, testPrefix, testRedisUrl } from "./_env.ts";
import { losing } from "./_losing.ts";

const redis = restClient();
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 5, 12, 0);

async function withNamespace(name: string, fn: (namespace: string) => Promise<void>) {
  const namespace = testPrefix(name).slice(0, -1);
  try {
    await fn(namespace);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
}

Deno.test("scheduler scripts: each loads, its SHA matches, and it names keys only through KEYS", async () => {
  for (const script of SCHEDULER_SCRIPTS) {
    assert.ok(script.source.startsWith("#!lua flags=allow-key-locking\n"), script.name);
    assert.equal(await redis.scriptLoad(script.source), await script.sha(), script.name);
    const calls = [...script.source.matchAll(/redis\.call\("(\w+)", ([^,)]+)/g)];
    assert.ok(calls.length > 0, script.name);
    for (const [, command, key] of calls) {
      // `key` is KEYS[i], `call` is KEYS[n + 1], `ready`, `timers` and `msg` a queue's keys
      // further on in KEYS, `set` one of those two sorted sets: never a name built in Lua.
      assert.match(
        key,
        /^(key|call|ready|timers|msg|set|KEYS\[\d\])$/,
        `${script.name}: ${command} on ${key}`,
      );
    }
  }
});

Deno.test("scheduler (redis): the broker's Redis keeps the records; instances of every region fire a slot once", () =>
  withNamespace("regions", async (namespace) => {
    // Given two regions, each with its own client and broker on the same Redis
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { queue });
    const regions = [0, 1].map(() => {
      const broker = new UpstashBroker({ redis: restClient(), namespace, logger: silentLogger });
      const scheduler = new Scheduler({ broker })
        .schedule("report", "*/5 * * * *", task.message(), { overlap: "skip" });
      return { broker, scheduler };
    });
    // When both tick the same slot, several times each
    const reports = await Promise.all(
      regions.flatMap(({ scheduler }) => [0, 300, 700].map((ms) => scheduler.tick(T0 + ms))),
    );
    // Then one message was sent, and the record sits under the broker's namespace
    assert.equal(reports.flatMap((r) => r.fired).length, 1);
    assert.equal((await regions[0].broker.stats(queue)).ready, 1);
    const record = await redis.get<string>(`${namespace}:{schedules}:slot:report`);
    assert.match(String(record), new RegExp(`^${T0}\\|[0-9a-f-]{36}\\|[0-9a-f-]{36}$`));
    assert.ok((await redis.pttl(`${namespace}:{schedules}:slot:report`)) > 6 * 86_400_000);
  }));

Deno.test("scheduler (redis): a broker on Redis that is not an UpstashBroker keeps the records in its Redis too, so regions fire a slot once", () =>
  withNamespace("wrapped", async (namespace) => {
    // A wrapper (tracing, say) keeping a client and a namespace, as Results reads them.
    class Wrapped extends MemoryBroker {
      readonly redis = restClient();
      readonly namespace = namespace;
    }
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { queue });
    const schedulers = [0, 1].map(() =>
      new Scheduler({ broker: new Wrapped({ logger: silentLogger }) })
        .schedule("report", "*/5 * * * *", task.message(), { overlap: "skip" })
    );
    const reports = await Promise.all(schedulers.map((scheduler) => scheduler.tick(T0)));
    // One region fired; an in-memory store per broker would have fired in both.
    assert.equal(reports.flatMap((r) => r.fired).length, 1);
    assert.match(String(await redis.get(`${namespace}:{schedules}:slot:report`)), /^\d+\|/);
  }));

Deno.test("scheduler (redis): requests whose responses are lost, and retried, still fire each slot once", async () => {
  let n = 0;
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token: "drop",
    port: 0,
    log: () => {},
    // Every other response is lost: the client retries, so each script runs twice.
    faults: { dropRate: 0.5, random: () => (n++ % 2 === 0 ? 0 : 1) },
  });
  const client = () =>
    new Redis({
      url: server.url,
      token: "drop",
      enableTelemetry: false,
      retry: { backoff: () => 1 },
    });
  try {
    await withNamespace("drop", async (namespace) => {
      const broker = new MemoryBroker();
      const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
      const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
      const schedulers = [0, 1, 2].map(() =>
        new Scheduler({ broker, store: new UpstashScheduleStore({ redis: client(), namespace }) })
          .schedule("minutely", "* * * * *", task.message())
          .schedule("catching-up", "* * * * *", task.message(), { misfire: { catchUp: 2 } })
      );
      const fired: string[] = [];
      for (const t of [T0, T0 + 1_000, T0 + MINUTE, T0 + 4 * MINUTE, T0 + 4 * MINUTE + 10]) {
        const reports = await Promise.all(schedulers.map((s) => s.tick(t)));
        for (const f of reports.flatMap((r) => r.fired)) {
          fired.push(`${f.schedule}@${(f.slot - T0) / MINUTE}`);
        }
      }
      assert.ok(n > 10, "responses were dropped");
      assert.deepEqual(fired.sort(), [
        "catching-up@0",
        "catching-up@1",
        "catching-up@2",
        "catching-up@3",
        "catching-up@4",
        "minutely@0",
        "minutely@1",
        "minutely@4",
      ]);
      assert.equal((await broker.stats(queue)).ready, fired.length);
    });
  } finally {
    await server.close();
  }
});

/** A seeded source of randomness (mulberry32): the same faults on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("scheduler (redis): given a record write whose response is lost while another instance records the next slot, then its retry still fires the slot", () =>
  withNamespace("lost-write", async (namespace) => {
    const broker = new MemoryBroker();
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    let meanwhile: (() => Promise<unknown>) | undefined;
    let lost = 0;
    // Loses the answer of the armed write, lets `meanwhile` run, then sends the very same
    // request again: what @upstash/redis does when a response is lost.
    const losing = {
      evalsha: async (...args: Parameters<Redis["evalsha"]>) => {
        const answer = await redis.evalsha(...args);
        const step = meanwhile;
        if (!step || !args[1].some((key) => key.includes(":call:"))) return answer;
        meanwhile = undefined;
        lost++;
        await step();
        return await redis.evalsha(...args);
      },
      eval: (...args: Parameters<Redis["eval"]>) => redis.eval(...args),
    } as unknown as Redis;
    const make = (client: Redis) =>
      new Scheduler({ broker, store: new UpstashScheduleStore({ redis: client, namespace }) })
        .schedule("minutely", "* * * * *", task.message());
    const a = make(losing);
    const b = make(redis);
    // Given A fired slot 0 and B saw it
    assert.equal((await a.tick(T0)).fired.length, 1);
    assert.equal((await b.tick(T0 + 10)).fired.length, 0);
    // When A's write of slot 1 lands but its answer is lost, and B fires slot 2 before
    // A's client sends the write again
    let fromB: SchedulerTickReport | undefined;
    meanwhile = async () => fromB = await b.tick(T0 + 2 * MINUTE);
    const fromA = await a.tick(T0 + MINUTE);
    // Then A fires slot 1 (its retry recognised its own write), B slot 2: none lost
    assert.equal(lost, 1);
    assert.deepEqual(fromA.fired.map((f) => f.slot), [T0 + MINUTE]);
    assert.deepEqual(fromA.skipped, []);
    assert.deepEqual(fromB?.fired.map((f) => f.slot), [T0 + 2 * MINUTE]);
    assert.equal((await broker.stats(queue)).ready, 3);
  }));

Deno.test("scheduler (redis): given a swap whose every retry fails after it wrote, then the next tick makes the same call again and fires the slot", () =>
  withNamespace("unsettled", async (namespace) => {
    const broker = new MemoryBroker();
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    let failNext = false;
    const calls: string[] = [];
    const failing = {
      evalsha: async (...args: Parameters<Redis["evalsha"]>) => {
        const call = args[1].find((key) => key.includes(":call:"));
        if (call) calls.push(call);
        const answer = await redis.evalsha(...args);
        if (failNext && call) {
          failNext = false;
          throw new Error("fetch failed");
        }
        return answer;
      },
      eval: (...args: Parameters<Redis["eval"]>) => redis.eval(...args),
    } as unknown as Redis;
    const store = new UpstashScheduleStore({ redis: failing, namespace });
    const a = new Scheduler({ broker, store }).schedule("minutely", "* * * * *", task.message());
    const b = new Scheduler({ broker, store: new UpstashScheduleStore({ redis, namespace }) })
      .schedule("minutely", "* * * * *", task.message());
    await a.tick(T0);
    await b.tick(T0 + 10);
    // Given A's write of slot 1 landed but A never heard back (every retry failed)
    failNext = true;
    await assert.rejects(a.tick(T0 + MINUTE), /Cannot swap schedule records/);
    const failed = calls.at(-1);
    // When B records slot 2, and A ticks again
    assert.deepEqual((await b.tick(T0 + 2 * MINUTE)).fired.map((f) => f.slot), [T0 + 2 * MINUTE]);
    const report = await a.tick(T0 + 2 * MINUTE + 500);
    // Then A made the failed call again under its id and fired slot 1
    assert.equal(calls.filter((call) => call === failed).length, 2);
    assert.deepEqual(report.fired.map((f) => f.slot), [T0 + MINUTE]);
    assert.equal((await broker.stats(queue)).ready, 3);
  }));

/** The queue's messages, counted by the slot their id carries. */
async function slotsInQueue(namespace: string, queue: string): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const id of await redis.hkeys(`${namespace}:{${queue}}:msg`)) {
    const slot = slotOfId(id)!;
    counts.set(slot, (counts.get(slot) ?? 0) + 1);
  }
  return counts;
}

/** `broker` with an `enqueueEncoded` (the scheduler's send) that `fault` may replace for one call. */
function faultyEnqueue(broker: UpstashBroker) {
  type Encoded = Parameters<UpstashBroker["enqueueEncoded"]>[0];
  type Options = Parameters<UpstashBroker["enqueueEncoded"]>[1];
  const control: {
    fault?: (messages: readonly Message[], send: () => Promise<Message[]>) => Promise<Message[]>;
  } = {};
  const proxy = new Proxy(broker, {
    get(target, property) {
      if (property === "enqueueEncoded") {
        return (encoded: Encoded, options: Options) => {
          const fault = control.fault;
          control.fault = undefined;
          const send = () => target.enqueueEncoded(encoded, options);
          return fault ? fault(encoded.messages, send) : send();
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { broker: proxy, control };
}

Deno.test("scheduler (redis): given records on a client of their own (messages sent after the swap) and a send that fails while another instance records the next slot, then the next tick sends the same message and no slot is lost", () =>
  withNamespace("send-fails", async (namespace) => {
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { queue });
    const real = new UpstashBroker({ redis, namespace, logger: silentLogger });
    const { broker, control } = faultyEnqueue(real);
    // A store on another client than the broker's cannot write its queues: the scheduler
    // sends the messages after the swap, as for any broker such a store cannot write.
    const make = (b: UpstashBroker) =>
      new Scheduler({
        broker: b,
        store: new UpstashScheduleStore({ redis: restClient(), namespace }),
        logger: silentLogger,
      }).schedule("minutely", "* * * * *", task.message());
    const a = make(broker);
    const b = make(real);
    await a.tick(T0);
    await b.tick(T0 + 10);
    // Given A wins slot 1, and its send fails (nothing stored) after B has recorded slot 2
    let kept: string[] = [];
    control.fault = async (messages) => {
      kept = messages.map((m) => m.id);
      assert.deepEqual((await b.tick(T0 + 2 * MINUTE)).fired.map((f) => f.slot), [
        T0 + 2 * MINUTE,
      ]);
      throw new Error("Redis is down");
    };
    await assert.rejects(a.tick(T0 + MINUTE), /Redis is down/);
    // When A ticks again
    const report = await a.tick(T0 + 2 * MINUTE + 500);
    // Then it sends slot 1's message, same id, and reports it: each slot once in Redis
    assert.deepEqual(report.fired, [{ schedule: "minutely", slot: T0 + MINUTE, id: kept[0] }]);
    assert.equal(slotOfId(kept[0]), T0 + MINUTE);
    assert.deepEqual(
      [...(await slotsInQueue(namespace, queue))].sort(),
      [[T0, 1], [T0 + MINUTE, 1], [T0 + 2 * MINUTE, 1]],
    );
  }));

Deno.test("scheduler (redis): given records on a client of their own and a send that lands but whose answer is lost, then the next tick sends it again and it is stored once", () =>
  withNamespace("send-lost", async (namespace) => {
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { queue });
    const real = new UpstashBroker({ redis, namespace, logger: silentLogger });
    const { broker, control } = faultyEnqueue(real);
    const store = new UpstashScheduleStore({ redis: restClient(), namespace });
    const scheduler = new Scheduler({ broker, store, logger: silentLogger })
      .schedule("minutely", "* * * * *", task.message());
    await scheduler.tick(T0);
    // Given slot 1's message is stored, but the send answers an error
    control.fault = async (_messages, send) => {
      await send();
      throw new Error("fetch failed");
    };
    await assert.rejects(scheduler.tick(T0 + MINUTE), /fetch failed/);
    // When the scheduler ticks again within the slot's grace
    const report = await scheduler.tick(T0 + MINUTE + 500);
    // Then slot 1 is reported fired once, and stored once (not fired again under a new id)
    assert.deepEqual(report.fired.map((f) => f.slot), [T0 + MINUTE]);
    assert.deepEqual(
      [...(await slotsInQueue(namespace, queue))].sort(),
      [[T0, 1], [T0 + MINUTE, 1]],
    );
    assert.equal((await real.stats(queue)).ready, 2);
  }));

Deno.test("scheduler (redis): given records on a client of their own and a send that lands but whose answer is lost, when its message runs and is acked before the next tick, then the next tick's send stores nothing again", () =>
  withNamespace("send-lost-acked", async (namespace) => {
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    const runs: string[] = [];
    const plain = new UpstashBroker({ redis, namespace, logger: silentLogger });
    const task = actor(`task-${crypto.randomUUID()}`, function (this: MessageContext) {
      runs.push(this.message.id);
    }, { queue, broker: plain });
    // Given the send's script call runs, a worker runs and acks its message, then the send's
    // answer is lost for good (the scheduler sees an error)
    const { client, lost } = losing(redis, WRITE, "broker sees an error", () => plain.join(queue));
    const broker = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
    const store = new UpstashScheduleStore({ redis: restClient(), namespace });
    const scheduler = new Scheduler({ broker, store, logger: silentLogger })
      .schedule("minutely", "* * * * *", task.message());
    await assert.rejects(scheduler.tick(T0), /fetch failed/);
    assert.equal(lost(), 1);
    assert.equal(runs.length, 1);
    // When the scheduler ticks again, and sends the slot's message again
    const report = await scheduler.tick(T0 + 500);
    // Then the slot is reported fired once, and nothing is stored again: it ran once
    assert.deepEqual(report.fired, [{ schedule: "minutely", slot: T0, id: runs[0] }]);
    assert.deepEqual(await plain.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    await plain.join(queue);
    assert.equal(runs.length, 1);
  }));

Deno.test("scheduler (redis): given a tick that sends a slot and then fails, then the next tick reports that slot", () =>
  withNamespace("unreported", async (namespace) => {
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { queue });
    const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
    const inner = new UpstashScheduleStore({ redis, namespace });
    // Each planned fault applies to one swap call, in order: "lost" runs it and loses the
    // answer, "fail" fails before it reaches Redis.
    const faults: ("ok" | "lost" | "fail")[] = [];
    const store: ScheduleStore = {
      swap: async (swaps, options) => {
        const fault = faults.shift() ?? "ok";
        if (fault === "fail") throw new Error("Cannot swap schedule records: 503");
        const answer = await inner.swap(swaps, options);
        if (fault === "lost") throw new Error("Cannot swap schedule records: fetch failed");
        return answer;
      },
    };
    const scheduler = new Scheduler({ broker, store, logger: silentLogger })
      .schedule("minutely", "* * * * *", task.message());
    await scheduler.tick(T0);
    // Given the write of slot 1 landed, its answer lost
    faults.push("lost");
    await assert.rejects(scheduler.tick(T0 + MINUTE), /fetch failed/);
    // When the next tick makes that call again (slot 1 won, and sent), then fails to write
    // slot 2
    faults.push("ok", "fail");
    await assert.rejects(scheduler.tick(T0 + 2 * MINUTE), /503/);
    assert.equal((await broker.stats(queue)).ready, 2);
    // Then the tick after reports slot 1 with slot 2: every slot in Redis is reported
    const report = await scheduler.tick(T0 + 2 * MINUTE + 500);
    assert.deepEqual(report.fired.map((f) => f.slot), [T0 + MINUTE, T0 + 2 * MINUTE]);
    assert.deepEqual(report.fired.map((f) => slotOfId(f.id)), [T0 + MINUTE, T0 + 2 * MINUTE]);
    assert.deepEqual(
      [...(await slotsInQueue(namespace, queue))].sort(),
      [[T0, 1], [T0 + MINUTE, 1], [T0 + 2 * MINUTE, 1]],
    );
  }));

Deno.test("scheduler (redis): given three tickers over a server that loses 20% of responses, then every */30 slot fires exactly once", async () => {
  let dropped = 0;
  const random = seeded(11);
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token: "drop20",
    port: 0,
    log: () => {},
    faults: {
      dropRate: 0.2,
      random: () => {
        const r = random();
        if (r < 0.2) dropped++;
        return r;
      },
    },
  });
  try {
    await withNamespace("three", async (namespace) => {
      const broker = new MemoryBroker();
      const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
      const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
      const SLOTS = 45;
      const fired = new Map<number, number>();
      const skipped: string[] = [];
      // Each ticker runs its own loop, one tick a second of its own clock: while one waits
      // for a retry, the others run ahead and record later slots.
      await Promise.all([0, 1, 2].map(async (n) => {
        const client = new Redis({
          url: server.url,
          token: "drop20",
          enableTelemetry: false,
          retry: { retries: 10, backoff: () => 3 },
        });
        const scheduler = new Scheduler({
          broker,
          store: new UpstashScheduleStore({ redis: client, namespace }),
        }).schedule("half-minutely", "*/30 * * * * *", task.message());
        for (let s = 0; s < SLOTS * 30; s++) {
          const report = await scheduler.tick(T0 + s * 1_000 + n * 100);
          for (const f of report.fired) fired.set(f.slot, (fired.get(f.slot) ?? 0) + 1);
          skipped.push(...report.skipped.map((k) => `${k.slot}:${k.reason}`));
        }
      }));
      assert.ok(dropped > 10, `responses were lost (${dropped})`);
      assert.deepEqual(skipped, []);
      const slots = Array.from({ length: SLOTS }, (_, i) => T0 + i * 30_000);
      assert.deepEqual([...fired.keys()].sort((x, y) => x - y), slots);
      assert.deepEqual([...new Set(fired.values())], [1]);
      assert.equal((await broker.stats(queue)).ready, SLOTS);
    });
  } finally {
    await server.close();
  }
});

Deno.test("scheduler (redis): given a slot whose swap fails on one instance, then an instance with nothing in memory finds its message in the queue once, and it runs once", async () => {
  // The edge case: each tick runs in another isolate (a new Scheduler and broker).
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token: "isolates",
    port: 0,
    log: () => {},
    faults: { dropRate: 0 }, // served on node:http, which can drop responses
  });
  const client = () =>
    new Redis({
      url: server.url,
      token: "isolates",
      enableTelemetry: false,
      retry: { retries: 2, backoff: () => 1 },
    });
  try {
    await withNamespace("isolates", async (namespace) => {
      const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
      const runs: number[] = [];
      const task = actor(`task-${crypto.randomUUID()}`, function (this: MessageContext) {
        runs.push(slotOfId(this.message.id)!);
      }, { queue });
      const isolate = () => {
        const broker = new UpstashBroker({ redis: client(), namespace, logger: silentLogger });
        const scheduler = new Scheduler({ broker, logger: silentLogger })
          .schedule("minutely", "* * * * *", task.message());
        return { broker, scheduler };
      };
      const first = isolate();
      await first.scheduler.tick(T0);
      // Given slot 1's swap ran but every answer (first try and retries) was lost
      server.faults = { dropRate: 1 };
      await assert.rejects(first.scheduler.tick(T0 + MINUTE), /Cannot swap schedule records/);
      server.faults = {};
      // And slot 2's swap answered 503 every time, before it ran
      const second = isolate();
      await second.scheduler.tick(T0 + MINUTE + 100); // reads: slot 1 is recorded
      server.faults = { errorRate: 1 };
      await assert.rejects(second.scheduler.tick(T0 + 2 * MINUTE), /Cannot swap schedule records/);
      server.faults = {};
      // When the next ticks run on other instances, with nothing in memory
      const third = isolate();
      const late = await third.scheduler.tick(T0 + 2 * MINUTE + 500);
      assert.deepEqual((await isolate().scheduler.tick(T0 + 2 * MINUTE + 600)).fired, []);
      // Then slot 1's message was stored with its record (nobody sends it again), slot 2
      // fires on the third instance, and the queue holds each slot's message once
      assert.deepEqual(late.fired.map((f) => f.slot), [T0 + 2 * MINUTE]);
      assert.deepEqual(
        [...(await slotsInQueue(namespace, queue))].sort(),
        [[T0, 1], [T0 + MINUTE, 1], [T0 + 2 * MINUTE, 1]],
      );
      // And the instances that failed, ticking again, make their calls again: neither
      // stores a message twice (the first reports slot 1; the second lost slot 2 to the third)
      const again = await first.scheduler.tick(T0 + 2 * MINUTE + 700);
      assert.deepEqual(again.fired.map((f) => f.slot), [T0 + MINUTE]);
      assert.deepEqual((await second.scheduler.tick(T0 + 2 * MINUTE + 800)).fired, []);
      assert.equal((await third.broker.stats(queue)).ready, 3);
      await third.broker.join(queue);
      assert.deepEqual(runs.sort(), [T0, T0 + MINUTE, T0 + 2 * MINUTE]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("scheduler (redis): given a swap whose message ran and was acked before the retry of its request, then the retry stores nothing again", () =>
  withNamespace("acked", async (namespace) => {
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    let runs = 0;
    const task = actor(`task-${crypto.randomUUID()}`, () => {
      runs++;
    }, { queue });
    const worker = new UpstashBroker({ redis, namespace, logger: silentLogger });
    let meanwhile: (() => Promise<unknown>) | undefined;
    // Runs the armed call, lets `meanwhile` run, then sends the very same request again.
    const losing = {
      evalsha: async (...args: Parameters<Redis["evalsha"]>) => {
        const answer = await redis.evalsha(...args);
        const step = meanwhile;
        if (!step || !args[1].some((key) => key.includes(":call:"))) return answer;
        meanwhile = undefined;
        await step();
        return await redis.evalsha(...args);
      },
      eval: (...args: Parameters<Redis["eval"]>) => redis.eval(...args),
    } as unknown as Redis;
    const broker = new UpstashBroker({ redis: losing, namespace, logger: silentLogger });
    const scheduler = new Scheduler({ broker, logger: silentLogger })
      .schedule("minutely", "* * * * *", task.message());
    // Given the swap of slot 0 stored its message, which a worker ran and acked
    meanwhile = () => worker.join(queue);
    const report = await scheduler.tick(T0);
    // When the retry of that request reached Redis: then it answered "written", stored
    // nothing, and the message ran once
    assert.equal(meanwhile, undefined);
    assert.deepEqual(report.fired.map((f) => f.slot), [T0]);
    assert.equal(runs, 1);
    assert.deepEqual(await redis.hkeys(`${namespace}:{${queue}}:msg`), []);
    assert.equal((await worker.stats(queue)).ready, 0);
  }));

Deno.test("scheduler (redis): a swap run twice (a retried request) answers 'written' both times", () =>
  withNamespace("twice", async (namespace) => {
    const answers: unknown[][] = [];
    const twice = {
      evalsha: async (...args: Parameters<Redis["evalsha"]>) => {
        const pair = [await redis.evalsha(...args), await redis.evalsha(...args)];
        answers.push(pair);
        return pair[1];
      },
      eval: (...args: Parameters<Redis["eval"]>) => redis.eval(...args),
    } as unknown as Redis;
    const store = new UpstashScheduleStore({ redis: twice, namespace });
    const next = { slot: T0, token: "t1", id: "m1" };
    const swaps = [
      { name: "a", expect: "", next, ttl: 60_000 },
      { name: "b", expect: "", next: null, ttl: 60_000 },
      { name: "c", expect: "", ttl: 60_000 },
    ];
    assert.deepEqual(await store.swap(swaps), [
      { written: true },
      { written: true },
      { written: false, current: null },
    ]);
    assert.deepEqual(answers, [[[1, 1, ""], [1, 1, ""]]]);
    // A later tick that saw the record moves it on; one that did not, loses
    const moved = { slot: T0 + MINUTE, token: "t2", id: "m2" };
    assert.deepEqual(
      await store.swap([
        { name: "a", expect: "t1", next: moved, ttl: 60_000 },
        { name: "a", expect: "", next: { ...moved, token: "t3" }, ttl: 60_000 },
      ]),
      [{ written: true }, { written: false, current: moved }],
    );
  }));

Deno.test("scheduler (redis): 'overlap: skip' reads message states on an UpstashBroker", () =>
  withNamespace("overlap", async (namespace) => {
    let time = T0;
    const broker = new UpstashBroker({
      redis,
      namespace,
      logger: silentLogger,
      now: () => time,
      middleware: [],
    });
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    const scheduler = new Scheduler({ broker })
      .schedule("exclusive", "* * * * *", task.message(), { overlap: "skip" });
    const tickAt = async (minute: number) => {
      time = T0 + minute * MINUTE;
      const report = await scheduler.tick(time);
      return report.fired.length > 0 ? "fired" : report.skipped.map((s) => s.reason).join();
    };
    assert.equal(await tickAt(0), "fired");
    assert.equal(await tickAt(1), "overlap"); // ready
    let [claim] = await broker.claim(queue);
    assert.equal(await tickAt(2), "overlap"); // leased
    await broker.nack(queue, claim, { kind: "retry", at: time + 10 * MINUTE });
    assert.equal(await tickAt(3), "overlap"); // delayed, retrying
    time = T0 + 20 * MINUTE;
    [claim] = await broker.claim(queue);
    await broker.nack(queue, claim, { kind: "dead", reason: "test" });
    assert.equal(await tickAt(21), "fired"); // dead counts as finished
    [claim] = await broker.claim(queue);
    await broker.ack(queue, [claim]);
    assert.equal(await tickAt(22), "fired"); // done
  }));

Deno.test("scheduler: message states, read-only on Redis and put back in place in memory", () =>
  withNamespace("states", async (namespace) => {
    let time = T0;
    const queue = `q-${crypto.randomUUID().slice(0, 8)}`;
    for (
      const broker of [
        new MemoryBroker({ now: () => time }),
        new UpstashBroker({ redis, namespace, now: () => time, logger: silentLogger }),
      ]
    ) {
      const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
      const [first, second, leased, dead, done] = await broker.enqueue(
        Array.from({ length: 5 }, () => task.message()),
      );
      const [delayed] = await broker.enqueue([task.messageWithOptions({ delay: 5_000 })]);
      const claims = await broker.claimById(queue, [leased.id, dead.id, done.id]);
      const byId = new Map(claims.claimed.map((c) => [c.id, c]));
      await broker.nack(queue, byId.get(dead.id)!, { kind: "dead", reason: "test" });
      await broker.ack(queue, [byId.get(done.id)!]);
      const ids = [second.id, delayed.id, leased.id, dead.id, done.id, "never-sent"];
      assert.deepEqual(
        await messageStates(broker, queue, ids),
        ["ready", "delayed", "leased", "dead", "missing", "missing"],
        broker.constructor.name,
      );
      // The ready ones keep their place: the first sent is still claimed first
      assert.deepEqual((await broker.claim(queue, { count: 2 })).map((c) => c.id), [
        first.id,
        second.id,
      ]);
      time += MINUTE;
    }
  }));

Deno.test("scheduler (redis): an unreachable Redis fails the tick with an error that quotes no secret", async () => {
  const task = actor(`task-${crypto.randomUUID()}`, (_secret: string) => {});
  const store = new UpstashScheduleStore({
    redis: new Redis({
      url: "http://127.0.0.1:1",
      token: "secret-token-never-printed",
      enableTelemetry: false,
      retry: false,
    }),
  });
  const scheduler = new Scheduler({ broker: new MemoryBroker(), store })
    .schedule("unreachable", "* * * * *", task.message("payload-never-printed"));
  const error = await scheduler.tick(T0).then(() => undefined, (e: Error) => e);
  assert.ok(error instanceof Error);
  assert.match(error.message, /^Cannot swap schedule records: /);
  assert.doesNotMatch(error.message, /secret-token|payload-never/);
});
