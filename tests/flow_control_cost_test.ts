/**
 * What debounce, throttle, cancel and flush cost in Redis commands, as Upstash bills them
 * (every command, each `redis.call` inside a script included). Measured as
 * `tests/push_cost_test.ts` does: an in-process local server on a database of this file's
 * own (`/8`), and a `MONITOR` connection counting that database's commands between two
 * markers. Scripts run once before measuring, so that no measurement pays for a NOSCRIPT.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { FLOW_CONTROL_SCRIPTS } from "../src/brokers/upstash/scripts.ts";
import { group } from "../src/composition/group.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, testPrefix, testRedisUrl } from "./_env.ts";
import { CommandCounter, total } from "./_monitor.ts";

/** The database index this file measures on; no other test uses it. */
const DB = 8;
const TOKEN = "flow-control-cost-token";

/**
 * Redis commands per operation, the EVALSHA included. A change that moves one changes the
 * bill: update `docs/costs.md` and the README with it.
 */
export const FLOW_CONTROL_COST = {
  "send with debounce (new message)": 6,
  "send with debounce (replaces the waiting one)": 7,
  "send with throttle (stored)": 5,
  "send with throttle (dropped)": 5,
  "cancel 1 ready message": 9,
  "cancel 10 ready messages": 9,
  "cancel 1 unknown id": 5,
  "cancel 1 running message": 11,
  "cancel 1 group member (two calls, the group fails)": 21,
  "flush an empty queue": 7,
  "flush 10 ready, 10 delayed, 10 dead": 14,
} as const;

type Operation = keyof typeof FLOW_CONTROL_COST;

Deno.test("cost: debounce, throttle, cancel and flush cost their documented commands", async () => {
  const url = new URL(testRedisUrl());
  url.pathname = `/${DB}`;
  const server = await startLocalServer({ redis: url, token: TOKEN, port: 0, log: () => {} });
  const redis = new Redis({ url: server.url, token: TOKEN, enableTelemetry: false });
  const counter = await CommandCounter.open(testRedisUrl(), DB);
  const namespace = testPrefix("flow-cost").slice(0, -1);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const queue = "cost";
  const task = actor(`task-${crypto.randomUUID()}`, (_n?: number) => {}, { broker, queue });
  const failed = actor(`failed-${crypto.randomUUID()}`, (_d?: unknown, _e?: unknown) => {}, {
    broker,
    queue,
  });
  const measured = new Map<Operation, Record<string, number>>();
  const measure = async <T>(operation: Operation, fn: () => Promise<T>): Promise<T> => {
    let result!: T;
    measured.set(operation, await counter.count(async () => void (result = await fn())));
    return result;
  };
  try {
    for (const script of FLOW_CONTROL_SCRIPTS) await redis.scriptLoad(script.source);
    await task.sendWithOptions({ throttle: { key: "warm", period: 1 } }); // loads WRITE_DEDUP

    const debounce = { key: "user:1", delay: 60_000 };
    const first = await measure(
      "send with debounce (new message)",
      () => task.sendWithOptions({ args: [1], debounce }),
    );
    const again = await measure(
      "send with debounce (replaces the waiting one)",
      () => task.sendWithOptions({ args: [2], debounce }),
    );
    assert.deepEqual([again.id, again.debounced], [first.id, true]);
    const throttle = { key: "report", period: 60_000 };
    await measure("send with throttle (stored)", () => task.sendWithOptions({ throttle }));
    const dropped = await measure(
      "send with throttle (dropped)",
      () => task.sendWithOptions({ throttle }),
    );
    assert.equal(dropped.throttled, true);
    await broker.flush(queue);

    const ten = await broker.enqueue(Array.from({ length: 11 }, (_, i) => task.message(i)));
    assert.deepEqual(
      await measure("cancel 1 ready message", () => broker.cancel(queue, [ten[0].id])),
      ["cancelled"],
    );
    const ids = ten.slice(1).map((m) => m.id);
    await measure("cancel 10 ready messages", () => broker.cancel(queue, ids));
    await measure("cancel 1 unknown id", () => broker.cancel(queue, ["unknown"]));
    await task.send();
    const [claim] = await broker.claim(queue);
    assert.deepEqual(
      await measure("cancel 1 running message", () => broker.cancel(queue, [claim.id])),
      ["running"],
    );
    const members = [task.message(1), task.message(2)];
    await group(members).addFailureCallback(failed.message()).run();
    assert.deepEqual(
      await measure(
        "cancel 1 group member (two calls, the group fails)",
        () => broker.cancel(queue, [members[0].id]),
      ),
      ["cancelled"],
    );
    await broker.flush(queue);

    await measure("flush an empty queue", () => broker.flush(queue));
    await broker.enqueue(Array.from({ length: 20 }, (_, i) => task.message(i)));
    for (const claim of await broker.claim(queue, { count: 10 })) {
      await broker.nack(queue, claim, { kind: "dead", reason: "x" });
    }
    await broker.enqueue(
      Array.from({ length: 10 }, () => task.messageWithOptions({ delay: 60_000 })),
    );
    assert.deepEqual(
      await measure("flush 10 ready, 10 delayed, 10 dead", () => broker.flush(queue)),
      { ready: 10, delayed: 10, dead: 10 },
    );

    const totals = Object.fromEntries(
      [...measured].map(([operation, counts]) => [operation, total(counts)]),
    );
    assert.deepEqual(
      totals,
      FLOW_CONTROL_COST,
      JSON.stringify(Object.fromEntries(measured), null, 1),
    );
  } finally {
    await counter.close();
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});
