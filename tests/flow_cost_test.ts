/**
 * What flow control costs in Redis commands, as Upstash bills them: a claim and a claim by
 * id on a queue with `parallelism`, with a `rate`, with both, and when the limit is reached,
 * beside the same on a queue without limits. Measured as `tests/push_cost_test.ts` does: an
 * in-process local server on a database of its own (`/7`), counted by `MONITOR`.
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
const DB = 7;
const TOKEN = "flow-cost-token";

/**
 * Redis commands per claim, the EVALSHA included. A change that moves one of these changes
 * the bill: update docs/costs.md and docs/flow_control.md with it.
 */
export const FLOW_COST = {
  "claim 1, no limits": 6,
  "claim 1, parallelism": 7,
  "claim 1, rate": 8,
  "claim 1, parallelism and rate": 9,
  "claim, parallelism reached": 4,
  "claim, rate reached": 4,
  "claim 1 by id, no limits": 6,
  "claim 1 by id, parallelism": 7,
  "claim 1 by id, parallelism and rate": 9,
  "claim 1 by id, busy (parallelism reached)": 5,
  "deliver 1 pushed id, no limits": 10,
  "deliver 1 pushed id, parallelism (+ a claim that finds none)": 16,
} as const;

type Operation = keyof typeof FLOW_COST;

Deno.test("cost: a claim on a limited queue costs its documented commands", async () => {
  const url = new URL(testRedisUrl());
  url.pathname = `/${DB}`;
  const server = await startLocalServer({ redis: url, token: TOKEN, port: 0, log: () => {} });
  const redis = new Redis({ url: server.url, token: TOKEN, enableTelemetry: false });
  const counter = await CommandCounter.open(testRedisUrl(), DB);
  const namespace = testPrefix("flow-cost").slice(0, -1);
  const rate = { limit: 1_000, period: 60_000 };
  const broker = new UpstashBroker({
    redis,
    namespace,
    logger: silentLogger,
    queues: {
      parallel: { parallelism: 1 },
      rated: { rate },
      both: { parallelism: 1, rate },
      spent: { rate: { limit: 1, period: 3_600_000 } },
    },
  });
  const measured = new Map<Operation, Record<string, number>>();
  const measure = async <T>(operation: Operation, fn: () => Promise<T>): Promise<T> => {
    let result!: T;
    measured.set(operation, await counter.count(async () => void (result = await fn())));
    return result;
  };
  const send = async (queue: string) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    return await task.send();
  };

  try {
    // Warm up: every script runs once (EVAL after NOSCRIPT if Redis had never seen it).
    await send("warm");
    await broker.ack("warm", await broker.claim("warm"));
    await broker.claimById("warm", ["x"]);

    for (
      const [queue, operation] of [
        ["plain", "claim 1, no limits"],
        ["parallel", "claim 1, parallelism"],
        ["rated", "claim 1, rate"],
        ["both", "claim 1, parallelism and rate"],
      ] as const
    ) {
      await send(queue);
      const claims = await measure(operation, () => broker.claim(queue));
      assert.equal(claims.length, 1, operation);
    }
    await send("parallel");
    assert.deepEqual(
      await measure("claim, parallelism reached", () => broker.claim("parallel")),
      [],
    );
    await send("spent");
    await send("spent");
    assert.equal((await broker.claim("spent")).length, 1);
    assert.deepEqual(await measure("claim, rate reached", () => broker.claim("spent")), []);

    for (
      const [queue, operation] of [
        ["plain-id", "claim 1 by id, no limits"],
        ["parallel-id", "claim 1 by id, parallelism"],
        ["both-id", "claim 1 by id, parallelism and rate"],
      ] as const
    ) {
      const limited = new UpstashBroker({
        redis,
        namespace,
        logger: silentLogger,
        queues: { "parallel-id": { parallelism: 1 }, "both-id": { parallelism: 1, rate } },
      });
      const sent = await send(queue);
      const result = await measure(operation, () => limited.claimById(queue, [sent.id]));
      assert.equal(result.claimed.length, 1, operation);
    }
    const waiting = await send("parallel");
    const busy = await measure(
      "claim 1 by id, busy (parallelism reached)",
      () => broker.claimById("parallel", [waiting.id]),
    );
    assert.deepEqual(busy.unclaimed, [{ id: waiting.id, state: "busy" }]);

    // A push delivered: claim by id, run, ack; on a limited queue, then the next claim.
    for (
      const [queue, operation] of [
        ["plain-push", "deliver 1 pushed id, no limits"],
        ["parallel-push", "deliver 1 pushed id, parallelism (+ a claim that finds none)"],
      ] as const
    ) {
      const limited = new UpstashBroker({
        redis,
        namespace,
        logger: silentLogger,
        queues: { "parallel-push": { parallelism: 1 } },
      });
      const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker: limited, queue });
      const sent = await task.send();
      const results = await measure(operation, () => deliver(limited, queue, [sent.id]));
      assert.deepEqual(results, [{ id: sent.id, status: "acked" }], operation);
    }

    assertCosts("operation", FLOW_COST, measured);
  } finally {
    await counter.close();
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});
