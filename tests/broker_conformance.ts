/**
 * The broker conformance suite: every `Broker` implementation runs it, so that they all
 * keep the semantics of `docs/lifecycle.md`. Call `brokerConformance()` from a test file
 * with a factory; each test gets a fresh broker, an injected clock and its own queue.
 *
 * ```ts ignore
 * brokerConformance("MemoryBroker", (options) => new MemoryBroker(options));
 * ```
 */
import assert from "node:assert/strict";
import * as v from "valibot";
import { actor } from "../src/actor.ts";
import type { Broker, Logger, NackOutcome } from "../src/broker.ts";
import type { QueueOptions } from "../src/brokers/flow.ts";
import { makeTemplate } from "../src/brokers/_template.ts";
import type { MessageContext } from "../src/context.ts";
import { MessageTooLarge, Retry, TimeLimitExceeded } from "../src/errors.ts";
import { Message } from "../src/message.ts";
import { Middleware } from "../src/middleware/middleware.ts";
import { processMessage } from "../src/process.ts";
import { Worker } from "../src/worker.ts";

/** What the suite hands a factory: spread it into the broker's options. */
export interface ConformanceBrokerOptions {
  /** The injected clock; tests move it. */
  now: () => number;
  /** A logger that keeps quiet. */
  logger: Logger;
  /** Flow control of the test's queue, for the tests of `parallelism` and `rate`. */
  queues?: Record<string, QueueOptions>;
  /** Whether finished messages are counted, for the tests of `throughput()`. */
  throughput?: boolean;
}

/** Makes a fresh broker for one test. */
export type BrokerFactory = (options: ConformanceBrokerOptions) => Broker | Promise<Broker>;

/** Options of {@linkcode brokerConformance}. */
export interface ConformanceOptions {
  /** Deletes what a test left in its queue (say, Redis keys). */
  cleanup?: (broker: Broker, queue: string) => Promise<void>;
}

/** A logger that keeps quiet. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Records every nack outcome, so that tests can read retry times. */
class NackRecorder extends Middleware {
  readonly outcomes: NackOutcome[] = [];
  override afterNack(_context: MessageContext, outcome: NackOutcome): void {
    this.outcomes.push(outcome);
  }
}

interface Setup {
  broker: Broker;
  queue: string;
  clock: { time: number };
  /** A unique actor name. */
  name: (prefix: string) => string;
}

/**
 * Registers the suite's tests with `Deno.test`.
 *
 * @param label Prefixes every test name, as in "MemoryBroker".
 * @param factory Makes a fresh broker for each test.
 * @param options Cleanup after each test.
 */
