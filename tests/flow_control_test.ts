/**
 * Debounce, throttle, cancel and flush (`docs/flow_control.md`), one suite run against
 * both brokers (`forEachBroker`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import { group } from "../src/composition/group.ts";
import { pipeline } from "../src/composition/pipeline.ts";
import { processMessage } from "../src/process.ts";
import { ResultFailure } from "../src/results/errors.ts";
import { forEachBroker } from "./_brokers.ts";

const EMPTY = { ready: 0, delayed: 0, leased: 0, dead: 0 };

forEachBroker(
  "debounce: given three sends with one key inside the delay, then one message runs once with the last arguments, pushed back by each send",
  async ({ broker, queue, clock, name }) => {
    const runs: string[] = [];
    const task = actor(name("task"), (s: string) => void runs.push(s), { broker, queue });
    const debounce = { key: "user:1", delay: 5_000, maxDelay: 60_000 };
    const start = clock.time;
    const first = await task.sendWithOptions({ args: ["a"], debounce });
    clock.time += 3_000;
    const second = await task.sendWithOptions({ args: ["b"], debounce });
    clock.time += 3_000;
    const third = await task.sendWithOptions({ args: ["c"], debounce });
    assert.deepEqual([first.debounced, second.debounced, third.debounced], [false, true, true]);
    assert.equal(second.id, first.id);
    assert.equal(third.id, first.id);
    assert.deepEqual(await broker.stats(queue), { ...EMPTY, delayed: 1 });
    clock.time = start + 10_999; // the last send's delay has not passed
    assert.deepEqual(await broker.claim(queue), []);
    clock.time = start + 11_000;
    await broker.join(queue);
    assert.deepEqual(runs, ["c"]);
    assert.deepEqual(await broker.state(queue, [first.id]), ["missing"]);
  },
);

forEachBroker(
  "debounce: given sends that keep coming, then the message runs at first send + maxDelay",
  async ({ broker, queue, clock, name }) => {
    const runs: string[] = [];
    const task = actor(name("task"), (s: string) => void runs.push(s), { broker, queue });
    const debounce = { key: "k", delay: 5_000, maxDelay: 8_000 };
    const start = clock.time;
    for (const s of ["a", "b", "c"]) {
      await task.sendWithOptions({ args: [s], debounce });
      clock.time += 3_000;
    }
    clock.time = start + 7_999;
    assert.deepEqual(await broker.claim(queue), []);
    clock.time = start + 8_000;
    const [claim] = await broker.claim(queue);
    assert.equal(JSON.parse(claim.body).args[0], "c");
    assert.equal(JSON.parse(claim.body).eta, start + 8_000);
  },
);

forEachBroker(
  "debounce: given the waiting message was claimed, when the key is sent again, then a new message starts",
  async ({ broker, queue, clock, name }) => {
    const task = actor(name("task"), (_s: string) => {}, { broker, queue });
    const debounce = { key: "k", delay: 1_000 };
    const first = await task.sendWithOptions({ args: ["a"], debounce });
    clock.time += 1_000;
    const [claim] = await broker.claim(queue);
    assert.equal(claim.id, first.id);
    const next = await task.sendWithOptions({ args: ["b"], debounce });
    assert.equal(next.debounced, false);
    assert.notEqual(next.id, first.id);
    assert.deepEqual(await broker.stats(queue), { ...EMPTY, delayed: 1, leased: 1 });
  },
);

forEachBroker(
  "throttle: given a send inside the period of the last one stored, then it is dropped and says so",
  async ({ broker, queue, clock, name }) => {
    const runs: string[] = [];
    const task = actor(name("task"), (s: string) => void runs.push(s), { broker, queue });
    // A short period: Redis expires the key on its own clock, the memory broker on the test's.
    const throttle = { key: "report", period: 50 };
    const first = await task.sendWithOptions({ args: ["a"], throttle });
    const dropped = await task.sendWithOptions({ args: ["b"], throttle });
    assert.deepEqual([first.throttled, dropped.throttled], [false, true]);
    assert.notEqual(dropped.id, first.id);
    assert.deepEqual(await broker.state(queue, [dropped.id]), ["missing"]);
    await broker.join(queue);
    assert.deepEqual(runs, ["a"]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    clock.time += 60; // the period since the first send is over
    const later = await task.sendWithOptions({ args: ["c"], throttle });
    assert.equal(later.throttled, false);
    await broker.join(queue);
    assert.deepEqual(runs, ["a", "c"]);
  },
);

forEachBroker(
  "cancel: given messages in every state, then ready and delayed ones are removed, a running one's lease is gone, dead and unknown ones are left",
  async ({ broker, queue, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    const [dead, running, ready] = await broker.enqueue([
      task.message(),
      task.message(),
      task.message(),
    ]);
    const delayed = await task.sendWithOptions({ delay: 60_000 });
    const [deadClaim] = await broker.claim(queue);
    await broker.nack(queue, deadClaim, { kind: "dead", reason: "gave up" });
    const [claim] = await broker.claim(queue);
    assert.equal(claim.id, running.id);
    const ids = [ready.id, delayed.id, running.id, dead.id, "unknown", ready.id];
    const outcomes = ["cancelled", "cancelled", "running", "dead", "missing", "cancelled"];
    assert.deepEqual(await broker.cancel(queue, ids), outcomes);
    assert.deepEqual(await broker.stats(queue), { ...EMPTY, dead: 1 });
    // The running attempt finishes, but its ack is refused: nothing follows it.
    assert.deepEqual(await broker.ack(queue, [claim]), [false]);
    assert.deepEqual(await broker.cancel(queue, ids.slice(0, 3)), [
      "missing",
      "missing",
      "missing",
    ]);
  },
);

forEachBroker(
  "cancel: given a pipeline whose second step is running, when it is cancelled, then its next step never starts and the pipeline fails as cancelled",
  async ({ broker, queue, name }) => {
    const runs: string[] = [];
    const step = actor(name("step"), (s: string) => {
      runs.push(s);
      return s;
    }, { broker, queue, storeResults: true, pipeIgnore: true });
    const p = pipeline([step.message("a"), step.message("b"), step.message("c")]);
    await p.run();
    const [first] = await broker.claim(queue);
    await processMessage(broker, queue, first);
    const [second] = await broker.claim(queue);
    assert.deepEqual(await broker.cancel(queue, [second.id]), ["running"]);
    const report = await processMessage(broker, queue, second);
    assert.equal(report.status, "stale");
    await broker.join(queue);
    assert.deepEqual(runs, ["a", "b"]);
    await assert.rejects(p.getResult({ block: true, timeout: 5_000 }), (error) => {
      assert.ok(error instanceof ResultFailure);
      assert.equal(error.errorType, "Cancelled");
      return true;
    });
  },
);

forEachBroker(
  "cancel: given a group member not started, when it is cancelled, then the group fails as cancelled and its completion never fires",
  async ({ broker, queue, name }) => {
    const failures: unknown[] = [];
    const completed: unknown[] = [];
    const work = actor(name("work"), (n: number) => n, { broker, queue });
    const onFailure = actor(name("failed"), (_data?: unknown, exception?: unknown) => {
      failures.push(exception);
    }, { broker, queue });
    const onDone = actor(name("done"), () => void completed.push(1), { broker, queue });
    const members = [work.message(1), work.message(2)];
    const g = group(members).addFailureCallback(onFailure.message())
      .addCompletionCallback(onDone.message());
    await g.run();
    assert.deepEqual(await broker.cancel(queue, [members[1].id]), ["cancelled"]);
    assert.deepEqual(await broker.cancel(queue, [members[1].id]), ["missing"]);
    await broker.join(queue);
    assert.deepEqual(failures, [{ type: "Cancelled", message: "The message was cancelled" }]);
    assert.deepEqual(completed, []);
    assert.deepEqual(await broker.stats(queue), EMPTY);
  },
);

forEachBroker(
  "cancel: given message.cancel(), then it cancels through its actor's broker",
  async ({ broker, queue, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    const message = await task.sendWithOptions({ delay: 1_000 });
    assert.equal(await message.cancel(), "cancelled");
    assert.equal(await message.cancel(), "missing");
  },
);

forEachBroker(
  "flush: given ready, delayed, leased and dead messages, then all but the leased are removed and counted",
  async ({ broker, queue, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    await broker.enqueue([task.message(), task.message(), task.message(), task.message()]);
    await task.sendWithOptions({ delay: 60_000 });
    const [dead, leased] = await broker.claim(queue, { count: 2 });
    await broker.nack(queue, dead, { kind: "dead", reason: "x" });
    assert.deepEqual(await broker.flush(queue), { ready: 2, delayed: 1, dead: 1 });
    assert.deepEqual(await broker.stats(queue), { ...EMPTY, leased: 1 });
    assert.deepEqual(await broker.flush(queue), { ready: 0, delayed: 0, dead: 0 });
    assert.deepEqual(await broker.ack(queue, [leased]), [true]);
    const counts = await broker.flushAll([queue]);
    assert.deepEqual(counts[queue], { ready: 0, delayed: 0, dead: 0 });
  },
);

forEachBroker(
  "flow control: given bad options, then the send is refused with a clear error",
  async ({ broker, queue, name }) => {
    const task = actor(name("task"), () => {}, { broker, queue });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ debounce: { key: "k", delay: 0 } }, /'debounce\.delay' must be >=1/],
      [{ debounce: { key: "a b", delay: 5 } }, /'debounce\.key' must be/],
      [{ debounce: { key: "k", delay: 10, maxDelay: 5 } }, /'maxDelay' >= 'delay'/],
      [{ debounce: { key: "k", delay: 5 }, delay: 5 }, /'debounce' sets the delay/],
      [{ debounce: { key: "k", delay: 5 }, dedupKey: "k" }, /set one of/],
      [{ throttle: { key: "k" } }, /'throttle\.period' must be/],
      [{ throttle: { key: "k", period: 5, extra: 1 } }, /'throttle\.extra'/],
    ];
    for (const [options, pattern] of cases) {
      await assert.rejects(task.sendWithOptions(options as never), (error: Error) => {
        assert.ok(error instanceof TypeError, error.message);
        assert.match(error.message, pattern);
        return true;
      });
    }
    const ids = Array.from({ length: 1_001 }, (_, i) => String(i));
    await assert.rejects(broker.cancel(queue, ids), RangeError);
    await assert.rejects(broker.cancel("bad queue", []), TypeError);
  },
);
