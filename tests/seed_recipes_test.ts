/**
 * Dramatiq's cookbook, recipe by recipe, as a skiff user writes it: actors declared once at
 * module top level on the global broker, `new Results()` and rate limiters that take their
 * backend from the broker, `new Worker(broker)` on every declared queue. Each recipe runs
 * on a `MemoryBroker` and on an `UpstashBroker` through the local REST server.
 *
 * Left out: the framework integrations (API Star, Django, Flask) and the two bash recipes,
 * whose skiff counterparts are `skiff worker <dir or glob>` and its exit code 3 on a Redis
 * that cannot be reached (tests/cli_test.ts).
 */
import assert from "node:assert/strict";
import {
  actor,
  type Broker,
  ConcurrentRateLimiter,
  type ExceptionData,
  group,
  MemoryBroker,
  type MessageContext,
  type MessageData,
  Middleware,
  pipeline,
  type ProcessOutcome,
  ResultMissing,
  Results,
  ResultTimeout,
  Scheduler,
  setBroker,
  UpstashBroker,
  Worker,
} from "@skiff/skiff";
import { cleanup, restClient } from "./_env.ts";

// The expected failures below would otherwise be logged.
const logger = { ...console, error() {}, warn() {} };
const redis = restClient();

/** Runs a recipe once per broker, with the broker set as the global one and `Results` on it. */
function recipe(title: string, fn: (broker: Broker) => Promise<void>): void {
  for (const kind of ["MemoryBroker", "UpstashBroker"]) {
    Deno.test(`seed recipes (${kind}): ${title}`, async () => {
      const namespace = `seed-${crypto.randomUUID().slice(0, 8)}`;
      const broker = kind === "MemoryBroker"
        ? new MemoryBroker({ logger })
        : new UpstashBroker({ redis, namespace, logger });
      broker.addMiddleware(new Results());
      setBroker(broker);
      try {
        await fn(broker);
      } finally {
        if (kind === "UpstashBroker") await cleanup(redis, `${namespace}:`);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------
// Callbacks: on_success gets (message_data, result); on_failure (message_data,
// exception_data), every time the actor fails, also when the message will be retried.

const printed: string[] = [];

const identity = actor("identity", (x: number) => x);

const printResult = actor("print_result", (messageData: MessageData, result: number) => {
  printed.push(`The result of message ${messageData.id} was ${result}.`);
});

const printError = actor("print_error", (messageData: MessageData, exception: ExceptionData) => {
  printed.push(`Message ${messageData.id} failed:`);
  printed.push(`  * type: ${exception.type}`);
  printed.push(`  * message: ${JSON.stringify(exception.message)}`);
});

const divide = actor("divide", (x: number, y: number) => {
  if (y === 0) throw new RangeError("division by zero");
  return x / y;
}, { maxRetries: 1, minBackoff: 10, maxBackoff: 10 });

recipe("callbacks: on_success and on_failure", async (broker) => {
  printed.length = 0;
  const message = await identity.sendWithOptions({
    args: [42],
    onFailure: printError,
    onSuccess: printResult,
  });
  await broker.join("default");
  assert.deepEqual(printed, [`The result of message ${message.id} was 42.`]);

  printed.length = 0;
  const failing = await divide.sendWithOptions({ args: [1, 0], onFailure: printError });
  await assert.rejects(broker.join("default"), RangeError);
  const report = [
    `Message ${failing.id} failed:`,
    "  * type: RangeError",
    '  * message: "division by zero"',
  ];
  assert.deepEqual(printed, [...report, ...report]); // the attempt, and its retry
});

// ---------------------------------------------------------------------------------------
// Groups: run in parallel, wait for all of them, read the results in the order added.

const frobnicate = actor("frobnicate", (x: number, y: number) => x * y, { storeResults: true });

recipe("composition: groups", async (broker) => {
  const worker = new Worker(broker);
  await worker.start();
  try {
    const g = group([
      frobnicate.message(1, 2),
      frobnicate.message(2, 3),
      frobnicate.message(3, 4),
    ]);
    await g.run();
    await g.wait({ timeout: 10_000 });

    const results: number[] = [];
    for await (const res of g.getResults({ block: true, timeout: 5_000 })) results.push(res);
    assert.deepEqual(results, [2, 6, 12]);
  } finally {
    await worker.stop();
  }
});

// ---------------------------------------------------------------------------------------
// Pipelines: each result is passed as the last argument of the next message.

const pages: Record<string, string> = { "https://example.com": "a page of five words" };
const counts: string[] = [];

const getUriContents = actor("get_uri_contents", (uri: string) => pages[uri], {
  storeResults: true,
});

const countWords = actor("count_words", (uri: string, text: string) => {
  const count = text.split(" ").length;
  counts.push(`There are ${count} words at ${uri}.`);
  return count;
}, { storeResults: true });

recipe("composition: pipelines, and pipe notation", async (broker) => {
  counts.length = 0;
  const uri = "https://example.com";
  const pipe = await pipeline([
    getUriContents.message(uri),
    countWords.message(uri),
  ]).run();
  await broker.join("default");
  assert.equal(await pipe.getResult({ block: true, timeout: 5_000 }), 5);
  const results: unknown[] = [];
  for await (const res of pipe.getResults({ block: true })) results.push(res);
  assert.deepEqual(results, ["a page of five words", 5]);

  await getUriContents.message(uri).pipe(countWords.message(uri)).run();
  await broker.join("default");
  assert.deepEqual(counts, [
    "There are 5 words at https://example.com.",
    "There are 5 words at https://example.com.",
  ]);
});

const launched: string[][] = [];

const bustCaches = actor("bust_caches", () => "busted");
const prepareCodes = actor("prepare_codes", () => ["0000", "1234"]);
const launchMissiles = actor("launch_missiles", (codes: string[]) => {
  launched.push(codes);
}, { storeResults: true });

recipe("composition: pipelines with pipeIgnore", async (broker) => {
  launched.length = 0;
  const pipe = await bustCaches.message()
    .pipe(prepareCodes.messageWithOptions({ pipeIgnore: true }))
    .pipe(launchMissiles.message())
    .run();
  await broker.join("default");
  await pipe.getResult({ block: true });
  assert.deepEqual(launched, [["0000", "1234"]]);
});

// ---------------------------------------------------------------------------------------
// Error reporting: a middleware reports what actors raise, with Rollbar or with Sentry.

const explode = actor("explode", () => {
  throw new TypeError("boom");
}, { maxRetries: 0 });

/** Stands for the `rollbar` module: one client for the whole process. */
const rollbar = {
  reported: [] as unknown[],
  error(error: unknown): void {
    this.reported.push(error);
  },
};

class RollbarMiddleware extends Middleware {
  override afterProcessMessage(_context: MessageContext, { failed, error }: ProcessOutcome): void {
    if (failed) rollbar.error(error);
  }
}

recipe("error reporting: Rollbar", async (broker) => {
  rollbar.reported.length = 0;
  broker.addMiddleware(new RollbarMiddleware());
  await explode.send();
  await assert.rejects(broker.join("default"), TypeError);
  assert.equal(rollbar.reported.length, 1);
  assert(rollbar.reported[0] instanceof TypeError);
});

/** Stands for Sentry's client (the recipe's `raven_client`), given to the middleware. */
class FakeTracker {
  readonly reports: { error: unknown; tags: Record<string, unknown> }[] = [];
  captureException(error: unknown, tags: Record<string, unknown>): void {
    this.reports.push({ error, tags });
  }
}

class SentryMiddleware extends Middleware {
  constructor(readonly client: FakeTracker) {
    super();
  }

  override afterProcessMessage(context: MessageContext, outcome: ProcessOutcome): void {
    if (outcome.failed) {
      this.client.captureException(outcome.error, { message_id: context.message.id });
    }
  }
}

recipe("error reporting: Sentry", async (broker) => {
  const tracker = new FakeTracker();
  broker.addMiddleware(new SentryMiddleware(tracker));
  const message = await explode.send();
  await assert.rejects(broker.join("default"), TypeError);
  assert.equal(tracker.reports.length, 1);
  assert(tracker.reports[0].error instanceof TypeError);
  assert.deepEqual(tracker.reports[0].tags, { message_id: message.id });
});

// ---------------------------------------------------------------------------------------
// Rate limiting: a distributed mutex; the actor that cannot acquire it is retried.

const DISTRIBUTED_MUTEX = new ConcurrentRateLimiter({ key: "distributed-mutex", limit: 1 });
const ran: { n: number; attempt: number }[] = [];
let holders = 0;

const oneAtATime = actor("one_at_a_time", async function (this: MessageContext, n: number) {
  await DISTRIBUTED_MUTEX.acquire(async () => {
    assert.equal(++holders, 1, "one at a time");
    await new Promise((resolve) => setTimeout(resolve, 50));
    ran.push({ n, attempt: this.attempt });
    holders--;
  });
}, { minBackoff: 100, maxBackoff: 100 });

recipe("rate limiting: one_at_a_time", async (broker) => {
  ran.length = 0;
  await oneAtATime.send(1);
  await oneAtATime.send(2);
  const worker = new Worker(broker, { concurrency: 2 });
  await worker.start();
  try {
    await worker.join();
    await broker.join("default"); // and the retry, once its backoff passed
  } finally {
    await worker.stop();
  }
  assert.deepEqual(ran.map((r) => r.n).toSorted(), [1, 2]);
  assert.equal(ran[0].attempt, 1);
  assert(ran[1].attempt > 1, "the second ran on a retry");
});

const lines: string[] = [];

const tryOneAtATime = actor("try_one_at_a_time", async () => {
  await DISTRIBUTED_MUTEX.acquire((acquired) => {
    if (!acquired) lines.push("Lock could not be acquired.");
    else lines.push("Lock was acquired.");
  }, { raiseOnFailure: false });
});

recipe("rate limiting: raiseOnFailure false", async (broker) => {
  lines.length = 0;
  await DISTRIBUTED_MUTEX.acquire(async () => {
    await tryOneAtATime.send();
    await broker.join("default");
  });
  await tryOneAtATime.send();
  await broker.join("default");
  assert.deepEqual(lines, ["Lock could not be acquired.", "Lock was acquired."]);
});

// ---------------------------------------------------------------------------------------
// Results: store return values, read them back; missing and timed-out reads raise.

const add = actor("add", (x: number, y: number) => x + y, { storeResults: true });

recipe("results: storing message results", async (broker) => {
  const message = await add.send(1, 2);
  await assert.rejects(message.getResult(), ResultMissing);
  await assert.rejects(message.getResult({ block: true, timeout: 50 }), ResultTimeout);
  await broker.join("default");
  assert.equal(await message.getResult({ block: true }), 3);
});

// ---------------------------------------------------------------------------------------
// Scheduling: Dramatiq points to APScheduler; skiff's Scheduler fires on ticks.

const dates: string[] = [];

const printCurrentDate = actor("print_current_date", function (this: MessageContext) {
  dates.push(new Date(this.message.enqueuedAt!).toISOString());
});

recipe("scheduling: every minute", async (broker) => {
  dates.length = 0;
  const scheduler = new Scheduler()
    .schedule("print-current-date", "* * * * *", printCurrentDate.message());
  const minute = Date.UTC(2030, 0, 1, 12, 0);
  await scheduler.tick(minute);
  await scheduler.tick(minute + 30_000); // the same slot: fired once
  await scheduler.tick(minute + 60_000);
  await broker.join("default");
  assert.equal(dates.length, 2);
});

// ---------------------------------------------------------------------------------------
// Where the derived backends keep their state: beside the broker's queues.

Deno.test("seed recipes (UpstashBroker): new Results() and limiters without a backend keep their keys under the broker's namespace", async () => {
  const namespace = `seed-${crypto.randomUUID().slice(0, 8)}`;
  const broker = new UpstashBroker({ redis, namespace, logger });
  broker.addMiddleware(new Results());
  setBroker(broker);
  try {
    const message = await add.send(2, 3);
    await broker.join("default");
    assert.equal(await redis.exists(`${namespace}:result:${message.id}`), 1);
    await DISTRIBUTED_MUTEX.acquire(async () => {
      assert.equal(await redis.exists(`${namespace}:rate:{distributed-mutex}:concurrent`), 1);
    });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});