export function brokerConformance(
  label: string,
  factory: BrokerFactory,
  options: ConformanceOptions = {},
): void {
  const test = (
    name: string,
    fn: (setup: Setup) => Promise<void>,
    flow?: QueueOptions,
    more: { throughput?: boolean } = {},
  ) => {
    Deno.test(`${label}: ${name}`, async () => {
      const clock = { time: 1_700_000_000_000 };
      const queue = `conformance-${crypto.randomUUID()}`;
      const queues = flow ? { [queue]: flow } : undefined;
      const broker = await factory({
        now: () => clock.time,
        logger: silentLogger,
        queues,
        ...more,
      });
      try {
        await fn({ broker, queue, clock, name: (prefix) => `${prefix}-${crypto.randomUUID()}` });
      } finally {
        await options.cleanup?.(broker, queue);
      }
    });
  };

  test("given JSON arguments, when sent and processed, then the actor receives them intact", async ({ broker, queue, name }) => {
    const received: unknown[][] = [];
    const echo = actor(name("echo"), (...args: unknown[]) => {
      received.push(args);
    }, { broker, queue });
    const args = [1, -2.5, "héllo ✓", null, true, [1, [2]], { a: { b: [null, "x"] } }];
    const sent = await echo.send(...args);
    assert.equal(sent.queue, queue);
    assert.ok(sent.enqueuedAt !== undefined);
    await broker.join(queue);
    assert.deepEqual(received, [args]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  });

  test("given a batch across two queues, when enqueued in one call, then each queue gets its own", async ({ broker, queue, name }) => {
    const other = `${queue}-other`;
    const a = actor(name("a"), () => {}, { broker, queue });
    const b = actor(name("b"), () => {}, { broker, queue: other });
    const sent = await broker.enqueue([a.message(), b.message(), a.message()]);
    assert.equal(sent.length, 3);
    assert.equal((await broker.stats(queue)).ready, 2);
    assert.equal((await broker.stats(other)).ready, 1);
    await broker.join(queue);
    await broker.join(other);
    await options.cleanup?.(broker, other);
  });

  test("given a message enqueued twice, when the second write arrives, then it is left alone", async ({ broker, queue, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    const [sent] = await broker.enqueue([task.message()]);
    const [claim] = await broker.claim(queue);
    await broker.enqueue([sent]); // a retried request, say
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 1, dead: 0 });
    assert.deepEqual(await broker.ack(queue, [claim]), [true]);
  });

  test("given a send with a dedup key, when a second send with the same key arrives inside the window, then it returns the first message and enqueues nothing", async ({ broker, queue, name }) => {
    const runs: string[] = [];
    const task = actor(name("task"), (s: string) => void runs.push(s), { broker, queue });
    const first = await task.sendWithOptions({ args: ["first"], dedupKey: "order:42" });
    assert.equal(first.deduplicated, false);
    assert.equal(first.dedupKey, "order:42");
    const second = await task.sendWithOptions({ args: ["second"], dedupKey: "order:42" });
    assert.equal(second.deduplicated, true);
    assert.equal(second.id, first.id);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 0, leased: 0, dead: 0 });
    // Another key, and the same key on another queue, are not duplicates.
    const other = await task.sendWithOptions({ args: ["other"], dedupKey: "order:43" });
    assert.equal(other.deduplicated, false);
    assert.notEqual(other.id, first.id);
    await broker.join(queue);
    assert.deepEqual(runs.sort(), ["first", "other"]);
  });

  test("given a dedup key on two queues, when each is sent, then each queue stores its own", async ({ broker, queue, name }) => {
    const otherQueue = `${queue}-other`;
    const a = actor(name("a"), () => {}, { broker, queue });
    const b = actor(name("b"), () => {}, { broker, queue: otherQueue });
    const sentA = await a.sendWithOptions({ dedupKey: "same" });
    const sentB = await b.sendWithOptions({ dedupKey: "same" });
    assert.equal(sentB.deduplicated, false);
    assert.notEqual(sentA.id, sentB.id);
    assert.equal((await broker.stats(otherQueue)).ready, 1);
    await options.cleanup?.(broker, otherQueue);
  });

  test("given a message sent with a dedup key and already done, when the key is sent again inside the window, then it returns the first id and nothing runs again", async ({ broker, queue, clock, name }) => {
    let runs = 0;
    const task = actor(name("task"), () => void runs++, { broker, queue });
    const first = await task.sendWithOptions({ dedupKey: "k", dedupTtl: 60_000 });
    await broker.join(queue);
    clock.time += 30_000;
    const again = await task.sendWithOptions({ dedupKey: "k", dedupTtl: 60_000 });
    assert.equal(again.id, first.id);
    assert.equal(again.deduplicated, true);
    assert.deepEqual(await broker.state(queue, [first.id]), ["missing"]);
    await broker.join(queue);
    assert.equal(runs, 1);
  });

  test("given a dedup window that has passed, when the key is sent again, then a new message is enqueued", async ({ broker, queue, clock, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    const first = await task.sendWithOptions({ dedupKey: "k", dedupTtl: 20 });
    // The window is kept by the broker's clock (MemoryBroker) or by Redis (PX): move both.
    clock.time += 21;
    await new Promise((resolve) => setTimeout(resolve, 40));
    const later = await task.sendWithOptions({ dedupKey: "k", dedupTtl: 20 });
    assert.equal(later.deduplicated, false);
    assert.notEqual(later.id, first.id);
    assert.equal((await broker.stats(queue)).ready, 2);
  });

  test("given a batch with two messages of one dedup key, when enqueued, then the second stands for the first", async ({ broker, queue, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    const sent = await broker.enqueue([
      task.messageWithOptions({ dedupKey: "b" }),
      task.message(),
      task.messageWithOptions({ dedupKey: "b", delay: 1_000 }),
      task.messageWithOptions({ dedupKey: "c", delay: 1_000 }),
    ]);
    assert.deepEqual(sent.map((m) => m.deduplicated), [false, false, true, false]);
    assert.equal(sent[2].id, sent[0].id);
    assert.deepEqual(await broker.stats(queue), { ready: 2, delayed: 1, leased: 0, dead: 0 });
  });

  test("given invalid dedup options, when a message is built, then it is refused with a clear error", ({ name }) => {
    const task = actor(name("task"), () => {}, { broker: undefined });
    for (const dedupKey of ["", "a{b}", "with space", "x".repeat(201), 42 as unknown as string]) {
      assert.throws(
        () => task.messageWithOptions({ dedupKey }),
        (error: Error) =>
          error instanceof TypeError &&
          /^Cannot create message: 'dedupKey' must be 1 to 200 of/.test(error.message),
      );
    }
    for (const dedupTtl of [0, -1, 1.5, 24 * 3_600_000 + 1]) {
      assert.throws(
        () => task.messageWithOptions({ dedupKey: "k", dedupTtl }),
        (error: Error) =>
          error instanceof RangeError &&
          /^Cannot create message: 'dedupTtl' must be/.test(error.message),
      );
    }
    assert.throws(() => task.messageWithOptions({ dedupTtl: 1_000 }), TypeError);
    assert.equal(
      task.messageWithOptions({ dedupKey: "k", dedupTtl: 24 * 3_600_000 }).dedupTtl,
      86_400_000,
    );
    return Promise.resolve();
  });

  test("given a lease ended, when new calls ack, nack, release or settle it again, then each is refused and nothing comes back", async ({ broker, queue, clock, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    await broker.enqueue([task.message(), task.message()]);
    const [acked, dead] = await broker.claim(queue, { count: 2 });
    assert.deepEqual(await broker.ack(queue, [acked]), [true]);
    assert.equal(await broker.nack(queue, dead, { kind: "dead", reason: "x" }), true);
    for (const lease of [acked, dead]) {
      assert.deepEqual(await broker.ack(queue, [lease]), [false]);
      assert.equal(await broker.nack(queue, lease, { kind: "retry", at: clock.time }), false);
      assert.deepEqual(await broker.release(queue, [lease]), [false]);
      const [next] = broker.encodeMessages([task.message()]).records;
      assert.deepEqual(
        await broker.settle(queue, lease, { kind: "ack", effects: { messages: [next] } }),
        { done: false, enqueued: [] },
      );
    }
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 1 });
  });

  test("given mixed priorities, when claimed, then lower priorities come first and FIFO within one", async ({ broker, queue, name }) => {
    const task = actor(name("task"), (_n: number) => {}, { broker, queue });
    const priorities = [0, 5, -1, 0, 5, -1, 0];
    const sent = await broker.enqueue(
      priorities.map((priority, n) => task.messageWithOptions({ args: [n], priority })),
    );
    const claims = await broker.claim(queue, { count: 10 });
    const order = claims.map((claim) => sent.findIndex((m) => m.id === claim.id));
    assert.deepEqual(order, [2, 5, 0, 3, 6, 1, 4]);
  });

  test("given messages of one priority, when processed by join, then they run in send order", async ({ broker, queue, name }) => {
    const seen: number[] = [];
    const task = actor(name("task"), (n: number) => {
      seen.push(n);
    }, { broker, queue });
    for (let n = 0; n < 20; n++) await task.send(n);
    await broker.join(queue);
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, n) => n));
  });

  test("given a delay and an eta, when the clock reaches them, then they become claimable", async ({ broker, queue, clock, name }) => {
    const task = actor(name("task"), (_n: number) => {}, { broker, queue });
    const delayed = await task.sendWithOptions({ args: [1], delay: 5_000 });
    const scheduled = await task.sendWithOptions({ args: [2], eta: new Date(clock.time + 9_000) });
    assert.equal(delayed.eta, clock.time + 5_000);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 2, leased: 0, dead: 0 });
    assert.deepEqual(await broker.claim(queue), []);
    await broker.join(queue); // delays not yet due are left alone
    clock.time += 5_000;
    const [first] = await broker.claim(queue, { count: 5 });
    assert.equal(first.id, delayed.id);
    clock.time += 4_000;
    const [second] = await broker.claim(queue, { count: 5 });
    assert.equal(second.id, scheduled.id);
  });

  test("given an always-failing actor, when retried, then backoffs stay in bounds and it dies after maxRetries", async ({ broker, queue, clock, name }) => {
    const recorder = new NackRecorder();
    broker.addMiddleware(recorder);
    const attempts: number[] = [];
    const fail = actor(name("fail"), function (this: MessageContext) {
      attempts.push(this.attempt);
      throw new Error("boom");
    }, { broker, queue, maxRetries: 3, minBackoff: 1_000, maxBackoff: 3_000 });
    await fail.send();
    for (let retry = 1; retry <= 3; retry++) {
      await broker.join(queue, { failFast: false });
      const outcome = recorder.outcomes.at(-1)!;
      assert.equal(outcome.kind, "retry");
      const delay = (outcome as { at: number }).at - clock.time;
      const base = 1_000 * 2 ** (retry - 1);
      assert.ok(delay >= Math.min(base, 3_000) && delay <= Math.min(2 * base, 3_000), `${delay}`);
      assert.equal((await broker.stats(queue)).delayed, 1);
      clock.time += delay;
    }
    await assert.rejects(broker.join(queue), /boom/);
    assert.deepEqual(attempts, [1, 2, 3, 4]);
    const [dead] = await broker.deadLetters(queue);
    assert.match(dead.reason, /^Retries exhausted after 3 retries: Error: boom$/);
    assert.equal(Message.decode(dead.body).retries, 3);
  });

  test("given an error listed in throws, when the actor throws it, then the message dies at once", async ({ broker, queue, name }) => {
    class Permanent extends Error {}
    let attempts = 0;
    const task = actor(name("task"), () => {
      attempts++;
      throw new Permanent("no");
    }, { broker, queue, throws: [Permanent] });
    await task.send();
    await assert.rejects(broker.join(queue), Permanent);
    assert.equal(attempts, 1);
    const [dead] = await broker.deadLetters(queue);
    assert.match(dead.reason, /throws/);
  });

  test("given retryWhen, when it refuses, then the message dies regardless of maxRetries", async ({ broker, queue, clock, name }) => {
    const calls: [number, string][] = [];
    const task = actor(name("task"), () => {
      throw new Error(calls.length === 0 ? "transient" : "fatal");
    }, {
      broker,
      queue,
      maxRetries: 100,
      minBackoff: 10,
      retryWhen: (retries, error) => {
        calls.push([retries, (error as Error).message]);
        return (error as Error).message === "transient";
      },
    });
    await task.send();
    await broker.join(queue, { failFast: false });
    clock.time += 1_000;
    await broker.join(queue, { failFast: false });
    assert.deepEqual(calls, [[0, "transient"], [1, "fatal"]]);
    assert.equal((await broker.stats(queue)).dead, 1);
  });

  test("given a Retry with a delay, when thrown, then the retry is due after exactly that delay", async ({ broker, queue, clock, name }) => {
    const recorder = new NackRecorder();
    broker.addMiddleware(recorder);
    const task = actor(name("task"), () => {
      throw new Retry({ delay: 42 });
    }, { broker, queue });
    await task.send();
    await broker.join(queue); // a Retry is not an actor error to re-raise
    assert.deepEqual(recorder.outcomes.map((o) => o.kind), ["retry"]);
    assert.equal((recorder.outcomes[0] as { at: number }).at, clock.time + 42);
  });

  test("given dead letters, when listed, requeued and purged, then each does what it says", async ({ broker, queue, clock, name }) => {
    let healthy = false;
    const seen: number[] = [];
    const task = actor(name("task"), (n: number) => {
      if (!healthy) throw new Error("down");
      seen.push(n);
    }, { broker, queue, maxRetries: 0 });
    const sent = [];
    for (let n = 0; n < 3; n++) {
      sent.push(await task.send(n));
      await broker.join(queue, { failFast: false });
      clock.time += 1;
    }
    const dead = await broker.deadLetters(queue);
    assert.deepEqual(dead.map((d) => d.id), sent.map((m) => m.id));
    assert.ok(dead.every((d) => d.reason === "Retries exhausted after 0 retries: Error: down"));
    assert.deepEqual((await broker.deadLetters(queue, { offset: 1, limit: 1 })).map((d) => d.id), [
      sent[1].id,
    ]);

    healthy = true;
    assert.equal(await broker.requeue(queue, [sent[1].id, "no-such-id"]), 1);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 0, leased: 0, dead: 2 });
    await broker.join(queue);
    assert.deepEqual(seen, [1]);

    assert.equal(await broker.purgeDead(queue, { ids: [sent[0].id] }), 1);
    assert.equal(await broker.purgeDead(queue), 1);
    assert.deepEqual(await broker.deadLetters(queue), []);
  });

  test("given a dead letter, when seven days pass, then it is gone", async ({ broker, queue, clock, name }) => {
    const task = actor(name("task"), () => {
      throw new Error("x");
    }, { broker, queue, maxRetries: 0 });
    await task.send();
    await broker.join(queue, { failFast: false });
    clock.time += 7 * 86_400_000 - 1;
    assert.equal((await broker.stats(queue)).dead, 1);
    clock.time += 1;
    assert.equal((await broker.stats(queue)).dead, 0);
  });

  test("given a consumer that crashed, when its lease expires, then the message is claimed again with a new token", async ({ broker, queue, clock, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    const sent = await task.send();
    const [crashed] = await broker.claim(queue, { leaseMs: 1_000 });
    assert.equal(crashed.id, sent.id);
    assert.equal(crashed.leaseUntil, clock.time + 1_000);
    assert.deepEqual(await broker.claim(queue), []);
    assert.equal((await broker.stats(queue)).leased, 1);
    clock.time += 1_000;
    const [again] = await broker.claim(queue, { leaseMs: 1_000 });
    assert.equal(again.id, sent.id);
    assert.notEqual(again.token, crashed.token);
    // The late finisher's token is stale: every transition refuses it.
    assert.deepEqual(await broker.ack(queue, [crashed]), [false]);
    assert.equal(await broker.nack(queue, crashed, { kind: "dead", reason: "late" }), false);
    assert.equal(await broker.nack(queue, crashed, { kind: "retry", at: clock.time }), false);
    assert.deepEqual(await broker.release(queue, [crashed]), [false]);
    assert.equal(await broker.extendLease(queue, crashed), false);
    assert.deepEqual(await broker.ack(queue, [again]), [true]);
    assert.deepEqual(await broker.ack(queue, [again]), [false]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  });

  test("given a long actor, when its lease is extended, then the message is not recovered", async ({ broker, queue, clock, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    await task.send();
    const [claim] = await broker.claim(queue, { leaseMs: 1_000 });
    clock.time += 800;
    assert.equal(await broker.extendLease(queue, claim, { leaseMs: 1_000 }), true);
    clock.time += 800;
    assert.deepEqual(await broker.claim(queue), []);
    clock.time += 200;
    assert.equal((await broker.claim(queue)).length, 1);
  });

  test("given a claimed message, when released, then it is ready again in its old place, retries unchanged", async ({ broker, queue, name }) => {
    const task = actor(name("task"), (_n: number) => {}, { broker, queue });
    const first = await task.send(1);
    await task.send(2);
    const [claim] = await broker.claim(queue);
    assert.deepEqual(await broker.release(queue, [claim]), [true]);
    const [again] = await broker.claim(queue);
    assert.equal(again.id, first.id);
    assert.equal(Message.decode(again.body).retries, 0);
  });

  test("given a message pushed twice, when claimed by id twice, then it runs once", async ({ broker, queue, name }) => {
    let runs = 0;
    const task = actor(name("task"), () => {
      runs++;
    }, { broker, queue });
    const sent = await task.send();
    const [one, two] = await Promise.all([
      broker.claimById(queue, [sent.id]),
      broker.claimById(queue, [sent.id]),
    ]);
    const claims = [...one.claimed, ...two.claimed];
    assert.equal(claims.length, 1);
    assert.deepEqual([...one.unclaimed, ...two.unclaimed], [{ id: sent.id, state: "leased" }]);
    await processMessage(broker, queue, claims[0]);
    assert.equal(runs, 1);
    const after = await broker.claimById(queue, [sent.id, "no-such-id"]);
    assert.deepEqual(after, {
      claimed: [],
      unclaimed: [{ id: sent.id, state: "missing" }, { id: "no-such-id", state: "missing" }],
    });
  });

  test("given delayed and dead messages, when claimed by id, then due ones are claimed and others reported", async ({ broker, queue, clock, name }) => {
    const task = actor(name("task"), () => {
      throw new Error("x");
    }, { broker, queue, maxRetries: 0 });
    const later = await task.sendWithOptions({ delay: 1_000 });
    const doomed = await task.send();
    await broker.join(queue, { failFast: false });
    const before = await broker.claimById(queue, [later.id, doomed.id]);
    assert.deepEqual(before.unclaimed, [
      { id: later.id, state: "delayed" },
      { id: doomed.id, state: "dead" },
    ]);
    clock.time += 1_000;
    const due = await broker.claimById(queue, [later.id]);
    assert.deepEqual(due.claimed.map((c) => c.id), [later.id]);
  });

  test("given messages in every state, when asked their state, then each is reported in order", async ({ broker, queue, clock, name }) => {
    let fail = true;
    const task = actor(name("task"), () => {
      if (fail) throw new Error("x");
    }, { broker, queue, maxRetries: 0 });
    const dead = await task.send();
    await broker.join(queue, { failFast: false });
    fail = false;
    const done = await task.send();
    await broker.join(queue);
    const leased = await task.send();
    const [claim] = await broker.claim(queue);
    assert.equal(claim.id, leased.id);
    const ready = await task.send();
    const delayed = await task.sendWithOptions({ delay: 1_000 });
    const ids = [ready.id, delayed.id, leased.id, dead.id, done.id, "never-sent", ready.id];
    const expected = ["ready", "delayed", "leased", "dead", "missing", "missing", "ready"];
    assert.deepEqual(await broker.state(queue, ids), expected);
    assert.deepEqual(await broker.state(queue, []), []);
    // A due delay and an expired lease stay where they are until a claim moves them.
    clock.time += 30_000;
    assert.deepEqual(await broker.state(queue, [delayed.id, leased.id]), ["delayed", "leased"]);
    // A dead letter past its TTL is gone.
    clock.time += 7 * 86_400_000;
    assert.deepEqual(await broker.state(queue, [dead.id]), ["missing"]);
  });

  test("given a state query, then it changes nothing: counts stay, and claims and acks still work", async ({ broker, queue, clock, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    const first = await task.send();
    const second = await task.send();
    const later = await task.sendWithOptions({ delay: 1_000 });
    const [held] = await broker.claimById(queue, [second.id]).then((r) => r.claimed);
    clock.time += 1_000;
    const before = await broker.stats(queue);
    assert.deepEqual(before, { ready: 1, delayed: 1, leased: 1, dead: 0 });
    const ids = [first.id, second.id, later.id];
    assert.deepEqual(await broker.state(queue, ids), ["ready", "leased", "delayed"]);
    assert.deepEqual(await broker.stats(queue), before);
    const claims = await broker.claim(queue, { count: 10 });
    assert.deepEqual(claims.map((c) => c.id), [first.id, later.id]);
    assert.deepEqual(await broker.ack(queue, [...claims, held]), [true, true, true]);
    assert.deepEqual(await broker.state(queue, ids), ["missing", "missing", "missing"]);
  });

  test("given an invalid queue name, when asked a state, then TypeError", async ({ broker }) => {
    await assert.rejects(async () => await broker.state("bad queue{", ["x"]), TypeError);
  });

  test("given settle with effects, then they are written with the transition, once; a stale or repeated settle writes nothing", async ({ broker, queue, clock, name }) => {
    const other = `${queue}-other`;
    const task = actor(name("task"), (_n?: number) => {}, { broker, queue });
    const away = actor(name("away"), (_n?: number) => {}, { broker, queue: other });
    await task.send(1);
    const [claim] = await broker.claim(queue);
    const { records } = broker.encodeMessages([
      away.message(2),
      task.messageWithOptions({ args: [3], delay: 1_000 }),
    ]);
    const effects = { messages: records };
    assert.deepEqual(await broker.settle(queue, claim, { kind: "ack", effects }), {
      done: true,
      enqueued: [
        { id: records[0].id, queue: other, delayed: false },
        { id: records[1].id, queue, delayed: true },
      ],
    });
    assert.deepEqual(await broker.settle(queue, claim, { kind: "ack", effects }), {
      done: false,
      enqueued: [],
    });
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 1, leased: 0, dead: 0 });
    assert.equal((await broker.stats(other)).ready, 1);

    clock.time += 1_000;
    const [retried] = await broker.claim(queue);
    const [callback] = broker.encodeMessages([task.message(4)]).records;
    const retry = { kind: "retry" as const, at: clock.time + 5_000 };
    const done = await broker.settle(queue, retried, {
      ...retry,
      effects: { messages: [callback] },
    });
    assert.deepEqual(done.enqueued, [{ id: callback.id, queue, delayed: false }]);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 1, leased: 0, dead: 0 });
    await options.cleanup?.(broker, other);
  });

  test("given a tracked group, then each member reports once, and the completion gets the results in member order", async ({ broker, queue, name }) => {
    const received: unknown[][] = [];
    const member = actor(name("member"), (_n: number) => {}, { broker, queue });
    const gather = actor(name("gather"), (...args: unknown[]) => {
      received.push(args);
    }, { broker, queue });
    const next = gather.message("results");
    const id = crypto.randomUUID();
    const start = {
      id,
      home: queue,
      size: 2,
      onCompletion: [makeTemplate({ ...next, id: next.id, options: {} }, true)],
      onFailure: [],
      ttl: 60_000,
    };
    const report = { group: id, home: queue, size: 2, keep: true, queues: [queue] };
    await broker.enqueue([member.message(0), member.message(1)], { groups: [start] });
    await broker.enqueue([], { groups: [start] }); // a second start changes nothing
    const [one, two] = await broker.claim(queue, { count: 2 });
    const second = { member: { ...report, index: 1, result: '"b"' } };
    const first = { member: { ...report, index: 0, result: '{"a":[1]}' } };
    assert.deepEqual(
      (await broker.settle(queue, two, { kind: "ack", effects: second })).enqueued,
      [],
    );
    const last = await broker.settle(queue, one, { kind: "ack", effects: first });
    assert.deepEqual(last.enqueued, [{ id: next.id, queue, delayed: false }]);
    await broker.join(queue);
    assert.deepEqual(received, [["results", [{ a: [1] }, "b"]]]);
  });

  test("given a bad envelope, an unknown actor or invalid arguments, when processed, then each is dead with a reason", async ({ broker, queue, name }) => {
    class Garbled extends Message {
      override encode(): string {
        return "{not json";
      }
    }
    const strict = actor(name("strict"), (_n: number) => {}, {
      broker,
      queue,
      args: v.tuple([v.number()]),
    });
    await broker.enqueue([
      new Garbled({ queue, actor: strict.name, args: [1] }),
      new Message({ queue, actor: name("nobody"), args: [] }),
      new Message({ queue, actor: strict.name, args: ["one"] }),
      new Message({ queue, actor: strict.name, args: [1], options: { maxRetries: -1 } }),
    ]);
    await assert.rejects(broker.join(queue), TypeError);
    await broker.join(queue, { failFast: false });
    const reasons = (await broker.deadLetters(queue)).map((d) => d.reason);
    assert.equal(reasons.length, 4);
    assert.match(reasons[0], /not JSON/);
    assert.match(reasons[1], /no actor named/);
    assert.match(reasons[2], /argument 0 must be number/);
    assert.match(reasons[3], /'maxRetries' must be a non-negative integer/);
    assert.ok(reasons.every((reason) => !reason.includes('"one"')));
  });

  test("given an oversized message, when sent, then MessageTooLarge and nothing is written", async ({ broker, queue, name }) => {
    const task = actor(name("task"), (_s: string) => {}, { broker, queue });
    await assert.rejects(
      broker.enqueue([task.message("small"), task.message("x".repeat(300_000))]),
      MessageTooLarge,
    );
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  });

  test("given an actor past its maxAge, when processed, then it is dead without running", async ({ broker, queue, clock, name }) => {
    let runs = 0;
    const task = actor(name("task"), () => {
      runs++;
    }, { broker, queue, maxAge: 1_000 });
    await task.send();
    clock.time += 1_001;
    await broker.join(queue);
    assert.equal(runs, 0);
    const [dead] = await broker.deadLetters(queue);
    assert.match(dead.reason, /older than its maxAge of 1000 ms/);
  });

  test("given an actor past its timeLimit, when it runs, then its signal aborts and the attempt fails", async ({ broker, queue, name }) => {
    let reason: unknown;
    const task = actor(name("task"), function (this: MessageContext) {
      return new Promise((_, reject) => {
        this.signal.addEventListener("abort", () => {
          reason = this.signal.reason;
          reject(this.signal.reason);
        });
      });
    }, { broker, queue, timeLimit: 5 });
    await task.send();
    await assert.rejects(broker.join(queue, { failFast: "any" }), TimeLimitExceeded);
    assert.ok(reason instanceof TimeLimitExceeded);
    assert.equal((await broker.stats(queue)).delayed, 1);
  });

  test("given a running worker, when stopped, then in-flight messages finish and are acked", async ({ broker, queue, name }) => {
    const started = Promise.withResolvers<void>();
    const finish = Promise.withResolvers<void>();
    let done = 0;
    const task = actor(name("task"), async () => {
      started.resolve();
      await finish.promise;
      done++;
    }, { broker, queue });
    await task.send();
    const worker = new Worker(broker, { queues: [queue], concurrency: 2, pollMin: 1, pollMax: 5 });
    await worker.start();
    await started.promise;
    const stopped = worker.stop({ timeout: 60_000 });
    finish.resolve();
    await stopped;
    assert.equal(done, 1);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  });

  test("given 200 bodies of 100 KB, when claimed 200 at a time, then each claim carries at most 1 MiB and every message comes once", async ({ broker, queue, name }) => {
    const task = actor(name("big"), (_: string) => {}, { broker, queue });
    const sent = await broker.enqueue(
      Array.from({ length: 200 }, (_, i) => task.message(String(i).padEnd(100_000, "x"))),
    );
    const seen: string[] = [];
    const sizes: number[] = [];
    for (let round = 0; round < 200 && seen.length < 200; round++) {
      const claims = await broker.claim(queue, { count: 200 });
      assert.ok(claims.length >= 1);
      sizes.push(claims.length);
      const bytes = claims.reduce((sum, c) => sum + new TextEncoder().encode(c.body).length, 0);
      assert.ok(bytes <= 1024 * 1024, `a claim of ${bytes} bytes`);
      seen.push(...claims.map((c) => c.id));
      assert.deepEqual(await broker.ack(queue, claims), claims.map(() => true));
    }
    // 100 KB bodies in envelopes of a little more: 10 fit in 1 MiB.
    assert.deepEqual(sizes, Array(20).fill(10));
    assert.deepEqual(seen, sent.map((m) => m.id));
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  });

  test("given a worker whose actor outlives the stop timeout, when stopped, then the message is handed back unretried", async ({ broker, queue, name }) => {
    const started = Promise.withResolvers<void>();
    let aborted = false;
    const task = actor(name("task"), function (this: MessageContext) {
      started.resolve();
      this.signal.addEventListener("abort", () => aborted = true);
      return new Promise(() => {}); // ignores its signal
    }, { broker, queue });
    const sent = await task.send();
    const worker = new Worker(broker, { queues: [queue], pollMin: 1, pollMax: 5 });
    await worker.start();
    await started.promise;
    await worker.stop({ timeout: 1 });
    assert.ok(aborted);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 0, leased: 0, dead: 0 });
    const [claim] = await broker.claim(queue);
    assert.equal(claim.id, sent.id);
    assert.equal(Message.decode(claim.body).retries, 0);
  });

  test(
    "given parallelism 2, when claimed, then at most 2 are leased at once and the rest wait in ready",
    async ({ broker, queue, name }) => {
      const task = actor(name("task"), (_n: number) => {}, { broker, queue });
      const sent = await broker.enqueue([1, 2, 3, 4, 5].map((n) => task.message(n)));
      const first = await broker.claim(queue, { count: 5 });
      assert.deepEqual(first.map((c) => c.id), [sent[0].id, sent[1].id]);
      assert.deepEqual(await broker.claim(queue, { count: 5 }), []);
      // Claimed by id (a push): ready, but refused as busy, and left ready.
      const pushed = await broker.claimById(queue, [sent[2].id, sent[0].id]);
      assert.deepEqual(pushed, {
        claimed: [],
        unclaimed: [{ id: sent[2].id, state: "busy" }, { id: sent[0].id, state: "leased" }],
      });
      assert.deepEqual(await broker.stats(queue), { ready: 3, delayed: 0, leased: 2, dead: 0 });
      // A settle frees a slot; a release too.
      assert.deepEqual(await broker.ack(queue, [first[0]]), [true]);
      const [third] = await broker.claim(queue, { count: 5 });
      assert.equal(third.id, sent[2].id);
      assert.deepEqual(await broker.release(queue, [first[1]]), [true]);
      const byId = await broker.claimById(queue, [sent[3].id, sent[4].id]);
      assert.deepEqual(byId.claimed.map((c) => c.id), [sent[3].id]);
      assert.deepEqual(byId.unclaimed, [{ id: sent[4].id, state: "busy" }]);
    },
    { parallelism: 2 },
  );

  test(
    "given parallelism 1 and a consumer that crashed, when its lease expires, then the slot is free again",
    async ({ broker, queue, clock, name }) => {
      const task = actor(name("task"), (_n: number) => {}, { broker, queue });
      await broker.enqueue([task.message(1), task.message(2)]);
      const [lost] = await broker.claim(queue, { leaseMs: 1_000 });
      assert.deepEqual(await broker.claim(queue), []);
      clock.time += 999;
      assert.deepEqual(await broker.claim(queue), []);
      clock.time += 1;
      // The expired lease goes back to ready in its old place, and is the one claimed.
      const [again] = await broker.claim(queue, { count: 2 });
      assert.equal(again.id, lost.id);
      assert.notEqual(again.token, lost.token);
      assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 0, leased: 1, dead: 0 });
    },
    { parallelism: 1 },
  );

  test(
    "given a rate of 2 per second, when claimed, then 2 per window run and the rest wait for the next",
    async ({ broker, queue, clock, name }) => {
      clock.time = 1_700_000_000_500;
      const task = actor(name("task"), (_n: number) => {}, { broker, queue });
      const sent = await broker.enqueue([1, 2, 3, 4, 5].map((n) => task.message(n)));
      const first = await broker.claim(queue, { count: 5 });
      assert.equal(first.length, 2);
      assert.deepEqual(await broker.ack(queue, first), [true, true]);
      // Acks free no rate: the window is spent.
      assert.deepEqual(await broker.claim(queue, { count: 5 }), []);
      assert.deepEqual((await broker.claimById(queue, [sent[2].id])).unclaimed, [
        { id: sent[2].id, state: "busy" },
      ]);
      clock.time += 499;
      assert.deepEqual(await broker.claim(queue), []);
      clock.time += 1; // the next window
      const byId = await broker.claimById(queue, [sent[2].id]);
      assert.deepEqual(byId.claimed.map((c) => c.id), [sent[2].id]);
      assert.deepEqual((await broker.claim(queue, { count: 5 })).map((c) => c.id), [sent[3].id]);
      assert.deepEqual(await broker.claim(queue, { count: 5 }), []);
      clock.time += 1_000;
      assert.deepEqual((await broker.claim(queue, { count: 5 })).map((c) => c.id), [sent[4].id]);
    },
    { rate: { limit: 2, period: 1_000 } },
  );

  test(
    "given parallelism and a rate, when claimed, then the tighter of the two holds",
    async ({ broker, queue, clock, name }) => {
      const task = actor(name("task"), (_n: number) => {}, { broker, queue });
      await broker.enqueue([1, 2, 3, 4, 5, 6].map((n) => task.message(n)));
      const first = await broker.claim(queue, { count: 6 });
      assert.equal(first.length, 2); // parallelism
      await broker.ack(queue, first);
      assert.equal((await broker.claim(queue, { count: 6 })).length, 1); // the rate's last one
      clock.time += 10_000;
      assert.equal((await broker.claim(queue, { count: 6 })).length, 1); // the parallelism's last
    },
    { parallelism: 2, rate: { limit: 3, period: 10_000 } },
  );

  test(
    "given a limited queue drained by join, then every message runs, never more at once than allowed",
    async ({ broker, queue, name }) => {
      let running = 0;
      let most = 0;
      const task = actor(name("task"), async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 1));
        running--;
      }, { broker, queue });
      await broker.enqueue(Array.from({ length: 6 }, () => task.message()));
      const worker = new Worker(broker, {
        queues: [queue],
        concurrency: 4,
        pollMin: 1,
        pollMax: 2,
      });
      await worker.start();
      await broker.join(queue, { timeout: 10_000 });
      await worker.stop();
      assert.equal(most, 1);
      assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    },
    { parallelism: 1 },
  );

  test(
    "given keyParallelism 1, when claimed, then one per flow key is leased, other keys and keyless ones are not held up, and the rest wait",
    async ({ broker, queue, name }) => {
      const task = actor(name("task"), (_n: number) => {}, { broker, queue });
      const of = (flowKey: string | undefined, n: number) =>
        task.messageWithOptions({ args: [n], flowKey });
      const [a1, a2, a3, b1, b2, n1, n2] = await broker.enqueue([
        of("tenant-a", 1),
        of("tenant-a", 2),
        of("tenant-a", 3),
        of("tenant-b", 4),
        of("tenant-b", 5),
        of(undefined, 6),
        of(undefined, 7),
      ]);
      const first = await broker.claim(queue, { count: 10 });
      assert.deepEqual(first.map((c) => c.id), [a1.id, b1.id, n1.id, n2.id]);
      assert.equal(Message.decode(first[0].body).flowKey, "tenant-a");
      assert.deepEqual(await broker.claim(queue, { count: 10 }), []);
      // Claimed by id (a push): its key is full, so busy, and it stays ready.
      assert.deepEqual(await broker.claimById(queue, [a2.id, b1.id]), {
        claimed: [],
        unclaimed: [{ id: a2.id, state: "busy" }, { id: b1.id, state: "leased" }],
      });
      assert.deepEqual(await broker.stats(queue), { ready: 3, delayed: 0, leased: 4, dead: 0 });
      assert.deepEqual(await broker.state(queue, [a2.id, a3.id, b2.id]), [
        "ready",
        "ready",
        "ready",
      ]);
      // An ack frees its key's slot, and only its key's.
      assert.deepEqual(await broker.ack(queue, [first[0]]), [true]);
      const second = await broker.claim(queue, { count: 10 });
      assert.deepEqual(second.map((c) => c.id), [a2.id]);
      // A release frees it too, and the message keeps its place.
      assert.deepEqual(await broker.release(queue, [first[1]]), [true]);
      assert.deepEqual((await broker.claim(queue, { count: 10 })).map((c) => c.id), [b1.id]);
      // A retry frees it; a settle with effects too.
      assert.equal(await broker.nack(queue, second[0], { kind: "retry", at: 0 }), true);
      const byId = await broker.claimById(queue, [a3.id, b2.id]);
      assert.deepEqual(byId.claimed.map((c) => c.id), [a3.id]);
      assert.deepEqual(byId.unclaimed, [{ id: b2.id, state: "busy" }]);
      const next = task.message(8);
      const settled = await broker.settle(queue, byId.claimed[0], {
        kind: "ack",
        effects: { messages: broker.encodeMessages([next]).records },
      });
      assert.equal(settled.done, true);
      // The retried a2 comes back after a3's slot freed; b2 still waits for b1.
      assert.deepEqual((await broker.claim(queue, { count: 10 })).map((c) => c.id), [
        a2.id,
        next.id,
      ]);
    },
    { keyParallelism: 1 },
  );

  test(
    "given keyParallelism 1 and A's backlog of 1000 before B's message, when claimed one at a time, then B's runs at once",
    async ({ broker, queue, name }) => {
      const task = actor(name("task"), (_n: number) => {}, { broker, queue });
      const backlog = Array.from(
        { length: 1_000 },
        (_, n) => task.messageWithOptions({ args: [n], flowKey: "tenant-a" }),
      );
      const sent = await broker.enqueue(backlog);
      const [b] = await broker.enqueue([task.messageWithOptions({ args: [0], flowKey: "b" })]);
      const [a] = await broker.claim(queue);
      assert.equal(a.id, sent[0].id);
      assert.deepEqual((await broker.claim(queue)).map((c) => c.id), [b.id]);
      assert.deepEqual(await broker.claim(queue), []);
      assert.deepEqual(await broker.stats(queue), { ready: 999, delayed: 0, leased: 2, dead: 0 });
      // A's slot frees: its next message, in send order.
      await broker.ack(queue, [a]);
      assert.deepEqual((await broker.claim(queue, { count: 5 })).map((c) => c.id), [sent[1].id]);
    },
    { keyParallelism: 1 },
  );

  test(
    "given keyParallelism 2 and a consumer that crashed, when its lease expires, then its key's slot is free again",
    async ({ broker, queue, clock, name }) => {
      const task = actor(name("task"), (_n: number) => {}, { broker, queue });
      const sent = await broker.enqueue(
        [1, 2, 3].map((n) => task.messageWithOptions({ args: [n], flowKey: "tenant-a" })),
      );
      const lost = await broker.claim(queue, { count: 3, leaseMs: 1_000 });
      assert.deepEqual(lost.map((c) => c.id), [sent[0].id, sent[1].id]);
      assert.deepEqual(await broker.claim(queue), []);
      clock.time += 1_000;
      // The expired leases go back to ready in their old places, and are the ones claimed.
      const again = await broker.claim(queue, { count: 3 });
      assert.deepEqual(again.map((c) => c.id), [sent[0].id, sent[1].id]);
      await broker.ack(queue, again);
      assert.deepEqual((await broker.claim(queue, { count: 3 })).map((c) => c.id), [sent[2].id]);
    },
    { keyParallelism: 2 },
  );

  test(
    "given keyParallelism and parallelism, when claimed, then both hold",
    async ({ broker, queue, name }) => {
      const task = actor(name("task"), (_n: number) => {}, { broker, queue });
      const sent = await broker.enqueue(
        ["a", "a", "b", "c", "d"].map((flowKey, n) =>
          task.messageWithOptions({ args: [n], flowKey })
        ),
      );
      const first = await broker.claim(queue, { count: 5 });
      assert.deepEqual(first.map((c) => c.id), [sent[0].id, sent[2].id]);
      await broker.ack(queue, first);
      const second = await broker.claim(queue, { count: 5 });
      assert.deepEqual(second.map((c) => c.id), [sent[1].id, sent[3].id]);
    },
    { keyParallelism: 1, parallelism: 2 },
  );

  test(
    "given messages waiting for their flow key, when cancelled or flushed, then they never run",
    async ({ broker, queue, name }) => {
      const task = actor(name("task"), (_n: number) => {}, { broker, queue });
      const sent = await broker.enqueue(
        [1, 2, 3, 4].map((n) => task.messageWithOptions({ args: [n], flowKey: "tenant-a" })),
      );
      const [running] = await broker.claim(queue, { count: 4 });
      assert.deepEqual(await broker.cancel(queue, [sent[1].id]), ["cancelled"]);
      assert.deepEqual(await broker.flush(queue), { ready: 2, delayed: 0, dead: 0 });
      assert.deepEqual(await broker.ack(queue, [running]), [true]);
      assert.deepEqual(await broker.claim(queue, { count: 4 }), []);
      assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
      // A running one cancelled frees its key's slot.
      const [later] = await broker.enqueue([
        task.messageWithOptions({ args: [5], flowKey: "tenant-a" }),
        task.messageWithOptions({ args: [6], flowKey: "tenant-a" }),
      ]);
      const [claimed] = await broker.claim(queue, { count: 4 });
      assert.equal(claimed.id, later.id);
      assert.deepEqual(await broker.cancel(queue, [later.id]), ["running"]);
      assert.equal((await broker.claim(queue, { count: 4 })).length, 1);
    },
    { keyParallelism: 1 },
  );

  test("given an invalid flow key, when a message is built, then TypeError says what was expected", ({ name }) => {
    const task = actor(name("task"), () => {});
    for (const flowKey of ["", "a{b}", "x".repeat(201), 42]) {
      assert.throws(
        () => task.messageWithOptions({ flowKey: flowKey as string }),
        /'flowKey' must be 1 to 200 of A-Z a-z 0-9 _ \. : @ \/ -, received/,
      );
    }
    return Promise.resolve();
  });

  test("given invalid queue limits, when a broker is made, then TypeError says which and what was expected", async () => {
    const cases: [unknown, RegExp][] = [
      [
        { q: { parallelism: 0 } },
        /'queues\.q\.parallelism' must be a positive integer, received 0/,
      ],
      [{ q: { rate: { limit: 1 } } }, /'queues\.q\.rate\.period' must be a positive integer/],
      [{ q: { concurrency: 1 } }, /'queues\.q\.concurrency' is not a limit/],
      [
        { q: { keyParallelism: 1.5 } },
        /'queues\.q\.keyParallelism' must be a positive integer, received 1\.5/,
      ],
      [{ "a{b}": {} }, /'queues' must be an object of limits keyed by queue names/],
    ];
    for (const [queues, message] of cases) {
      await assert.rejects(
        async () =>
          await factory({
            now: Date.now,
            logger: silentLogger,
            queues: queues as Record<string, QueueOptions>,
          }),
        (error: Error) => error instanceof TypeError && message.test(error.message),
      );
    }
  });

  test("given an actor that reports progress, when read, then the latest value, coalesced, and none for others", async ({ broker, queue, name }) => {
    let reported = 0;
    const task = actor(name("progress"), async function (this: MessageContext) {
      const writes = [1, 2, 3].map((n) => this.progress({ done: n, total: 3 }));
      await Promise.all(writes);
      reported = writes.length;
      assert.throws(() => this.progress("x".repeat(2_000)), /at most 1024 bytes as JSON, received/);
      assert.throws(() => this.progress(undefined), /must be JSON-serializable/);
    }, { broker, queue });
    const sent = await task.send();
    await broker.join(queue);
    assert.equal(reported, 3);
    assert.deepEqual(await broker.progress(queue, sent.id), { done: 3, total: 3 });
    assert.equal(await broker.progress(queue, "never-sent"), undefined);
  });

  test(
    "given the throughput option, when messages are acked, retried and dead-lettered in two minutes, then throughput() counts each once per minute, oldest first",
    async ({ broker, queue, clock }) => {
      const make = () => new Message({ queue, actor: "task", args: [] });
      await broker.enqueue(Array.from({ length: 6 }, make));
      const claims = await broker.claim(queue, { count: 6 });
      // Minute one: 2 acked in one call, 1 retried, 1 dead; a stale ack counts nothing.
      assert.deepEqual(await broker.ack(queue, claims.slice(0, 2)), [true, true]);
      assert.deepEqual(await broker.ack(queue, [claims[0]]), [false]);
      assert.equal(
        await broker.nack(queue, claims[2], { kind: "retry", at: clock.time + 1 }),
        true,
      );
      assert.equal(await broker.nack(queue, claims[3], { kind: "dead", reason: "x" }), true);
      // Minute two: a settle with effects of each kind.
      clock.time += 60_000;
      const [next, other] = broker.encodeMessages([make(), make()]).records;
      const ack = await broker.settle(queue, claims[4], {
        kind: "ack",
        effects: { messages: [next] },
      });
      assert.equal(ack.done, true);
      const dead = await broker.settle(queue, claims[5], {
        kind: "dead",
        reason: "x",
        effects: { messages: [other] },
      });
      assert.equal(dead.done, true);
      const stale = await broker.settle(queue, claims[5], {
        kind: "ack",
        effects: { messages: [other] },
      });
      assert.equal(stale.done, false);
      const minute = Math.floor(clock.time / 60_000) * 60_000;
      assert.deepEqual(await broker.throughput(queue, { minutes: 3 }), [
        { at: minute - 120_000, acked: 0, retried: 0, dead: 0 },
        { at: minute - 60_000, acked: 2, retried: 1, dead: 1 },
        { at: minute, acked: 1, retried: 0, dead: 1 },
      ]);
      assert.equal((await broker.throughput(queue))?.length, 15, "15 minutes by default");
      clock.time += 59 * 60_000;
      const [oldest] = (await broker.throughput(queue, { minutes: 60 }))!;
      assert.deepEqual(oldest, { at: minute, acked: 1, retried: 0, dead: 1 }, "kept an hour");
    },
    undefined,
    { throughput: true },
  );

  test(
    "given keyParallelism and the throughput option, when keyed messages are acked, settled and dead-lettered, then slots free, parked ones come back, and each is counted once",
    async ({ broker, queue, clock }) => {
      const make = () => new Message({ queue, actor: "task", args: [], flowKey: "tenant-a" });
      const sent = await broker.enqueue([make(), make(), make()]);
      // One slot for the key: the other two wait.
      const [first] = await broker.claim(queue, { count: 3 });
      assert.equal(first.id, sent[0].id);
      assert.deepEqual(await broker.claim(queue, { count: 3 }), []);
      assert.deepEqual(await broker.ack(queue, [first]), [true]);
      const [second] = await broker.claim(queue, { count: 3 });
      assert.equal(second.id, sent[1].id);
      const [next] = broker.encodeMessages([new Message({ queue, actor: "task", args: [] })])
        .records;
      const settled = await broker.settle(queue, second, {
        kind: "ack",
        effects: { messages: [next] },
      });
      assert.equal(settled.done, true);
      const claims = await broker.claim(queue, { count: 3 });
      assert.deepEqual(claims.map((c) => c.id).sort(), [sent[2].id, next.id].sort());
      const third = claims.find((c) => c.id === sent[2].id)!;
      assert.equal(await broker.nack(queue, third, { kind: "dead", reason: "x" }), true);
      const minute = Math.floor(clock.time / 60_000) * 60_000;
      assert.deepEqual(await broker.throughput(queue, { minutes: 1 }), [
        { at: minute, acked: 2, retried: 0, dead: 1 },
      ]);
      assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 1, dead: 1 });
    },
    { keyParallelism: 1 },
    { throughput: true },
  );

  test("given no throughput option, then throughput() answers undefined, and bad minutes are a RangeError", async ({ broker, queue }) => {
    await broker.enqueue([new Message({ queue, actor: "task", args: [] })]);
    await broker.ack(queue, await broker.claim(queue));
    assert.equal(await broker.throughput(queue, { minutes: 5 }), undefined);
    for (const minutes of [0, 61, 1.5, Number.NaN]) {
      await assert.rejects(
        () => broker.throughput(queue, { minutes }),
        (error: Error) =>
          error instanceof RangeError &&
          /'minutes' must be an integer from 1 to 60 \(counts are kept an hour\), received/
            .test(error.message),
      );
    }
    await assert.rejects(() => broker.throughput("bad queue"), TypeError);
  });
}
