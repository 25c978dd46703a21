import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import type { Logger } from "../src/broker.ts";
import { UpstashBroker, type UpstashBrokerClient } from "../src/brokers/upstash.ts";
import { planKey } from "../src/brokers/upstash/_keys.ts";
import { ACK, CLAIM, NACK, SETTLE, WRITE, WRITE_DEDUP } from "../src/brokers/upstash/scripts.ts";
import { Retry } from "../src/errors.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { group } from "../src/composition/group.ts";
import { pipeline } from "../src/composition/pipeline.ts"; // also provides Message.pipe()
import { Message } from "../src/message.ts";
import { processMessage } from "../src/process.ts";
import { brokerConformance, silentLogger } from "./broker_conformance.ts";
import { losing } from "./_losing.ts";
import { cleanup, restClient, restEnv, testPrefix, testRedisUrl } from "./_env.ts";

const FAULT_TOKEN = "hole-test-token";

const redis = restClient();

/** A namespace no other test uses: the test prefix without its trailing colon. */
function namespace(name: string): string {
  return testPrefix(name).slice(0, -1);
}

brokerConformance(
  "UpstashBroker",
  (options) => new UpstashBroker({ ...options, redis, namespace: namespace("conformance") }),
  { cleanup: (broker) => cleanup(redis, `${(broker as UpstashBroker).namespace}:`) },
);

async function withBroker(
  name: string,
  fn: (broker: UpstashBroker, queue: string) => Promise<void>,
  client: Redis = redis,
): Promise<void> {
  const broker = new UpstashBroker({
    redis: client,
    namespace: namespace(name),
    logger: silentLogger,
  });
  try {
    await fn(broker, `q-${crypto.randomUUID().slice(0, 8)}`);
  } finally {
    await cleanup(redis, `${broker.namespace}:`);
  }
}

Deno.test("UpstashBroker: given messages in every state, then the queue's five keys and its call records share one hash tag", () =>
  withBroker("keys", async (broker, queue) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    await task.sendWithOptions({ delay: 1_000 });
    await broker.enqueue([task.message(), task.message()]);
    const [claim] = await broker.claim(queue);
    await broker.nack(queue, claim, { kind: "dead", reason: "x" });
    const [, keys] = await redis.scan(0, { match: `${broker.namespace}:*`, count: 1000 });
    const base = `${broker.namespace}:{${queue}}:`;
    const calls = keys.filter((key) => key.startsWith(`${base}call:`));
    // One record per call that changed state: two sends, the claim, the nack.
    assert.equal(calls.length, 4);
    for (const key of calls) assert.ok((await redis.pttl(key)) > 0, key);
    assert.deepEqual(
      keys.filter((key) => !calls.includes(key)).sort(),
      ["dead", "msg", "ready", "reason", "timers"].map((k) => base + k),
    );
  }));

Deno.test("UpstashBroker: given a client without automatic deserialization, then bodies and ids stay strings", () => {
  const { url, token } = restEnv();
  const raw = new Redis({ url, token, enableTelemetry: false, automaticDeserialization: false });
  return withBroker("raw", async (broker, queue) => {
    const echo = actor(`echo-${crypto.randomUUID()}`, (_n: number) => {}, { broker, queue });
    const [sent] = await broker.enqueue([echo.message(42).copy({ id: "123" })]);
    const [claim] = await broker.claim(queue);
    assert.equal(claim.id, "123");
    assert.equal(claim.body, sent.encode());
    assert.deepEqual(await broker.ack(queue, [claim]), [true]);
  }, raw);
});

Deno.test("UpstashBroker: given numeric-looking ids, when claimed through the default client, then they stay strings", () =>
  withBroker("ids", async (broker, queue) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    await broker.enqueue([
      task.message().copy({ id: "7" }),
      task.message().copy({ id: "true" }),
    ]);
    const claims = await broker.claim(queue, { count: 5 });
    assert.deepEqual(claims.map((c) => c.id).sort(), ["7", "true"]);
    assert.equal(typeof JSON.parse(claims[0].body), "object");
    const byId = await broker.claimById(queue, ["7", "null"]);
    assert.deepEqual(byId, {
      claimed: [],
      unclaimed: [{ id: "7", state: "leased" }, { id: "null", state: "missing" }],
    });
  }));

