/**
 * What each broker operation costs in Redis commands, as Upstash bills them: every command,
 * each `redis.call` inside a script included. Measured with `INFO commandstats` on a
 * private redis-server that nothing else uses (`SKIFF_COST_REDIS_URL`), through an
 * in-process local server, so the count includes exactly what a client's request causes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import type { Claim } from "../src/broker.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { UPSTASH_SCRIPTS } from "../src/brokers/upstash/scripts.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, costRedisUrl, testPrefix } from "./_env.ts";

/**
 * Redis commands per `UpstashBroker` operation (the EVALSHA or pipeline commands
 * included), each in one HTTP request. A change that moves one of these is a change of
 * the bill: update the table in the README with it.
 */
export const UPSTASH_BROKER_COST = {
  "send (1 message)": 3,
  "send (1 delayed message)": 3,
  "send (batch of 10)": 4,
  "claim (1 ready)": 6,
  "claim (10 ready)": 6,
  "claim (idle: nothing ready, due or expired)": 4,
  "claim (1 due delay promoted, then leased)": 8,
  "claimById (1 ready)": 6,
  "ack (1)": 3,
  "ack (batch of 10)": 4,
  "nack (retry, new body)": 4,
  "nack (dead, new body)": 6,
  "release (1)": 3,
  "extendLease": 2,
  "stats": 4,
  "deadLetters (1)": 5,
} as const;

type Operation = keyof typeof UPSTASH_BROKER_COST;

const TOKEN = "cost-test-token";

/** Sums `calls=` over every command but `info` and `config` (the measurement's own). */
function commandCount(info: string): number {
  let total = 0;
  // Subcommands count under their own names, as `cmdstat_config|resetstat`.
  for (const [, name, calls] of info.matchAll(/^cmdstat_([^:|]+)[^:]*:calls=(\d+)/gm)) {
    if (name !== "info" && name !== "config") total += Number(calls);
  }
  return total;
}

Deno.test("cost: each UpstashBroker operation issues its documented number of Redis commands", async () => {
  const server = await startLocalServer({
    redis: costRedisUrl(),
    token: TOKEN,
    port: 0,
    log: () => {},
  });
  const redis = new Redis({ url: server.url, token: TOKEN, enableTelemetry: false });
  const namespace = testPrefix("cost").slice(0, -1);
  let time = 1_700_000_000_000;
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger, now: () => time });
  const queue = "cost";
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
  const measured = new Map<Operation, number>();
  const measure = async <T>(operation: Operation, fn: () => Promise<T>): Promise<T> => {
    await redis.exec(["CONFIG", "RESETSTAT"]);
    const result = await fn();
    measured.set(operation, commandCount(await redis.exec<string>(["INFO", "commandstats"])));
    return result;
  };
  const claimOne = async (): Promise<Claim> => (await broker.claim(queue))[0];

  try {
    // Loaded ahead, so that no measurement pays for a NOSCRIPT and its EVAL.
    for (const script of UPSTASH_SCRIPTS) await redis.scriptLoad(script.source);

    await measure("send (1 message)", () => task.send());
    await measure("send (1 delayed message)", () => task.sendWithOptions({ delay: 1_000 }));
    await measure(
      "send (batch of 10)",
      () => broker.enqueue(Array.from({ length: 10 }, () => task.message())),
    );
    const first = await measure("claim (1 ready)", claimOne);
    const ten = await measure("claim (10 ready)", () => broker.claim(queue, { count: 10 }));
    assert.equal(ten.length, 10);
    await measure("ack (1)", () => broker.ack(queue, [first]));
    await measure("ack (batch of 10)", () => broker.ack(queue, ten));
    await measure("claim (idle: nothing ready, due or expired)", () => broker.claim(queue));
    time += 1_000;
    const due = await measure("claim (1 due delay promoted, then leased)", claimOne);
    time += 10_000; // a heartbeat comes a third of the lease later
    await measure("extendLease", () => broker.extendLease(queue, due));
    await measure(
      "nack (retry, new body)",
      () => broker.nack(queue, due, { kind: "retry", at: time + 5_000, body: due.body }),
    );

    const [sent] = await broker.enqueue([task.message(), task.message(), task.message()]);
    const byId = await measure("claimById (1 ready)", () => broker.claimById(queue, [sent.id]));
    await measure("release (1)", () => broker.release(queue, byId.claimed));
    const doomed = await claimOne();
    await measure(
      "nack (dead, new body)",
      () => broker.nack(queue, doomed, { kind: "dead", reason: "test", body: doomed.body }),
    );
    await measure("stats", () => broker.stats(queue));
    await measure("deadLetters (1)", () => broker.deadLetters(queue));

    const rows = Object.keys(UPSTASH_BROKER_COST).map((op) =>
      `| ${op} | ${measured.get(op as Operation)} |`
    );
    console.log(["", "| operation | Redis commands |", "| --- | ---: |", ...rows].join("\n"));
    for (const [operation, budget] of Object.entries(UPSTASH_BROKER_COST)) {
      assert.equal(measured.get(operation as Operation), budget, operation);
    }
  } finally {
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});
