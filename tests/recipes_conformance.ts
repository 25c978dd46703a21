/**
 * The recipes suite: the Dramatiq cookbook's recipes for results, callbacks, groups and
 * pipelines, ported, run against every broker and result backend pair (`tests/recipes_test.ts`).
 * Each test gets a fresh broker with an injected clock (which moves with real time, so
 * that `join()` sees retries come due), the `Results` middleware, and its own queue.
 *
 * ```ts ignore
 * recipesConformance("MemoryBroker", (options) => ({
 *   broker: new MemoryBroker(options),
 *   backend: new MemoryResultBackend(),
 * }));
 * ```
 */
import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import type { Broker, Logger } from "../src/broker.ts";
import { group } from "../src/composition/group.ts";
import { pipeline } from "../src/composition/pipeline.ts";
import type { MessageContext } from "../src/context.ts";
import type { Envelope } from "../src/message.ts";
import { processMessage } from "../src/process.ts";
import type { ResultBackend } from "../src/results/backend.ts";
import { ResultFailure, ResultMissing, ResultTimeout } from "../src/results/errors.ts";
import { Results } from "../src/results/middleware.ts";
import { Worker } from "../src/worker.ts";
import { silentLogger } from "./broker_conformance.ts";

/** What the suite hands a factory. */
export interface RecipeOptions {
  /** The injected clock of the broker: real time plus what tests add. */
  now: () => number;
  /** A logger that keeps quiet. */
  logger: Logger;
}

/** A fresh broker and result backend for one test. */
export interface RecipeSetup {
  /** The broker; the suite adds the `Results` middleware. */
  broker: Broker;
  /** Where results go. */
  backend: ResultBackend;
  /** Deletes what the test left behind. */
  cleanup?: () => Promise<void>;
}

/** Makes a fresh setup for one test. */
export type RecipeFactory = (options: RecipeOptions) => RecipeSetup | Promise<RecipeSetup>;

interface Context {
  broker: Broker;
  backend: ResultBackend;
  queue: string;
  clock: { time: number };
  name: (prefix: string) => string;
}

/** Dramatiq's `exception_data`. */
interface ExceptionData {
  type: string;
  message: string;
}

class ValueError extends Error {
  override name = "ValueError";
}

/**
 * Registers the suite's tests with `Deno.test`.
 *
 * @param label Prefixes every test name, as in "MemoryBroker".
 * @param factory Makes a fresh broker and backend for each test.
 */