Deno.test("UpstashBroker: given batches over 1000, when sent, acked and purged, then all are handled", () =>
  withBroker("large", async (broker, queue) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    const messages = Array.from({ length: 1_500 }, () => task.message());
    await broker.enqueue(messages);
    assert.equal((await broker.stats(queue)).ready, 1_500);
    const claims = [
      ...await broker.claim(queue, { count: 5_000 }),
      ...await broker.claim(queue, { count: 5_000 }),
    ];
    assert.equal(claims.length, 1_500);
    assert.deepEqual(claims.map((c) => c.id), messages.map((m) => m.id));
    const done = await broker.ack(queue, claims);
    assert.equal(done.filter(Boolean).length, 1_500);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  }));

Deno.test("UpstashBroker: given a batch larger than a request may be, when sent, then it goes in several", () =>
  withBroker("huge", async (broker, queue) => {
    const task = actor(`task-${crypto.randomUUID()}`, (_s: string) => {}, { broker, queue });
    const big = "x".repeat(250_000);
    // 15 MB: over the 10 MiB that Upstash (and the local server) accept in one request.
    await broker.enqueue(Array.from({ length: 60 }, () => task.message(big)));
    assert.equal((await broker.stats(queue)).ready, 60);
  }));

Deno.test("UpstashBroker: given many dead letters, when purged, then all go in runs of 1000", () =>
  withBroker("purge", async (broker, queue) => {
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    await broker.enqueue(Array.from({ length: 1_200 }, () => task.message()));
    const claims = await broker.claim(queue, { count: 1_000 });
    claims.push(...await broker.claim(queue, { count: 1_000 }));
    for (const claim of claims) {
      assert.ok(await broker.nack(queue, claim, { kind: "dead", reason: "test" }));
    }
    assert.equal((await broker.stats(queue)).dead, 1_200);
    assert.equal(await broker.purgeDead(queue), 1_200);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  }));

Deno.test("UpstashBroker: given bad options, then the constructor throws TypeError", () => {
  assert.throws(() => new UpstashBroker({ redis, namespace: "a{b}" }), TypeError);
  assert.throws(() => new UpstashBroker({ redis, namespace: "" }), TypeError);
  assert.throws(() => new UpstashBroker({} as never), TypeError);
});

Deno.test("UpstashBroker: given Redis failing, then the error names the queue and never quotes a body", async () => {
  const { url } = restEnv();
  const wrong = new Redis({ url, token: "wrong-token", enableTelemetry: false, retry: false });
  const broker = new UpstashBroker({ redis: wrong, logger: silentLogger });
  const task = actor(`task-${crypto.randomUUID()}`, (_s: string) => {}, { broker, queue: "q" });
  const error = await task.send("secret-payload").catch((e) => e);
  assert.ok(error instanceof Error);
  assert.match(error.message, /^Cannot send messages of queue 'q': UpstashError: Unauthorized/);
  assert.ok(!error.message.includes("secret-payload"));
});

// Safe to repeat with the same outcome: each test loses an answer at the exact point where
// it used to cost a duplicate run or a false `stale`, then lets the retry arrive.

/** A logger that keeps the warnings and errors it is given. */
function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const keep = (line: unknown) => void lines.push(String(line));
  return { logger: { debug() {}, info() {}, warn: keep, error: keep }, lines };
}

/**
 * What each hole test starts from: a namespace of its own, queue `q`, a broker on the plain
 * client, and an actor on it that records its runs; `ranOnce(expected)` asserts the runs,
 * an empty queue, and that a worker finds nothing more to run.
 */
