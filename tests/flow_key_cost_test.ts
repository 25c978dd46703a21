/**
 * What per-key flow control (`keyParallelism`) costs in Redis commands, as Upstash bills
 * them: claims, claims by id, acks and a pushed message on a queue with `keyParallelism`,
 * with and without a flow key, and when a key is full (its message parked, then moved back
 * by the ack that frees the slot). Measured as `tests/flow_cost_test.ts` does: an
 * in-process local server on a database of its own (`/4`), counted by `MONITOR`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { deliver } from "../src/push/deliver.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, testPrefix, testRedisUrl } from "./_env.ts";
import { assertCosts, CommandCounter } from "./_monitor.ts";

/** The database index this file measures on; no other test uses it. */
const DB = 4;
const TOKEN = "flow-key-cost-token";

/**
 * Redis commands per operation on a queue with `keyParallelism: 1`, the EVALSHA included.
 * A change that moves one of these changes the bill: update docs/costs.md and
 * docs/flow_control.md with it.
 */
export const FLOW_KEY_COST = {
  "claim 1 without a flow key": 6,
  "claim 1 with a flow key": 8,
  "claim, its key full (1 parked)": 9,
  "ack 1 with a flow key, none waiting": 7,
  "ack 1 with a flow key, 1 parked moved back": 9,
  "claim 1 by id with a flow key": 8,
  "claim 1 by id, busy (its key full)": 5,
  "deliver 1 pushed id with a flow key (+ a claim that finds none)": 19,
} as const;

type Operation = keyof typeof FLOW_KEY_COST;

Deno.test("cost: per-key flow control costs its documented commands", async () => {
  const url = new URL(testRedisUrl());
  url.pathname = `/${DB}`;
  const server = await startLocalServer({ redis: url, token: TOKEN, port: 0, log: () => {} });
  const redis = new Redis({ url: server.url, token: TOKEN, enableTelemetry: false });
  const counter = await CommandCounter.open(testRedisUrl(), DB);
  const namespace = testPrefix("flow-key-cost").slice(0, -1);
  const keyed = { keyParallelism: 1 };
  const broker = new UpstashBroker({
    redis,
    namespace,
    logger: silentLogger,
    queues: { keyed, "keyed-id": keyed, "keyed-push": keyed, warm: keyed },
  });
  const measured = new Map<Operation, Record<string, number>>();
  const measure = async <T>(operation: Operation, fn: () => Promise<T>): Promise<T> => {
    let result!: T;
    measured.set(operation, await counter.count(async () => void (result = await fn())));
    return result;
  };
  const task = (queue: string) => actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });

  try {
    // Warm up: every script runs once (EVAL after NOSCRIPT if Redis had never seen it).
    await task("warm").sendWithOptions({ flowKey: "w" });
    await broker.ack("warm", await broker.claim("warm"));
    await broker.claimById("warm", ["x"]);

    const keyedTask = task("keyed");
    await keyedTask.send();
    const [plain] = await measure("claim 1 without a flow key", () => broker.claim("keyed"));
    await broker.ack("keyed", [plain]);
    const [first, second] = await broker.enqueue([
      keyedTask.messageWithOptions({ flowKey: "tenant-a" }),
      keyedTask.messageWithOptions({ flowKey: "tenant-a" }),
    ]);
    const [claim] = await measure("claim 1 with a flow key", () => broker.claim("keyed"));
    assert.equal(claim.id, first.id);
    assert.deepEqual(
      await measure("claim, its key full (1 parked)", () => broker.claim("keyed")),
      [],
    );
    assert.deepEqual(
      await measure(
        "ack 1 with a flow key, 1 parked moved back",
        () => broker.ack("keyed", [claim]),
      ),
      [true],
    );
    const [next] = await broker.claim("keyed");
    assert.equal(next.id, second.id);
    assert.deepEqual(
      await measure("ack 1 with a flow key, none waiting", () => broker.ack("keyed", [next])),
      [true],
    );

    const idTask = task("keyed-id");
    const [a1, a2] = await broker.enqueue([
      idTask.messageWithOptions({ flowKey: "tenant-a" }),
      idTask.messageWithOptions({ flowKey: "tenant-a" }),
    ]);
    const byId = await measure(
      "claim 1 by id with a flow key",
      () => broker.claimById("keyed-id", [a1.id]),
    );
    assert.equal(byId.claimed.length, 1);
    const busy = await measure(
      "claim 1 by id, busy (its key full)",
      () => broker.claimById("keyed-id", [a2.id]),
    );
    assert.deepEqual(busy.unclaimed, [{ id: a2.id, state: "busy" }]);

    const pushed = await task("keyed-push").sendWithOptions({ flowKey: "tenant-a" });
    const results = await measure(
      "deliver 1 pushed id with a flow key (+ a claim that finds none)",
      () => deliver(broker, "keyed-push", [pushed.id]),
    );
    assert.deepEqual(results, [{ id: pushed.id, status: "acked" }]);

    assertCosts("operation", FLOW_KEY_COST, measured);
  } finally {
    await counter.close();
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});
