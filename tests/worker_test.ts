import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import type { Broker, Claim, ClaimOptions, Lease, LeaseOptions } from "../src/broker.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import type { MessageContext } from "../src/context.ts";
import { Middleware } from "../src/middleware/middleware.ts";
import { processMessage } from "../src/process.ts";
import { Worker } from "../src/worker.ts";
import { silentLogger } from "./broker_conformance.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";
import { countingIntervals, leaseWatch } from "./_heartbeat.ts";

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;
const fast = { pollMin: 1, pollMax: 5 };

Deno.test("Worker: given more messages than slots, then at most `concurrency` run at once", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = unique("q");
  let running = 0;
  let peak = 0;
  const task = actor(unique("t"), async () => {
    peak = Math.max(peak, ++running);
    await new Promise((resolve) => setTimeout(resolve, 2));
    running--;
  }, { broker, queue });
  await broker.enqueue(Array.from({ length: 9 }, () => task.message()));
  const worker = new Worker(broker, { queues: [queue], concurrency: 3, ...fast });
  await worker.start();
  await worker.join();
  await worker.stop();
  assert.equal(peak, 3);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("Worker: given several queues, then it consumes all of them", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const [a, b] = [unique("a"), unique("b")];
  const seen: string[] = [];
  const onA = actor(unique("t"), () => {
    seen.push("a");
  }, { broker, queue: a });
  const onB = actor(unique("t"), () => {
    seen.push("b");
  }, { broker, queue: b });
  const worker = new Worker(broker, { queues: [a, b], ...fast });
  await worker.start();
  await onA.send();
  await onB.send();
  await broker.join(a);
  await broker.join(b);
  await worker.join();
  await worker.stop();
  assert.deepEqual(seen.sort(), ["a", "b"]);
});

Deno.test("Worker: given a failing actor, then join re-raises its error unless failFast is false", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = unique("q");
  const task = actor(unique("t"), () => {
    throw new SyntaxError("bad");
  }, { broker, queue, maxRetries: 0 });
  const worker = new Worker(broker, { queues: [queue], ...fast });
  await worker.start();
  await task.send();
  await assert.rejects(worker.join(), SyntaxError);
  await task.send();
  await worker.join({ failFast: false });
  await worker.stop();
  assert.equal((await broker.stats(queue)).dead, 2);
});