export function recipesConformance(label: string, factory: RecipeFactory): void {
  const test = (name: string, fn: (context: Context) => Promise<void>) => {
    Deno.test(`recipes (${label}): ${name}`, async () => {
      const clock = { time: 1_700_000_000_000 };
      const start = performance.now();
      const now = () => clock.time + Math.floor(performance.now() - start);
      const setup = await factory({ now, logger: silentLogger });
      setup.broker.addMiddleware(new Results({ backend: setup.backend }));
      const queue = `recipes-${crypto.randomUUID().slice(0, 8)}`;
      try {
        await fn({
          broker: setup.broker,
          backend: setup.backend,
          queue,
          clock,
          name: (prefix) => `${prefix}-${crypto.randomUUID()}`,
        });
      } finally {
        await setup.cleanup?.();
      }
    });
  };

  // Callbacks: on_success receives (message_data, result), on_failure (message_data,
  // exception_data), and on_failure fires on every failure, also retried ones.
  test("callbacks: given onSuccess and onFailure, when identity succeeds, then print_result gets the message data and the result", async ({ broker, queue, name }) => {
    const printed: [Envelope, number][] = [];
    const errors: ExceptionData[] = [];
    const identity = actor(name("identity"), (x: number) => x, { broker, queue });
    const printResult = actor(name("print_result"), (data: Envelope, result: number) => {
      printed.push([data, result]);
    }, { broker, queue });
    const printError = actor(name("print_error"), (_data: Envelope, error: ExceptionData) => {
      errors.push(error);
    }, { broker, queue });
    const sent = await identity.sendWithOptions({
      args: [42],
      onFailure: printError.name,
      onSuccess: printResult.name,
    });
    await broker.join(queue);
    assert.equal(printed.length, 1);
    assert.equal(printed[0][0].id, sent.id);
    assert.deepEqual(printed[0][0].args, [42]);
    assert.equal(printed[0][1], 42);
    assert.deepEqual(errors, []);
  });

  test("callbacks: given an actor that fails twice, then onFailure fires on each failure with the retry count, and onSuccess once", async ({ broker, queue, name }) => {
    const failures: [number, ExceptionData][] = [];
    const successes: unknown[] = [];
    let attempts = 0;
    const printError = actor(name("print_error"), (data: Envelope, error: ExceptionData) => {
      failures.push([data.retries, error]);
    }, { broker, queue });
    const printResult = actor(name("print_result"), (_data: Envelope, result: string) => {
      successes.push(result);
    }, { broker, queue });
    const flaky = actor(name("flaky"), () => {
      if (++attempts < 3) throw new ValueError(`attempt ${attempts}`);
      return "done";
    }, {
      broker,
      queue,
      maxRetries: 5,
      minBackoff: 10,
      maxBackoff: 10,
      onFailure: printError.name,
      onSuccess: printResult.name,
    });
    await flaky.send();
    // join waits for the retries in backoff, and raises nothing: the message succeeded.
    await broker.join(queue);
    assert.deepEqual(failures, [
      [0, { type: "ValueError", message: "attempt 1" }],
      [1, { type: "ValueError", message: "attempt 2" }],
    ]);
    assert.deepEqual(successes, ["done"]);
  });

  // The seed's test idiom: on_failure is called on every failure, even if the message is
  // going to be retried; join raises once the message is dead (Dramatiq 2.x).
  test("callbacks: given an actor that always fails, when joined, then print_error ran for every attempt and join raises the dead message's error", async ({ broker, queue, name }) => {
    const errors: [string, number, ExceptionData][] = [];
    const printError = actor(name("print_error"), (data: Envelope, error: ExceptionData) => {
      errors.push([data.id, data.retries, error]);
    }, { broker, queue });
    const identity = actor(name("identity"), (x: number): number => {
      throw new ValueError(`cannot handle ${x}`);
    }, { broker, queue, maxRetries: 2, minBackoff: 10, maxBackoff: 10 });
    const sent = await identity.sendWithOptions({ args: [42], onFailure: printError.name });
    await assert.rejects(broker.join(queue), { name: "ValueError", message: "cannot handle 42" });
    const error = { type: "ValueError", message: "cannot handle 42" };
    assert.deepEqual(errors, [[sent.id, 0, error], [sent.id, 1, error], [sent.id, 2, error]]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 1 });
  });

  // Groups: run in parallel, wait, then results in the order the messages were added.
  test("groups: given frobnicate messages, when run, then wait returns and getResults yields them in order", async ({ broker, queue, name }) => {
    const frobnicate = actor(name("frobnicate"), (x: number, y: number) => x * 10 + y, {
      broker,
      queue,
      storeResults: true,
    });
    const g = group([frobnicate.message(1, 2), frobnicate.message(2, 3), frobnicate.message(3, 4)]);
    assert.equal(await g.run(), g);
    await broker.join(queue);
    await g.wait({ timeout: 10_000 });
    const results: number[] = [];
    for await (const result of g.getResults({ block: true, timeout: 5_000 })) results.push(result);
    assert.deepEqual(results, [12, 23, 34]);
    assert.deepEqual(await g.getResults().toArray(), [12, 23, 34]);
  });

  test("groups: given members that finish out of order, then results still come in the order added", async ({ broker, queue, name }) => {
    const echo = actor(name("echo"), (n: number) => n, { broker, queue, storeResults: true });
    const first = echo.messageWithOptions({ args: [1], priority: 5 });
    const g = await group([first, echo.message(2), echo.message(3)]).run();
    await broker.join(queue);
    assert.deepEqual(await g.getResults({ block: true }).toArray(), [1, 2, 3]);
  });

  test("groups: given a completion callback, then it fires exactly once after every member succeeded", async ({ broker, queue, name }) => {
    const done: string[] = [];
    const work = actor(name("work"), (n: number) => n, { broker, queue });
    const finish = actor(name("finish"), (label: string) => {
      done.push(label);
    }, { broker, queue });
    const g = group([work.message(1), work.message(2), work.message(3)])
      .addCompletionCallback(finish.message("all done"));
    await g.run();
    const [one] = await broker.claim(queue);
    await processMessage(broker, queue, one);
    assert.deepEqual(done, []);
    await broker.join(queue);
    assert.deepEqual(done, ["all done"]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  });

  test("groups: given a member that fails for good, then the failure callback fires once, getResults raises for it, and completion never fires", async ({ broker, queue, name }) => {
    const completed: string[] = [];
    const failed: [unknown[], ExceptionData][] = [];
    const work = actor(name("work"), (n: number) => {
      if (n < 0) throw new ValueError("negative");
      return n;
    }, { broker, queue, storeResults: true, maxRetries: 0 });
    const finish = actor(name("finish"), () => {
      completed.push("done");
    }, { broker, queue });
    // The failure callback is sent (messageData, exceptionData) after its own arguments.
    const report = actor(
      name("report"),
      (label: string, data?: Envelope, error?: ExceptionData) => {
        failed.push([[label, data!.args], error!]);
      },
      { broker, queue },
    );
    const g = group([work.message(1), work.message(-1), work.message(-2)])
      .addCompletionCallback(finish.message())
      .addFailureCallback(report.message("group"));
    await g.run();
    await broker.join(queue, { failFast: false });
    assert.deepEqual(completed, []);
    assert.deepEqual(failed, [[["group", [-1]], { type: "ValueError", message: "negative" }]]);
    const stream = g.getResults({ block: true, timeout: 1_000 })[Symbol.asyncIterator]();
    assert.deepEqual(await stream.next(), { value: 1, done: false });
    await assert.rejects(stream.next(), (error) => {
      assert.ok(error instanceof ResultFailure);
      assert.equal(error.errorType, "ValueError");
      assert.equal(error.errorMessage, "negative");
      return true;
    });
    await assert.rejects(g.wait({ timeout: 1_000 }), ResultFailure);
  });

  // Pipelines: each result is appended to the next message's arguments.
  test("pipelines: given get_uri_contents then count_words, then count_words receives the uri and the contents", async ({ broker, queue, name }) => {
    const counted: [string, number][] = [];
    const getUriContents = actor(name("get_uri_contents"), (uri: string) => `contents of ${uri}`, {
      broker,
      queue,
      storeResults: true,
    });
    const countWords = actor(name("count_words"), (uri: string, text: string) => {
      counted.push([uri, text.split(" ").length]);
      return text.split(" ").length;
    }, { broker, queue, storeResults: true });
    const uri = "http://example.com";
    const pipe = pipeline([getUriContents.message(uri), countWords.message(uri)]);
    assert.equal(await pipe.run(), pipe);
    await broker.join(queue);
    const chained = await getUriContents.message(uri).pipe(countWords.message(uri)).run();
    await broker.join(queue);
    assert.deepEqual(counted, [[uri, 3], [uri, 3]]);
    assert.equal(await pipe.getResult({ block: true }), 3);
    const count: number = await chained.getResult();
    assert.equal(count, 3);
    assert.deepEqual(await pipe.getResults().toArray(), [`contents of ${uri}`, 3]);
  });

  test("pipelines: given pipeIgnore, then that step does not receive the previous result", async ({ broker, queue, name }) => {
    const seen: unknown[][] = [];
    const record = (...args: unknown[]) => {
      seen.push(args);
      return args.length;
    };
    const a = actor(name("a"), record, { broker, queue });
    const b = actor(name("b"), record, { broker, queue });
    const c = actor(name("c"), record, { broker, queue, pipeIgnore: true });
    await pipeline([
      a.message("x"),
      b.messageWithOptions({ args: ["y"], pipeIgnore: true }),
      b.message("z"),
      c.message("w"),
    ]).run();
    await broker.join(queue);
    assert.deepEqual(seen, [["x"], ["y"], ["z", 1], ["w"]]);
  });

  test("pipelines: given a step that fails for good, then the pipeline stops and the waiter sees ResultFailure", async ({ broker, queue, name }) => {
    const ran: string[] = [];
    const ok = actor(name("ok"), (label: string) => {
      ran.push(label);
      return label;
    }, { broker, queue, storeResults: true });
    const fail = actor(name("fail"), (_label: string): string => {
      throw new RangeError("out of range");
    }, { broker, queue, storeResults: true, maxRetries: 0 });
    const pipe = await pipeline([ok.message("one"), fail.message(), ok.message("three")]).run();
    await broker.join(queue, { failFast: false });
    assert.deepEqual(ran, ["one"]);
    await assert.rejects(pipe.getResult({ block: true, timeout: 1_000 }), (error) => {
      assert.ok(error instanceof ResultFailure);
      assert.equal(error.errorType, "RangeError");
      return true;
    });
    const stream = pipe.getResults()[Symbol.asyncIterator]();
    assert.deepEqual(await stream.next(), { value: "one", done: false });
    await assert.rejects(stream.next(), ResultFailure);
  });

  test("pipelines: given a group inside, then its members get the previous result and the next step their results in order", async ({ broker, queue, name }) => {
    const double = actor(name("double"), (n: number) => n * 2, {
      broker,
      queue,
      storeResults: true,
    });
    const add = actor(name("add"), (k: number, n: number) => n + k, {
      broker,
      queue,
      storeResults: true,
    });
    const sum = actor(name("sum"), (label: string, ns: number[]) => `${label}: ${ns.join("+")}`, {
      broker,
      queue,
      storeResults: true,
    });
    const pipe = await pipeline([
      double.message(5),
      group([add.message(1), add.message(2), pipeline([add.message(3), double.message()])]),
      sum.message("total"),
    ]).run();
    await broker.join(queue);
    assert.equal(await pipe.getResult({ block: true }), "total: 11+12+26");
    assert.deepEqual(await pipe.getResults().toArray(), [10, [11, 12, 26], "total: 11+12+26"]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  });

  // Results: get_result, missing vs timeout vs failure.
  test("results: given store_results, then getResult answers the result, blocking or not", async ({ broker, queue, name }) => {
    const add = actor(name("add"), (x: number, y: number) => x + y, {
      broker,
      queue,
      storeResults: true,
    });
    const message = await add.send(1, 2);
    const waiting = message.getResult({ block: true, timeout: 10_000 });
    await broker.join(queue);
    const sum: number = await waiting;
    assert.equal(sum, 3);
    assert.equal(await message.getResult(), 3);
  });

  test("results: given a result not stored yet, then ResultMissing when not blocking and ResultTimeout when blocking", async ({ broker, queue, name }) => {
    const add = actor(name("add"), (x: number, y: number) => x + y, {
      broker,
      queue,
      storeResults: true,
    });
    const message = await add.send(1, 2);
    await assert.rejects(message.getResult(), ResultMissing);
    await assert.rejects(message.getResult({ block: true, timeout: 0 }), (error) => {
      assert.ok(error instanceof ResultTimeout);
      assert.equal(error.messageId, message.id);
      assert.equal(error.timeout, 0);
      return true;
    });
  });

  test("results: given a message that fails for good, then ResultFailure with the error's type and message; a retried failure stores nothing", async ({ broker, queue, name }) => {
    let attempts = 0;
    const fail = actor(name("fail"), (): number => {
      attempts++;
      throw new TypeError(`bad input ${attempts}`);
    }, { broker, queue, storeResults: true, maxRetries: 1, minBackoff: 10, maxBackoff: 10 });
    const message = await fail.send();
    // "any": raise at the first error, retried or not, leaving its retry delayed.
    await assert.rejects(broker.join(queue, { failFast: "any" }), TypeError);
    await assert.rejects(message.getResult(), ResultMissing);
    // The default: wait for the retry, raise once the message is dead.
    await assert.rejects(broker.join(queue), { name: "TypeError", message: "bad input 2" });
    await assert.rejects(message.getResult(), (error) => {
      assert.ok(error instanceof ResultFailure);
      assert.equal(error.errorType, "TypeError");
      assert.equal(error.errorMessage, "bad input 2");
      assert.ok(!error.message.includes("bad input"));
      return true;
    });
  });

  test("results: given an actor that does not store results, then getResult fails at once with TypeError", async ({ broker, queue, name }) => {
    const quiet = actor(name("quiet"), () => 1, { broker, queue });
    const message = await quiet.send();
    await assert.rejects(message.getResult({ block: true, timeout: 60_000 }), {
      name: "TypeError",
      message:
        `Cannot get the result of message ${message.id}: actor '${quiet.name}' does not store results (set 'storeResults: true')`,
    });
    const g = group([quiet.message()]);
    assert.throws(() => g.getResults({ block: true }), TypeError);
    await assert.rejects(pipeline([quiet.message()]).getResult({ block: true }), TypeError);
  });

  test("results: given storeResults per message, then only that message's result is stored", async ({ broker, queue, name }) => {
    const echo = actor(name("echo"), (n: number) => n, { broker, queue });
    const kept = await echo.sendWithOptions({ args: [7], storeResults: true });
    await broker.join(queue);
    assert.equal(await kept.getResult(), 7);
  });

  // Everything above runs through join(); the pull worker continues pipelines the same way.
  test("worker: given a pipeline with a group and callbacks, when a pull worker runs it, then every step runs once, in order", async ({ broker, queue, name }) => {
    const log: string[] = [];
    const step = actor(
      name("step"),
      function (this: MessageContext, label: string, prev?: unknown) {
        log.push(label);
        return prev === undefined ? label : `${JSON.stringify(prev)}>${label}`;
      },
      { broker, queue, storeResults: true },
    );
    const done = actor(name("done"), (_data: Envelope, result: string) => {
      log.push(`done ${result.endsWith(">c")}`);
    }, { broker, queue });
    const pipe = await pipeline([
      step.message("a"),
      group([step.message("b1"), step.message("b2")]).addCompletionCallback(step.message("g")),
      step.messageWithOptions({ args: ["c"], onSuccess: done.name }),
    ]).run();
    const worker = new Worker(broker, { queues: [queue], concurrency: 4, pollMin: 1, pollMax: 5 });
    await worker.start();
    try {
      assert.equal(
        await pipe.getResult({ block: true, timeout: 10_000 }),
        `["\\"a\\">b1","\\"a\\">b2"]>c`,
      );
    } finally {
      await worker.stop();
    }
    await broker.join(queue);
    assert.deepEqual(log.slice(0, 1), ["a"]);
    assert.deepEqual(log.slice(1, 3).sort(), ["b1", "b2"]);
    assert.deepEqual(log.slice(3).sort(), ["c", "done true", "g"]);
  });

  test("push: given a pipeline step processed by processMessage, then the report lists the next step's id for the endpoint to push", async ({ broker, queue, name }) => {
    const step = actor(name("step"), (n: number) => n + 1, { broker, queue });
    const first = step.message(1);
    const second = step.message();
    const later = step.messageWithOptions({ delay: 5_000 });
    await pipeline([first, second, later]).run();
    const [claim] = await broker.claim(queue);
    const report = await processMessage(broker, queue, claim);
    assert.equal(report.status, "acked");
    assert.deepEqual(report.enqueued, [{ id: second.id, queue, delayed: false }]);
    const [next] = await broker.claim(queue);
    const again = await processMessage(broker, queue, next);
    assert.deepEqual(again.enqueued, [{ id: later.id, queue, delayed: true }]);
    const plain = await step.send(1);
    const [claimed] = await broker.claim(queue);
    assert.equal(claimed.id, plain.id);
    assert.equal((await processMessage(broker, queue, claimed)).enqueued, undefined);
  });

  test("pipelines: given steps on two queues, then the next step lands on its own queue", async ({ broker, queue, name }) => {
    const other = `${queue}-b`;
    const seen: unknown[][] = [];
    const a = actor(name("a"), (n: number) => n + 1, { broker, queue });
    const b = actor(name("b"), (label: string, n: number) => {
      seen.push([label, n]);
    }, { broker, queue: other });
    await pipeline([a.message(1), b.message("got")]).run();
    await broker.join(queue);
    assert.equal((await broker.stats(other)).ready, 1);
    await broker.join(other);
    assert.deepEqual(seen, [["got", 2]]);
  });
}