function hole(name: string) {
  const namespace = testPrefix(name).slice(0, -1);
  const queue = "q";
  const plain = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const runs: string[] = [];
  const task = actor(`task-${crypto.randomUUID()}`, (s: string) => void runs.push(s), {
    broker: plain,
    queue,
  });
  const ranOnce = async (expected: string[]) => {
    assert.deepEqual(runs.sort(), expected);
    assert.deepEqual(await plain.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    await plain.join(queue);
    assert.deepEqual(runs.sort(), expected);
  };
  return { namespace, queue, plain, runs, task, ranOnce };
}

Deno.test("UpstashBroker: given a send whose answer is lost, when a worker runs and acks the message before the client's retry arrives, then it runs once and nothing is ready", async () => {
  const { namespace, queue, plain, task, ranOnce } = hole("hole-write");
  // Between the first run of WRITE and its retry: a worker claims, runs and acks it.
  const { client, lost } = losing(redis, WRITE, "client retries", () => plain.join(queue));
  const sender = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  try {
    await sender.enqueue([task.message("once")]);
    assert.equal(lost(), 1);
    await ranOnce(["once"]);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given concurrent sends of one queue (one shared WRITE) whose answer is lost, when a worker runs and acks them before the client's retry arrives, then each runs once", async () => {
  const { namespace, queue, plain, task, ranOnce } = hole("hole-concurrent");
  const { client, lost } = losing(redis, WRITE, "client retries", () => plain.join(queue));
  const sender = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  try {
    const send = (s: string) => sender.enqueue([task.message(s)]).then(([m]) => m);
    const messages = await Promise.all(["a", "b", "c"].map(send));
    assert.equal(lost(), 1);
    assert.equal(new Set(messages.map((m) => m.id)).size, 3);
    await ranOnce(["a", "b", "c"]);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given concurrent sends of one queue whose shared WRITE fails, then each send rejects with the failure, naming the queue and none of the payloads", async () => {
  const { namespace, queue, plain, runs, task } = hole("hole-concurrent-error");
  const { client } = losing(redis, WRITE, "broker sees an error");
  const sender = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  try {
    const send = (s: string) => sender.enqueue([task.message(s)]);
    const results = await Promise.allSettled(["secret-a", "secret-b"].map(send));
    for (const result of results) {
      assert.equal(result.status, "rejected");
      const { message } = (result as PromiseRejectedResult).reason as Error;
      assert.match(message, /send messages.*'q'.*fetch failed/s);
      assert.doesNotMatch(message, /secret/);
    }
    // The request had run: both are stored once, as a lost answer leaves them.
    await plain.join(queue);
    assert.deepEqual(runs.sort(), ["secret-a", "secret-b"]);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given a send made with a callId whose answer reaches it as an error, when its messages run and are acked and the same call is made again, then nothing runs twice", async () => {
  const { namespace, queue, plain, runs, task } = hole("hole-call-id");
  const other = actor(`other-${crypto.randomUUID()}`, (s: string) => void runs.push(s), {
    broker: plain,
    queue: "r",
  });
  // Two queues: two script calls in one request; the message with a dedup key: a third.
  // Between the request's run and its error: a worker runs and acks what it stored.
  const { client, lost } = losing(redis, WRITE, "broker sees an error", async () => {
    await plain.join(queue);
    await plain.join("r");
  });
  const sender = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  const callId = "send-1";
  try {
    const encoded = sender.encodeMessages([
      task.message("a"),
      other.message("b"),
      task.messageWithOptions({ args: ["d"], dedupKey: "k" }),
    ]);
    await assert.rejects(sender.enqueueEncoded(encoded, { callId }), /fetch failed/);
    assert.equal(lost(), 1);
    assert.deepEqual(runs.sort(), ["a", "b"]);
    // The caller makes the same call again, as the scheduler does at its next tick
    const sent = await sender.enqueueEncoded(encoded, { callId });
    assert.deepEqual(sent.map((m) => m.id), encoded.messages.map((m) => m.id));
    await plain.join(queue);
    await plain.join("r");
    assert.deepEqual(runs.sort(), ["a", "b", "d"]);
    // One call record per script call, derived from the id, kept longer than a retry's
    for (const key of [`{q}:call:${callId}:0`, `{r}:call:${callId}:1`, `{q}:call:${callId}:c0`]) {
      assert.ok((await redis.pttl(`${namespace}:${key}`)) > 60_000, key);
    }
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given a group's send (its state and members in one pipelined request) whose answer is lost, when the members and the completion run before the client's retry arrives, then nothing runs twice", async () => {
  const { namespace, queue, plain, runs, ranOnce } = hole("hole-group");
  // Between the first run of the request and its retry: a worker runs the members, the
  // last one completes the group and its callback runs.
  const { client, lost } = losing(redis, WRITE, "client retries", () => plain.join(queue));
  const sender = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  const task = actor(`task-${crypto.randomUUID()}`, (s: string) => void runs.push(s), {
    broker: sender,
    queue,
  });
  try {
    await group([task.message("a"), task.message("b")])
      .addCompletionCallback(task.message("done"))
      .run();
    assert.equal(lost(), 1);
    await ranOnce(["a", "b", "done"]);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given a send with a dedup key whose answer is lost, when the message runs and its window ends before the retry arrives, then the retry answers the same id and stores nothing", async () => {
  const { namespace, queue, plain, runs, task } = hole("hole-dedup");
  // Between the first run and its retry: a worker runs the message, the dedup key expires.
  const { client, lost } = losing(redis, WRITE_DEDUP, "client retries", async () => {
    await plain.join(queue);
    assert.equal(await redis.del(`${namespace}:{${queue}}:dedup:k`), 1);
  });
  const sender = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  try {
    const message = task.messageWithOptions({ args: ["once"], dedupKey: "k" });
    const [sent] = await sender.enqueue([message]);
    assert.equal(lost(), 1);
    assert.equal(sent.id, message.id);
    assert.equal(sent.deduplicated, false);
    assert.deepEqual(await plain.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    await plain.join(queue);
    assert.deepEqual(runs, ["once"]);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given a deduplicated send whose answer is lost, when the window ends before the retry arrives, then the retry still answers the first id and stores nothing", async () => {
  const namespace = testPrefix("hole-dedup-hit").slice(0, -1);
  const queue = "q";
  const plain = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker: plain, queue });
  // Between the first run and its retry: the dedup key expires.
  const { client, lost } = losing(redis, WRITE_DEDUP, "client retries", async () => {
    assert.equal(await redis.del(`${namespace}:{${queue}}:dedup:k`), 1);
  });
  const sender = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  try {
    const first = await task.sendWithOptions({ dedupKey: "k" });
    const [sent] = await sender.enqueue([task.messageWithOptions({ dedupKey: "k" })]);
    assert.equal(lost(), 1);
    assert.equal(sent.id, first.id);
    assert.equal(sent.deduplicated, true);
    assert.deepEqual(await plain.stats(queue), { ready: 1, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given an ack whose answer is lost, when the broker retries it, then it reports acked with no warning and the message ran once", async () => {
  for (const loss of ["broker sees an error", "client retries"] as const) {
    const namespace = testPrefix("hole-ack").slice(0, -1);
    const queue = "q";
    const { logger, lines } = recordingLogger();
    const { client, lost } = losing(redis, ACK, loss);
    const broker = new UpstashBroker({ redis: client, namespace, logger });
    let runs = 0;
    const task = actor(`task-${crypto.randomUUID()}`, () => void runs++, { broker, queue });
    try {
      await task.send();
      const [claim] = await broker.claim(queue);
      const report = await processMessage(broker, queue, claim);
      assert.equal(lost(), 1, loss);
      assert.equal(report.status, "acked", loss);
      assert.deepEqual(lines, [], loss);
      await broker.join(queue);
      assert.equal(runs, 1, loss);
      assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    } finally {
      await cleanup(redis, `${namespace}:`);
    }
  }
});

Deno.test("UpstashBroker: given the throughput option and an ack, a nack or a settle whose answer is lost, when retried, then each message counts once", async () => {
  const cases = [
    [ACK, "broker sees an error"],
    [ACK, "client retries"],
    [NACK, "broker sees an error"],
    [SETTLE, "broker sees an error"],
  ] as const;
  for (const [script, loss] of cases) {
    const what = `${script.name}, ${loss}`;
    const namespace = testPrefix("hole-throughput").slice(0, -1);
    const queue = "q";
    const { client, lost } = losing(redis, script, loss);
    const broker = new UpstashBroker({
      redis: client,
      namespace,
      logger: silentLogger,
      throughput: true,
    });
    const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker, queue });
    const doomed = actor(`doomed-${crypto.randomUUID()}`, () => {
      throw new Error("boom");
    }, { broker, queue, maxRetries: 0 });
    try {
      if (script === SETTLE) await task.message().pipe(task.message()).run();
      else await (script === NACK ? doomed : task).send();
      const [claim] = await broker.claim(queue);
      const report = await processMessage(broker, queue, claim);
      assert.equal(lost(), 1, what);
      assert.equal(report.status, script === NACK ? "dead" : "acked", what);
      const [minute] = (await broker.throughput(queue, { minutes: 1 }))!;
      const expected = script === NACK ? [0, 0, 1] : [1, 0, 0];
      assert.deepEqual([minute.acked, minute.retried, minute.dead], expected, what);
    } finally {
      await cleanup(redis, `${namespace}:`);
    }
  }
});

Deno.test("UpstashBroker: given a 503 on an ack, then the ack is retried within the lease and the message never runs twice", async () => {
  const serverLog: string[] = [];
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token: FAULT_TOKEN,
    port: 0,
    log: (line) => serverLog.push(line),
  });
  const client = new Redis({ url: server.url, token: FAULT_TOKEN, enableTelemetry: false });
  const namespace = testPrefix("hole-503").slice(0, -1);
  const queue = "q";
  const { logger, lines } = recordingLogger();
  let time = 1_700_000_000_000;
  const broker = new UpstashBroker({ redis: client, namespace, logger, now: () => time });
  let runs = 0;
  const task = actor(`task-${crypto.randomUUID()}`, () => {
    runs++;
    // The next request, the ack, is answered 503 without running.
    const draws = [0];
    server.faults = { errorRate: 0.5, random: () => draws.shift() ?? 1 };
  }, { broker, queue });
  try {
    await task.send();
    const [claim] = await broker.claim(queue, { leaseMs: 30_000 });
    const report = await processMessage(broker, queue, claim, { leaseMs: 30_000 });
    assert.equal(report.status, "acked");
    assert.equal(serverLog.filter((line) => line.startsWith("skiff local: 503")).length, 1);
    assert.deepEqual(lines, []);
    // Past the lease: had the ack been given up, a claim would recover and run it again.
    time += 60_000;
    await broker.join(queue);
    assert.equal(runs, 1);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  } finally {
    server.faults = {};
    await cleanup(client, `${namespace}:`);
    await server.close();
  }
});

Deno.test("UpstashBroker: given a nack whose answer is lost, when retried, then it reports retried and counts one retry", async () => {
  const namespace = testPrefix("hole-nack").slice(0, -1);
  const queue = "q";
  const { logger, lines } = recordingLogger();
  const { client, lost } = losing(redis, NACK, "broker sees an error");
  let time = 1_700_000_000_000;
  const broker = new UpstashBroker({ redis: client, namespace, logger, now: () => time });
  let runs = 0;
  const flaky = actor(`flaky-${crypto.randomUUID()}`, () => {
    if (++runs === 1) throw new Retry({ delay: 1_000 });
  }, { broker, queue });
  try {
    await flaky.send();
    const [claim] = await broker.claim(queue);
    const report = await processMessage(broker, queue, claim);
    assert.equal(lost(), 1);
    assert.equal(report.status, "retried");
    assert.deepEqual(lines, []);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 1, leased: 0, dead: 0 });
    time += 1_000;
    const [again] = await broker.claim(queue);
    assert.equal(Message.decode(again.body).retries, 1);
    assert.equal((await processMessage(broker, queue, again)).status, "acked");
    assert.equal(runs, 2);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given a settle whose answer is lost, when retried, then it reports acked with what it enqueued, once", async () => {
  const namespace = testPrefix("hole-settle").slice(0, -1);
  const queue = "q";
  const { client, lost } = losing(redis, SETTLE, "broker sees an error");
  const broker = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  const seen: string[] = [];
  const step = actor(`step-${crypto.randomUUID()}`, (s: string) => {
    seen.push(s);
    return s;
  }, { broker, queue });
  try {
    const chain = step.message("a").pipe(step.message("b"));
    await chain.run();
    const [claim] = await broker.claim(queue);
    const report = await processMessage(broker, queue, claim);
    assert.equal(lost(), 1);
    assert.equal(report.status, "acked");
    assert.equal(report.enqueued?.length, 1);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 0, leased: 0, dead: 0 });
    await broker.join(queue);
    assert.deepEqual(seen, ["a", "b"]);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given the settles that start a group from a plan and complete it losing their answers, when retried, then they report what they enqueued, once", async () => {
  const namespace = testPrefix("hole-fan").slice(0, -1);
  const queue = "q";
  const plain = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const seen: string[] = [];
  const step = actor(`step-${crypto.randomUUID()}`, (...args: unknown[]) => {
    seen.push(JSON.stringify(args));
    return args.length;
  }, { broker: plain, queue });
  const lossy = () => {
    const { client, lost } = losing(redis, SETTLE, "broker sees an error");
    const { lines, logger } = recordingLogger();
    return { broker: new UpstashBroker({ redis: client, namespace, logger }), lost, lines };
  };
  try {
    await pipeline([
      step.message("a"),
      group([step.message("m"), step.message("m")]),
      step.message("z"),
    ]).run();
    // The fan-out: the group's state and its two members.
    const fanOut = lossy();
    const [first] = await fanOut.broker.claim(queue);
    const report = await processMessage(fanOut.broker, queue, first);
    assert.equal(fanOut.lost(), 1);
    assert.equal(report.status, "acked");
    assert.equal(report.enqueued?.length, 2);
    const [member] = await plain.claim(queue);
    await processMessage(plain, queue, member);
    // The fan-in: the last member reads the step after the group and deletes the plan.
    const fanIn = lossy();
    const [last] = await fanIn.broker.claim(queue);
    const completed = await processMessage(fanIn.broker, queue, last);
    assert.equal(fanIn.lost(), 1);
    assert.equal(completed.status, "acked");
    assert.equal(completed.enqueued?.length, 1);
    assert.deepEqual(fanIn.lines, []);
    await plain.join(queue);
    assert.deepEqual(seen, ['["a"]', '["m",1]', '["m",1]', '["z",[2,2]]']);
    assert.deepEqual(await plain.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given the settles of member pipelines' steps losing their answers, when retried, then each reads its next step once, and the last member's last step deletes the plan once", async () => {
  const namespace = testPrefix("hole-member").slice(0, -1);
  const queue = "q";
  const plain = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const seen: string[] = [];
  const step = actor(`step-${crypto.randomUUID()}`, (label: string, n?: number) => {
    seen.push(`${label}${n ?? 0}`);
    return (n ?? 0) + 1;
  }, { broker: plain, queue });
  try {
    const fan = group([
      pipeline([step.message("a"), step.message("a"), step.message("a")]),
      pipeline([step.message("b"), step.message("b")]),
    ]);
    await fan.run();
    // Every settle that reads a member's next step loses its first answer: 3 of them (a0
    // and a1 read a1 and a2, b0 reads b1; a1's and b0's take their member's last step).
    let losses = 0;
    const lines: string[] = [];
    for (let claim; ([claim] = await plain.claim(queue)).length > 0;) {
      const { client, lost } = losing(redis, SETTLE, "broker sees an error");
      const { lines: logged, logger } = recordingLogger();
      const lossy = new UpstashBroker({ redis: client, namespace, logger });
      const report = await processMessage(lossy, queue, claim);
      assert.equal(report.status, "acked");
      assert.equal(report.enqueued?.length ?? 0, lost());
      losses += lost();
      lines.push(...logged);
    }
    assert.equal(losses, 3);
    assert.deepEqual(lines, []);
    assert.deepEqual(seen.sort(), ["a0", "a1", "a2", "b0", "b1"]);
    assert.equal(await redis.exists(planKey(namespace, queue, fan.id)), 0);
    assert.deepEqual(await plain.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given an idle claim whose answer is lost, when a message arrives before the retry, then the retry leases nothing", async () => {
  const namespace = testPrefix("hole-claim").slice(0, -1);
  const queue = "q";
  const plain = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker: plain, queue });
  const { client, lost } = losing(
    redis,
    CLAIM,
    "client retries",
    async () => void await task.send(),
  );
  const broker = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  try {
    assert.deepEqual(await broker.claim(queue), []);
    assert.equal(lost(), 1);
    assert.deepEqual(await plain.stats(queue), { ready: 1, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("UpstashBroker: given an ack refused by Redis itself, then it is not retried", async () => {
  let calls = 0;
  const refusing = {
    evalsha: () => {
      calls++;
      return Promise.reject(
        new Error("WRONGTYPE Operation against a key holding the wrong kind of value"),
      );
    },
    eval: () => Promise.reject(new Error("unused")),
    pipeline: () => redis.pipeline(),
  } as unknown as UpstashBrokerClient;
  const broker = new UpstashBroker({ redis: refusing, logger: silentLogger });
  await assert.rejects(
    broker.ack("q", [{ id: "m", token: "t:0" }]),
    /^Error: Cannot acknowledge messages of queue 'q': Error: WRONGTYPE/,
  );
  assert.equal(calls, 1);
});

Deno.test("UpstashBroker: given a host that refuses connections, then the error names the cause, never the token", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const token = "a-token-that-must-not-be-logged";
  const redis = new Redis({ url: `http://127.0.0.1:${port}`, token, retry: false });
  const broker = new UpstashBroker({ redis, logger: silentLogger });
  const error = await broker.stats("q").then(() => undefined, (e: unknown) => e);
  assert(error instanceof Error);
  assert.match(error.message, /^Cannot count messages of queue 'q': TypeError: .+ \(.*refused/i);
  assert(!error.message.includes(token));
});