Deno.test("Worker: given a stop while a claim is in flight, then the claimed messages are handed back", async () => {
  const gate = Promise.withResolvers<void>();
  const claiming = Promise.withResolvers<void>();
  class SlowClaims extends MemoryBroker {
    override async claim(queue: string, options?: ClaimOptions): Promise<Claim[]> {
      claiming.resolve();
      await gate.promise;
      return await super.claim(queue, options);
    }
  }
  const broker = new SlowClaims({ logger: silentLogger });
  const queue = unique("q");
  let runs = 0;
  const task = actor(unique("t"), () => {
    runs++;
  }, { broker, queue });
  await task.send();
  await task.send();
  const worker = new Worker(broker, { queues: [queue], ...fast });
  await worker.start();
  await claiming.promise;
  const stopped = worker.stop();
  gate.resolve();
  await stopped;
  assert.equal(runs, 0);
  assert.deepEqual(await broker.stats(queue), { ready: 2, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("Worker: given a long actor, then the heartbeat keeps its lease", async () => {
  const clock = { time: 0 };
  const extended = Promise.withResolvers<void>();
  const calls: number[] = [];
  class Watched extends MemoryBroker {
    override async extendLeases(
      q: string,
      leases: readonly Lease[],
      options?: LeaseOptions,
    ): Promise<boolean[]> {
      const held = await super.extendLeases(q, leases, options);
      calls.push(leases.length);
      extended.resolve();
      return held;
    }
  }
  const broker: Broker = new Watched({ now: () => clock.time, logger: silentLogger });
  const queue = unique("q");
  let stolen: Claim[] | undefined;
  const task = actor(unique("t"), async () => {
    clock.time += 25; // within the 30 ms lease
    await extended.promise; // a heartbeat at 25 ms: the lease now ends at 55 ms
    clock.time += 25; // past the first lease, within the extended one
    stolen = await broker.claim(queue);
  }, { broker, queue });
  await task.send();
  const worker = new Worker(broker, { queues: [queue], leaseMs: 30, ...fast });
  await worker.start();
  await worker.join();
  await worker.stop();
  assert.deepEqual(stolen, []);
  assert.ok(calls.length >= 1);
  assert.ok(calls.every((n) => n === 1));
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("Worker: given 50 messages at once, then one heartbeat extends every lease in one call, with no timer or abort listener per message", async () => {
  const { broker, extendCalls, extended } = leaseWatch(50);
  const queue = unique("q");
  const task = actor(unique("t"), () => extended, { broker, queue });
  await broker.enqueue(Array.from({ length: 50 }, () => task.message()));

  // Count live "abort" listeners per signal, and intervals, while the worker runs.
  const live = new Map<EventTarget, number>();
  let peak = 0;
  const { addEventListener, removeEventListener } = EventTarget.prototype;
  EventTarget.prototype.addEventListener = function (this: EventTarget, ...args) {
    if (this instanceof AbortSignal && args[0] === "abort") {
      live.set(this, (live.get(this) ?? 0) + 1);
      peak = Math.max(peak, live.get(this)!);
    }
    return addEventListener.apply(this, args);
  };
  EventTarget.prototype.removeEventListener = function (this: EventTarget, ...args) {
    if (this instanceof AbortSignal && args[0] === "abort" && live.has(this)) {
      live.set(this, live.get(this)! - 1);
    }
    return removeEventListener.apply(this, args);
  };
  const worker = new Worker(broker, { queues: [queue], concurrency: 50, leaseMs: 30, ...fast });
  let intervals: number;
  try {
    ({ intervals } = await countingIntervals(async () => {
      await worker.start();
      await worker.join();
      await worker.stop();
    }));
  } finally {
    EventTarget.prototype.addEventListener = addEventListener;
    EventTarget.prototype.removeEventListener = removeEventListener;
  }
  assert.ok(extendCalls.includes(50), `heartbeat calls: ${extendCalls.join()}`);
  assert.equal(intervals, 1);
  // The one listener per message is on the message's own signal (the actor's race).
  assert.ok(peak <= 1, `peak abort listeners on one signal: ${peak}`);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("Worker: given a lease taken over while its actor runs, then the heartbeat aborts the actor and its outcome is stale", async () => {
  const clock = { time: 0 };
  const broker = new MemoryBroker({ now: () => clock.time, logger: silentLogger });
  const queue = unique("q");
  const aborted = Promise.withResolvers<unknown>();
  const task = actor(unique("t"), async function (this: MessageContext) {
    clock.time += 31; // the 30 ms lease ends
    assert.equal((await broker.claim(queue)).length, 1); // another consumer takes it over
    this.signal.addEventListener("abort", () => aborted.resolve(this.signal.reason));
    await aborted.promise;
  }, { broker, queue });
  await task.send();
  const worker = new Worker(broker, { queues: [queue], leaseMs: 30, ...fast });
  await worker.start();
  const reason = await aborted.promise;
  await worker.join({ failFast: false });
  await worker.stop();
  assert.ok(reason instanceof Error);
  assert.equal(reason.message, "The lease was lost");
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 1, dead: 0 });
});

Deno.test("Worker: given an error that will be retried, then join raises nothing by default, and at once with failFast 'any'", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = unique("q");
  let attempts = 0;
  const task = actor(unique("t"), () => {
    if (++attempts % 2 === 1) throw new RangeError(`attempt ${attempts}`);
  }, { broker, queue, maxRetries: 3, minBackoff: 1, maxBackoff: 2 });
  const worker = new Worker(broker, { queues: [queue], ...fast });
  await worker.start();
  await task.send();
  await broker.join(queue);
  await worker.join();
  assert.equal(attempts, 2);
  await task.send();
  await assert.rejects(worker.join({ failFast: "any" }), {
    name: "RangeError",
    message: "attempt 3",
  });
  await broker.join(queue);
  await worker.join();
  await worker.stop();
  assert.equal(attempts, 4);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("Worker: given middleware, then boot and shutdown hooks run around the worker", async () => {
  const log: string[] = [];
  class Lifecycle extends Middleware {
    override beforeWorkerBoot(): void {
      log.push("beforeBoot");
    }
    override afterWorkerBoot(): void {
      log.push("afterBoot");
    }
    override beforeWorkerShutdown(): void {
      log.push("beforeShutdown");
    }
    override afterWorkerShutdown(): void {
      log.push("afterShutdown");
    }
  }
  const broker = new MemoryBroker({ logger: silentLogger, middleware: [new Lifecycle()] });
  const worker = new Worker(broker, { queues: [unique("q")], ...fast });
  await worker.start();
  await worker.start(); // idempotent
  await worker.stop();
  await worker.stop(); // idempotent
  assert.deepEqual(log, ["beforeBoot", "afterBoot", "beforeShutdown", "afterShutdown"]);
  await assert.rejects(worker.start(), TypeError);
});

Deno.test("Worker: given a join timeout while an actor runs, then JoinTimeout", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = unique("q");
  const release = Promise.withResolvers<void>();
  const task = actor(unique("t"), () => release.promise, { broker, queue });
  await task.send();
  const worker = new Worker(broker, { queues: [queue], ...fast });
  await worker.start();
  await assert.rejects(worker.join({ timeout: 5 }), { name: "JoinTimeout" });
  release.resolve();
  await worker.join();
  await worker.stop();
});

Deno.test("Worker: given slow actors, then it claims up to prefetch ahead and hands back the ones not started on stop", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = unique("q");
  const gate = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  let runs = 0;
  const task = actor(unique("t"), async () => {
    if (++runs === 2) started.resolve();
    await gate.promise;
  }, { broker, queue });
  await broker.enqueue(Array.from({ length: 6 }, () => task.message()));
  const worker = new Worker(broker, { queues: [queue], concurrency: 2, prefetch: 4, ...fast });
  assert.equal(worker.prefetch, 4);
  await worker.start();
  await started.promise;
  // Two running, two claimed ahead, two left ready.
  assert.deepEqual(await broker.stats(queue), { ready: 2, delayed: 0, leased: 4, dead: 0 });
  assert.equal(worker.running, 2);
  const stopped = worker.stop();
  gate.resolve();
  await stopped;
  assert.equal(runs, 2);
  assert.deepEqual(await broker.stats(queue), { ready: 4, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("Worker: given messages claimed ahead, then the heartbeat keeps their leases too", async () => {
  const clock = { time: 0 };
  const sizes: number[] = [];
  const extended = Promise.withResolvers<void>();
  class Watched extends MemoryBroker {
    override async extendLeases(
      q: string,
      leases: readonly Lease[],
      options?: LeaseOptions,
    ): Promise<boolean[]> {
      const held = await super.extendLeases(q, leases, options);
      sizes.push(leases.length);
      extended.resolve();
      return held;
    }
  }
  const broker = new Watched({ now: () => clock.time, logger: silentLogger });
  const queue = unique("q");
  let stolen: Claim[] | undefined;
  let runs = 0;
  const task = actor(unique("t"), async () => {
    if (++runs > 1) return;
    clock.time += 25; // within the 30 ms lease
    await extended.promise; // a heartbeat: both leases now end at 55 ms
    clock.time += 25; // past the first leases, within the extended ones
    stolen = await broker.claim(queue, { count: 10 });
  }, { broker, queue });
  await broker.enqueue([task.message(), task.message()]);
  const worker = new Worker(broker, {
    queues: [queue],
    concurrency: 1,
    prefetch: 2,
    leaseMs: 30,
    ...fast,
  });
  await worker.start();
  await worker.join();
  await worker.stop();
  assert.deepEqual(stolen, []);
  assert.equal(sizes[0], 2, `heartbeat calls: ${sizes.join()}`);
  assert.equal(runs, 2);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("Worker: given a long poll pause, then join wakes the worker at once, even during a claim", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = unique("q");
  let runs = 0;
  const task = actor(unique("t"), () => void runs++, { broker, queue });
  const worker = new Worker(broker, { queues: [queue], pollMin: 60_000, pollMax: 60_000 });
  await worker.start();
  await task.send();
  await worker.join({ timeout: 5_000 });
  await worker.join({ timeout: 5_000 });
  await worker.stop();
  assert.equal(runs, 1);
});

Deno.test("Worker: given many idle queues and one with work, then the busy one is claimed first and the idle ones together", async () => {
  const rounds: string[][] = [];
  let current: string[] = [];
  class Watched extends MemoryBroker {
    override claim(queue: string, options?: ClaimOptions): Promise<Claim[]> {
      current.push(queue);
      queueMicrotask(() => {
        if (current.length > 0) rounds.push(current);
        current = [];
      });
      return super.claim(queue, options);
    }
  }
  const broker = new Watched({ logger: silentLogger });
  const queues = Array.from({ length: 20 }, () => unique("q"));
  const busy = queues[7];
  let runs = 0;
  const task = actor(unique("t"), () => void runs++, { broker, queue: busy });
  await broker.enqueue(Array.from({ length: 40 }, () => task.message()));
  const worker = new Worker(broker, { queues, concurrency: 4, ...fast });
  await worker.start();
  await worker.join();
  await worker.stop();
  assert.equal(runs, 40);
  // The first round checks every queue at once; then the busy queue goes first, alone.
  assert.equal(rounds[0].length, 20);
  assert.ok(rounds.some((round) => round.length === 1 && round[0] === busy), "busy queue alone");
  for (const round of rounds) {
    assert.ok(round.length === 1 || round.length >= 19, `round of ${round.length} claims`);
  }
});

Deno.test("Worker: given invalid options, then the constructor throws", () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  assert.throws(() => new Worker(broker, { queues: [] }), TypeError);
  assert.throws(() => new Worker(broker, { queues: ["bad queue"] }), TypeError);
  assert.throws(() => new Worker(broker, { concurrency: 0 }), RangeError);
  assert.throws(() => new Worker(broker, { leaseMs: 1.5 }), RangeError);
  assert.throws(() => new Worker(broker, { prefetch: 0 }), RangeError);
  assert.equal(new Worker(broker, { concurrency: 4, prefetch: 2 }).prefetch, 4);
  assert.equal(new Worker(broker, { concurrency: 4 }).prefetch, 64);
  // Four times concurrency, at least 64.
  assert.equal(new Worker(broker, { concurrency: 16 }).prefetch, 64);
  assert.equal(new Worker(broker, { concurrency: 40 }).prefetch, 160);
});

Deno.test("UpstashBroker: given held and stale leases, when extended together, then one request answers for each, and the extended lease holds", async () => {
  const redis = restClient();
  const namespace = testPrefix("extend").slice(0, -1);
  const clock = { time: 1_000_000 };
  let requests = 0;
  const counted = new Proxy(redis, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (key !== "pipeline" && key !== "evalsha" && key !== "eval") return value;
      return (...args: unknown[]) => {
        requests++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const broker = new UpstashBroker({
    redis: counted,
    namespace,
    now: () => clock.time,
    logger: silentLogger,
  });
  const queue = unique("q");
  try {
    const task = actor(unique("t"), () => {}, { broker, queue });
    await broker.enqueue([task.message(), task.message(), task.message()]);
    const [a, b, c] = await broker.claim(queue, { count: 3, leaseMs: 10 });
    await broker.ack(queue, [b]);
    clock.time += 9;
    await broker.extendLease(queue, a, { leaseMs: 10 }); // loads the script (NOSCRIPT once)
    requests = 0;
    const held = await broker.extendLeases(queue, [a, b, c], { leaseMs: 10 });
    assert.equal(requests, 1);
    assert.deepEqual(held, [true, false, true]);
    clock.time += 6; // past the first leases, within the extended ones
    assert.deepEqual(await broker.claim(queue), []);
    assert.deepEqual(await broker.ack(queue, [a, c]), [true, true]);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("Worker: given acks that have not landed, then actors keep running, and at most `prefetch` started messages wait for them", async () => {
  // A broker whose acks land only when let go: what a slow round trip to Redis looks like.
  class SlowAcks extends MemoryBroker {
    gate = Promise.withResolvers<void>();
    pending = 0;
    override async ack(queue: string, leases: readonly Lease[]): Promise<boolean[]> {
      this.pending += leases.length;
      await this.gate.promise;
      this.pending -= leases.length;
      return super.ack(queue, leases);
    }
  }
  const broker = new SlowAcks({ logger: silentLogger });
  const queue = unique("q");
  let started = 0;
  const task = actor(unique("t"), () => {
    started++;
  }, { broker, queue });
  await broker.enqueue(Array.from({ length: 10 }, () => task.message()));
  const worker = new Worker(broker, { queues: [queue], concurrency: 2, prefetch: 4, ...fast });
  await worker.start();
  // Wait until the worker can start nothing more.
  for (let i = 0; i < 100 && started < 4; i++) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  // Two slots, yet four actors ran: a finished actor frees its slot before its ack lands;
  // the fifth waits, because four started messages are still unacked.
  assert.equal(started, 4);
  assert.equal(broker.pending, 4);
  assert.equal(worker.running, 0);
  broker.gate.resolve();
  await worker.join();
  await worker.stop();
  assert.equal(started, 10);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("Worker: given actors slower than a claim, then it holds twice its concurrency, not its whole prefetch", async () => {
  // Counts the messages held: claimed and not yet acked, nacked or handed back.
  class Counting extends MemoryBroker {
    held = 0;
    peak = 0;
    override async claim(queue: string, options?: ClaimOptions): Promise<Claim[]> {
      const claims = await super.claim(queue, options);
      this.peak = Math.max(this.peak, this.held += claims.length);
      return claims;
    }
    override async ack(queue: string, leases: readonly Lease[]): Promise<boolean[]> {
      const done = await super.ack(queue, leases);
      this.held -= leases.length;
      return done;
    }
  }
  const broker = new Counting({ logger: silentLogger });
  const queue = unique("q");
  const task = actor(unique("t"), () => new Promise((resolve) => setTimeout(resolve, 5)), {
    broker,
    queue,
  });
  await broker.enqueue(Array.from({ length: 30 }, () => task.message()));
  const worker = new Worker(broker, { queues: [queue], concurrency: 2, ...fast });
  assert.equal(worker.prefetch, 64);
  await worker.start();
  await worker.join();
  await worker.stop();
  // Another worker could take the rest meanwhile: this one never held more than 4.
  assert.equal(broker.peak, 4);
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("processMessage: an actor that aborts its own attempt fails with the reason, and a signal read later says so", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const queue = unique("q");
  let seen: unknown;
  const created = { controllers: 0 };
  const Original = globalThis.AbortController;
  globalThis.AbortController = class extends Original {
    constructor() {
      super();
      created.controllers++;
    }
  };
  try {
    const quiet = actor(unique("t"), () => {}, { broker, queue, maxRetries: 0 });
    await quiet.send();
    const [first] = await broker.claim(queue);
    assert.equal((await processMessage(broker, queue, first)).status, "acked");
    // Nobody read the signal: no AbortController was made for it.
    assert.equal(created.controllers, 0);
    const aborting = actor(unique("t"), function (this: MessageContext) {
      this.abort(new Error("enough"));
      seen = this.signal.reason;
      return 1;
    }, { broker, queue, maxRetries: 0 });
    await aborting.send();
    const [second] = await broker.claim(queue);
    const report = await processMessage(broker, queue, second);
    assert.equal(report.status, "dead");
    assert.match(String(report.error), /enough/);
    assert.match(String(seen), /enough/);
  } finally {
    globalThis.AbortController = Original;
  }
});
