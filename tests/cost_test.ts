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
import { COMPOSITION_SCRIPTS, UPSTASH_SCRIPTS } from "../src/brokers/upstash/scripts.ts";
import { group } from "../src/composition/group.ts";
import { pipeline } from "../src/composition/pipeline.ts";
import { type LocalServer, startLocalServer } from "../src/local/mod.ts";
import { processMessage } from "../src/process.ts";
import { Results } from "../src/results/middleware.ts";
import { UpstashResultBackend } from "../src/results/upstash.ts";
import { Worker } from "../src/worker.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, costRedisUrl, testPrefix } from "./_env.ts";
import { countRequests, type RequestCount } from "./_monitor.ts";

/**
 * Redis commands per `UpstashBroker` operation (the EVALSHA or pipeline commands
 * included), each in one HTTP request. A change that moves one of these is a change of
 * the bill: update the table in the README with it.
 */
export const UPSTASH_BROKER_COST = {
  "send (1 message)": 4,
  "send (1 delayed message)": 4,
  "send (batch of 10)": 5,
  "send (10 concurrent sends of one queue)": 5,
  "send with a dedup key (stored)": 5,
  "send with a dedup key (deduplicated)": 5,
  "claim (1 ready)": 6,
  "claim (10 ready)": 6,
  "claim (idle: nothing ready, due or expired)": 4,
  "claim (1 due delay promoted, then leased)": 8,
  "claimById (1 ready)": 6,
  "ack (1)": 4,
  "ack (batch of 10)": 5,
  "nack (retry, new body)": 5,
  "nack (dead, new body)": 7,
  "release (1)": 4,
  "extendLease": 2,
  "stats": 4,
  "deadLetters (1)": 5,
  "state (1 id, done or never sent)": 2,
  "state (1 id, ready)": 4,
  "state (1 id, leased)": 5,
  "state (10 ids, leased)": 5,
  "one message end to end (send, claim, ack)": 14,
  "ten messages end to end (batches of 10)": 16,
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

/** A local server in front of the cost Redis, and a client for it. */
async function costServer(): Promise<{ server: LocalServer; redis: Redis }> {
  const server = await startLocalServer({
    redis: costRedisUrl(),
    token: TOKEN,
    port: 0,
    log: () => {},
  });
  return { server, redis: new Redis({ url: server.url, token: TOKEN, enableTelemetry: false }) };
}

Deno.test("cost: each UpstashBroker operation issues its documented number of Redis commands", async () => {
  const { server, redis } = await costServer();
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
    // Concurrent sends of one queue share one WRITE, as a batch does (a queue of their own).
    const other = actor(`other-${crypto.randomUUID()}`, () => {}, { broker, queue: "cost-2" });
    const concurrent = await measure(
      "send (10 concurrent sends of one queue)",
      () => Promise.all(Array.from({ length: 10 }, () => other.send())),
    );
    assert.equal(new Set(concurrent.map((m) => m.id)).size, 10);
    assert.equal((await broker.stats("cost-2")).ready, 10);
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

    const states = (operation: Operation, ids: string[]) =>
      measure(operation, () => broker.state(queue, ids));
    assert.deepEqual(await states("state (1 id, done or never sent)", [first.id]), ["missing"]);
    const waiting = await broker.enqueue(Array.from({ length: 10 }, () => task.message()));
    assert.deepEqual(await states("state (1 id, ready)", [waiting[0].id]), ["ready"]);
    const running = await broker.claimById(queue, waiting.map((m) => m.id));
    assert.equal(running.claimed.length, 10);
    assert.deepEqual(await states("state (1 id, leased)", [waiting[0].id]), ["leased"]);
    const ids = waiting.map((m) => m.id);
    assert.deepEqual(await states("state (10 ids, leased)", ids), ids.map(() => "leased"));

    const lone = actor(`lone-${crypto.randomUUID()}`, () => {}, { broker, queue: "cost-e2e" });
    await measure("one message end to end (send, claim, ack)", async () => {
      await lone.send();
      const claims = await broker.claim("cost-e2e");
      assert.deepEqual(await broker.ack("cost-e2e", claims), [true]);
    });
    await measure("ten messages end to end (batches of 10)", async () => {
      await broker.enqueue(Array.from({ length: 10 }, () => lone.message()));
      const claims = await broker.claim("cost-e2e", { count: 10 });
      assert.equal((await broker.ack("cost-e2e", claims)).filter(Boolean).length, 10);
    });

    const once = actor(`once-${crypto.randomUUID()}`, () => {}, { broker, queue: "cost-dedup" });
    const kept = await measure(
      "send with a dedup key (stored)",
      () => once.sendWithOptions({ dedupKey: "order:1" }),
    );
    const again = await measure(
      "send with a dedup key (deduplicated)",
      () => once.sendWithOptions({ dedupKey: "order:1" }),
    );
    assert.deepEqual([again.id, again.deduplicated], [kept.id, true]);

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

/**
 * Redis commands per transition of results, callbacks, pipelines and groups on the
 * `UpstashBroker` (one HTTP request each). Processing a message means its settle (ack or
 * nack with what follows, one SETTLE script), plus a `SET` when it stores its result; the
 * claim before it costs what `claim` costs above. Plain messages keep the costs above:
 * their acks and nacks do not run SETTLE.
 */
export const COMPOSITION_COST = {
  "process a plain message (ack)": 4,
  "process a message with storeResults (SET, then ack)": 5,
  "process a message with onSuccess (ack + callback)": 6,
  "process a failing message with onFailure (retry + callback)": 7,
  "process a pipeline step (ack + next step read from the plan, same queue)": 7,
  "process a pipeline step (ack + next step read from the plan, other queue)": 7,
  "process a pipeline step with storeResults (SET, then ack + next step)": 8,
  "process the step before the last (ack + last step, plan deleted)": 8,
  "process a step that fans out into a group of 3 (ack + group from the plan)": 11,
  "process a group member, not the last (ack + report)": 6,
  "process the last group member (ack + report + fan-in from the plan, plan deleted)": 12,
  "process a group member that dies, first failure (dead + report + callback)": 11,
  "process a member pipeline's step (ack + its member's next step from the plan)": 7,
  "process a member pipeline's step before its last, group ending the plan (+ taken, plan deleted)":
    10,
  "run a pipeline (first step + plan)": 6,
  "run a group of 3 on one queue, no callbacks": 5,
  "run a group of 3 on one queue, with a completion callback": 8,
  "getResult (stored)": 1,
  "getResults of a group of 3 (stored)": 1,
} as const;

type CompositionOperation = keyof typeof COMPOSITION_COST;

Deno.test("cost: results, callbacks, pipeline steps and group members issue their documented number of Redis commands", async () => {
  const { server, redis } = await costServer();
  const namespace = testPrefix("cost-composition").slice(0, -1);
  const time = 1_700_000_000_000;
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger, now: () => time });
  const backend = new UpstashResultBackend({ redis, namespace });
  broker.addMiddleware(new Results({ backend }));
  const queue = "cost";
  const other = "cost-other";
  const name = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;
  const task = actor(name("task"), (n: number) => n, { broker, queue });
  const kept = actor(name("kept"), (n: number) => n, { broker, queue, storeResults: true });
  const elsewhere = actor(name("elsewhere"), (n: number) => n, { broker, queue: other });
  const callback = actor(name("callback"), (_data: unknown, _result: unknown) => {}, {
    broker,
    queue,
  });
  // A group's failure callback is sent (messageData, exceptionData) after its own arguments.
  const report = actor(name("report"), (_data?: unknown, _error?: unknown) => {}, {
    broker,
    queue,
  });
  const failing = actor(name("failing"), (_n: number) => {
    throw new Error("boom");
  }, { broker, queue, maxRetries: 0 });
  const flaky = actor(name("flaky"), (_n: number) => {
    throw new Error("boom");
  }, { broker, queue, maxRetries: 5, onFailure: callback.name });
  const measured = new Map<CompositionOperation, number>();
  const measure = async <T>(operation: CompositionOperation, fn: () => Promise<T>): Promise<T> => {
    await redis.exec(["CONFIG", "RESETSTAT"]);
    const result = await fn();
    measured.set(operation, commandCount(await redis.exec<string>(["INFO", "commandstats"])));
    return result;
  };
  /** Claims the next message of a queue and processes it, measuring the processing only. */
  const step = async (operation: CompositionOperation, from = queue) => {
    const [claim] = await broker.claim(from);
    assert.ok(claim, operation);
    return await measure(operation, () => processMessage(broker, from, claim));
  };
  const drain = async () => {
    await broker.join(queue, { failFast: false });
    await broker.join(other, { failFast: false });
  };

  try {
    for (const script of [...UPSTASH_SCRIPTS, ...COMPOSITION_SCRIPTS]) {
      await redis.scriptLoad(script.source);
    }

    await task.send(1);
    await step("process a plain message (ack)");
    await kept.send(1);
    await step("process a message with storeResults (SET, then ack)");
    await task.sendWithOptions({ args: [1], onSuccess: callback.name });
    await step("process a message with onSuccess (ack + callback)");
    await drain();
    await flaky.send(1);
    await step("process a failing message with onFailure (retry + callback)");
    await drain();

    await measure(
      "run a pipeline (first step + plan)",
      () =>
        pipeline([
          task.message(1),
          task.message(),
          elsewhere.message(),
          kept.message(),
          task.message(),
          task.message(),
        ])
          .run(),
    );
    await step("process a pipeline step (ack + next step read from the plan, same queue)");
    await step("process a pipeline step (ack + next step read from the plan, other queue)");
    await step("process a pipeline step (ack + next step read from the plan, same queue)", other);
    await step("process a pipeline step with storeResults (SET, then ack + next step)");
    await step("process the step before the last (ack + last step, plan deleted)");
    await drain();

    await pipeline([
      task.message(1),
      group([task.message(), task.message(), task.message()]),
      task.message(),
    ]).run();
    await step(
      "process a step that fans out into a group of 3 (ack + group from the plan)",
    );
    await step("process a group member, not the last (ack + report)");
    await step("process a group member, not the last (ack + report)");
    await step(
      "process the last group member (ack + report + fan-in from the plan, plan deleted)",
    );
    await drain();

    // A lone group of one member pipeline: its later steps in the plan, which its member's
    // last step deletes.
    await group([pipeline([task.message(1), task.message(), task.message()])]).run();
    await step("process a member pipeline's step (ack + its member's next step from the plan)");
    await step(
      "process a member pipeline's step before its last, group ending the plan (+ taken, plan deleted)",
    );
    await drain();

    const doomed = group([failing.message(1), task.message(2)])
      .addFailureCallback(report.message());
    await doomed.run();
    await step("process a group member that dies, first failure (dead + report + callback)");
    await drain();

    await measure(
      "run a group of 3 on one queue, no callbacks",
      () => group([task.message(1), task.message(2), task.message(3)]).run(),
    );
    await drain();
    await measure(
      "run a group of 3 on one queue, with a completion callback",
      () =>
        group([task.message(1), task.message(2), task.message(3)])
          .addCompletionCallback(task.message(4))
          .run(),
    );
    await drain();

    const three = await group([kept.message(1), kept.message(2), kept.message(3)]).run();
    await drain();
    const [first] = three.members as ReturnType<typeof kept.message>[];
    await measure("getResult (stored)", () => first.getResult());
    await measure("getResults of a group of 3 (stored)", () => three.getResults().toArray());

    const rows = Object.keys(COMPOSITION_COST).map((op) =>
      `| ${op} | ${measured.get(op as CompositionOperation)} |`
    );
    console.log(["", "| operation | Redis commands |", "| --- | ---: |", ...rows].join("\n"));
    for (const [operation, budget] of Object.entries(COMPOSITION_COST)) {
      assert.equal(measured.get(operation as CompositionOperation), budget, operation);
    }
  } finally {
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});

/**
 * An idle pull `Worker`'s round, by number of queues: HTTP requests (the bill's other
 * half on Upstash, and the round trips) and Redis commands. The claims of every queue
 * without recent work go out together, one pipelined request, so requests per idle round
 * do not grow with the queues; commands do (an idle claim is 4).
 */
export const IDLE_ROUND_COST = {
  "1 queue": { requests: 1, commands: 4 },
  "100 queues": { requests: 1, commands: 400 },
} as const;

Deno.test("cost: an idle Worker's round is one request whatever the number of queues", async () => {
  const { server, redis } = await costServer();
  const namespace = testPrefix("cost-idle").slice(0, -1);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const requests = countRequests();
  try {
    for (const script of UPSTASH_SCRIPTS) await redis.scriptLoad(script.source);
    for (const [label, budget] of Object.entries(IDLE_ROUND_COST)) {
      const queues = Array.from({ length: Number(label.split(" ")[0]) }, (_, i) => `idle${i}`);
      // Rounds run only when join() wakes the worker: each join is one idle round.
      const worker = new Worker(broker, { queues, pollMin: 60_000, pollMax: 60_000 });
      await worker.start();
      await worker.join();
      await redis.exec(["CONFIG", "RESETSTAT"]);
      requests.reset();
      await worker.join();
      const measured = {
        requests: requests.value,
        commands: commandCount(await redis.exec<string>(["INFO", "commandstats"])),
      };
      await worker.stop();
      assert.deepEqual(measured, budget, label);
    }
  } finally {
    requests.restore();
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});

/**
 * Drains `count` no-op messages with a Worker (its defaults, or `prefetch`) on a private
 * server; returns the HTTP requests sent until the last actor ran, and the worker's prefetch.
 */
async function drainRequests(
  count: number,
  prefetch?: number,
): Promise<{ requests: number; prefetch: number }> {
  const { server, redis } = await costServer();
  const namespace = testPrefix("cost-drain").slice(0, -1);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const queue = "drain";
  let ran = 0;
  const task = actor(`drain-${crypto.randomUUID()}`, () => void ran++, { broker, queue });
  await broker.enqueue(Array.from({ length: count }, () => task.message()));
  for (const script of UPSTASH_SCRIPTS) await redis.scriptLoad(script.source);
  const requests = countRequests();
  try {
    const polls = { pollMin: 60_000, pollMax: 60_000 };
    const worker = new Worker(broker, { queues: [queue], ...polls, ...prefetch && { prefetch } });
    await worker.start();
    while (ran < count) await new Promise((resolve) => setTimeout(resolve, 5));
    const draining = requests.value;
    await worker.stop();
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    return { requests: draining, prefetch: worker.prefetch };
  } finally {
    requests.restore();
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
}

Deno.test("cost: a Worker drains no-op messages in one request per prefetch, its acks and next claim together", async () => {
  const { requests } = await drainRequests(160, 16);
  // 160 messages, 16 per request: 10 claims, each but the first with the acks of the 16
  // before it, then the last acks with a claim that finds nothing; one more when a round
  // begins before the last actors settle. Before, one request per 8 messages (20 or more).
  assert(requests >= 10 && requests <= 12, `${requests} requests`);
});

Deno.test("cost: a Worker at its defaults widens its claims on fast actors, up to prefetch", async () => {
  const { requests, prefetch } = await drainRequests(640);
  assert.equal(prefetch, 64);
  // Claims of 16, 16, then 32, then 64 while every actor is done before the next answer:
  // 12 claims for 640 messages, and the last acks; one more when a round begins before
  // the last actors settle. With a window fixed at 16: 41 or more.
  assert(requests >= 12 && requests <= 14, `${requests} requests`);
});

/**
 * Redis commands with the broker option `throughput` (counts of finished messages per queue
 * and minute), each in one HTTP request: the transition's own, plus an `INCRBY` inside its
 * script, plus a `PEXPIRE` on the first count of the minute in the queue. Without the
 * option, the same operations cost what `UPSTASH_BROKER_COST` and `COMPOSITION_COST` say.
 */
export const THROUGHPUT_COST = {
  "ack (1), the first of its minute": 6,
  "ack (1)": 5,
  "ack (batch of 10)": 6,
  "nack (retry, new body)": 6,
  "nack (dead, new body)": 8,
  "process a message with onSuccess (ack + callback)": 7,
  "throughput(queue, { minutes: 15 })": 1,
} as const;

type ThroughputOperation = keyof typeof THROUGHPUT_COST;

Deno.test("cost: with the throughput option, each ack, nack and settle call costs one command more (two on the first of a minute), and counts what it finished", async () => {
  const { server, redis } = await costServer();
  const namespace = testPrefix("cost-throughput").slice(0, -1);
  let time = 1_700_000_000_000;
  const options = { redis, namespace, logger: silentLogger, now: () => time };
  const broker = new UpstashBroker({ ...options, throughput: true });
  const queue = "cost";
  const name = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;
  const task = actor(name("task"), () => {}, { broker, queue });
  const callback = actor(name("callback"), (_data: unknown, _result: unknown) => {}, {
    broker,
    queue: "cost-callbacks",
  });
  const chained = actor(name("chained"), () => {}, { broker, queue, onSuccess: callback.name });
  const measured = new Map<ThroughputOperation, number>();
  const measure = async <T>(operation: ThroughputOperation, fn: () => Promise<T>): Promise<T> => {
    await redis.exec(["CONFIG", "RESETSTAT"]);
    const result = await fn();
    measured.set(operation, commandCount(await redis.exec<string>(["INFO", "commandstats"])));
    return result;
  };
  try {
    for (const script of [...UPSTASH_SCRIPTS, ...COMPOSITION_SCRIPTS]) {
      await redis.scriptLoad(script.source);
    }
    await broker.enqueue(Array.from({ length: 17 }, () => task.message()));
    const claims = await broker.claim(queue, { count: 17, leaseMs: 600_000 });
    await measure("ack (1), the first of its minute", () => broker.ack(queue, [claims[0]]));
    await measure("ack (1)", () => broker.ack(queue, [claims[1]]));
    await measure("ack (batch of 10)", () => broker.ack(queue, claims.slice(2, 12)));
    // A new minute: its first ack, retry and death pay the PEXPIRE of their counts.
    time += 60_000;
    await broker.ack(queue, [claims[16]]);
    await broker.nack(queue, claims[12], { kind: "retry", at: time + 1 });
    await broker.nack(queue, claims[13], { kind: "dead", reason: "first of the minute" });
    const [retried, dead] = claims.slice(14);
    await measure(
      "nack (retry, new body)",
      () => broker.nack(queue, retried, { kind: "retry", at: time + 1, body: retried.body }),
    );
    await measure(
      "nack (dead, new body)",
      () => broker.nack(queue, dead, { kind: "dead", reason: "test", body: dead.body }),
    );
    await chained.send();
    const [claim] = await broker.claim(queue);
    const report = await measure(
      "process a message with onSuccess (ack + callback)",
      () => processMessage(broker, queue, claim),
    );
    assert.equal(report.status, "acked");
    const counts = await measure(
      "throughput(queue, { minutes: 15 })",
      () => broker.throughput(queue, { minutes: 15 }),
    );
    // The workload: 12 acked in the first minute; then 2 acked (one by the settle), 2
    // retried and 2 dead in the second.
    assert.deepEqual(counts!.slice(-2).map(({ acked, retried, dead }) => [acked, retried, dead]), [
      [12, 0, 0],
      [2, 2, 2],
    ]);
    assert.ok(counts!.slice(0, -2).every((m) => m.acked + m.retried + m.dead === 0));

    const rows = Object.keys(THROUGHPUT_COST).map((op) =>
      `| ${op} | ${measured.get(op as ThroughputOperation)} |`
    );
    console.log(["", "| with throughput | Redis commands |", "| --- | ---: |", ...rows].join("\n"));
    for (const [operation, budget] of Object.entries(THROUGHPUT_COST)) {
      assert.equal(measured.get(operation as ThroughputOperation), budget, operation);
    }
    // One more than without the option (the first of a minute: two more).
    const off = (op: Operation | CompositionOperation) =>
      ({ ...UPSTASH_BROKER_COST, ...COMPOSITION_COST } as Record<string, number>)[op];
    assert.equal(THROUGHPUT_COST["ack (1)"], off("ack (1)") + 1);
    assert.equal(THROUGHPUT_COST["ack (1), the first of its minute"], off("ack (1)") + 2);
    assert.equal(THROUGHPUT_COST["ack (batch of 10)"], off("ack (batch of 10)") + 1);
    assert.equal(THROUGHPUT_COST["nack (retry, new body)"], off("nack (retry, new body)") + 1);
    assert.equal(THROUGHPUT_COST["nack (dead, new body)"], off("nack (dead, new body)") + 1);
    const settle = "process a message with onSuccess (ack + callback)";
    assert.equal(THROUGHPUT_COST[settle], off(settle) + 1);
  } finally {
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});

/**
 * A pull `Worker` at its defaults (concurrency 8, prefetch 16) draining a queue: the claim
 * for the room of finished actors leaves with their acks, in one pipelined request, so a
 * round of 8 messages costs one request (it cost two, claim and ack apart). A few more for
 * the first claim and the last, empty one.
 */
export const BUSY_WORKER_REQUESTS = { messages: 160, atMost: 160 / 8 + 4 } as const;

Deno.test("cost: a busy Worker's claims travel with its acks, one request per round of `concurrency`", async () => {
  const { server, redis } = await costServer();
  const namespace = testPrefix("cost-busy").slice(0, -1);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const queue = "busy";
  let ran = 0;
  const task = actor(`busy-${crypto.randomUUID()}`, () => void ran++, { broker, queue });
  let requests: RequestCount | undefined;
  try {
    for (const script of UPSTASH_SCRIPTS) await redis.scriptLoad(script.source);
    await broker.enqueue(
      Array.from({ length: BUSY_WORKER_REQUESTS.messages }, () => task.message()),
    );
    requests = countRequests();
    const worker = new Worker(broker, { queues: [queue] });
    await worker.start();
    await worker.join();
    await worker.stop();
    requests.restore();
    assert.equal(ran, BUSY_WORKER_REQUESTS.messages);
    assert.ok(
      requests.value <= BUSY_WORKER_REQUESTS.atMost,
      `${requests.value} requests for ${ran} messages, at most ${BUSY_WORKER_REQUESTS.atMost}`,
    );
  } finally {
    requests?.restore();
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});

Deno.test("cost: while claims come close together an ack waits for its queue's next claimById and rides in its request; alone, or after a pause, it goes at once", async () => {
  const { server, redis } = await costServer();
  const namespace = testPrefix("cost-linger").slice(0, -1);
  let time = 1_700_000_000_000;
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger, now: () => time });
  const queue = "linger";
  const task = actor(`linger-${crypto.randomUUID()}`, () => {}, { broker, queue });
  const [a, b, c, d] = [task.message(), task.message(), task.message(), task.message()];
  await broker.enqueue([a, b, c, d]);
  // Loaded in Redis, their SHAs computed (a process's first use of a script computes its SHA
  // first, and its call misses the request of calls made with it).
  for (const script of UPSTASH_SCRIPTS) await redis.scriptLoad(script.source);
  await Promise.all(UPSTASH_SCRIPTS.map((script) => script.sha()));
  const requests = countRequests(server.url);
  const turns = async (n: number) => {
    for (let turn = 0; turn < n; turn++) await undefined;
  };
  try {
    // The first claim after a while: its ack does not wait (no claim is known to follow).
    const first = await broker.claimById(queue, [a.id]);
    requests.reset();
    const alone = broker.ack(queue, first.claimed);
    await turns(50);
    assert.equal(requests.value, 1, "sent after the batch's quiet turns, without lingering");
    assert.deepEqual(await alone, [true]);
    // A push endpoint under load: claims a millisecond apart (ten make the stream dense),
    // an ack, then the next push's claim 50 microtask turns later, past the batch's quiet
    // wait (8), within its linger: one request for both.
    for (let i = 0; i < 10; i++) {
      time += 1;
      await broker.claimById(queue, [`missing-${i}`]);
    }
    time += 1;
    const second = await broker.claimById(queue, [b.id]);
    requests.reset();
    const acked = broker.ack(queue, second.claimed);
    await turns(50);
    assert.equal(requests.value, 0, "the ack waits for the next claim");
    const third = await broker.claimById(queue, [c.id]);
    assert.deepEqual(await acked, [true]);
    assert.equal(third.claimed.length, 1);
    assert.equal(requests.value, 1, "the ack and the claim in one request");
    // No claim after it: the ack goes alone, once it has waited.
    requests.reset();
    assert.deepEqual(await broker.ack(queue, third.claimed), [true]);
    assert.equal(requests.value, 1);
    // A pause of more than a second after the last claim: the ack goes at once again.
    const fourth = await broker.claimById(queue, [d.id]);
    time += 1_001;
    requests.reset();
    const late = broker.ack(queue, fourth.claimed);
    await turns(50);
    assert.equal(requests.value, 1, "sent without lingering");
    assert.deepEqual(await late, [true]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  } finally {
    requests.restore();
    await cleanup(redis, `${namespace}:`);
    await server.close();
  }
});
