import assert from "node:assert/strict";
import * as v from "valibot";
import { actor, type ExceptionData, type MessageData } from "../src/actor.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import type { MessageContext } from "../src/context.ts";
import { getBroker, setBroker } from "../src/global_broker.ts";
import { getActor } from "../src/registry.ts";
import { Worker } from "../src/worker.ts";
// Callbacks are built by the composition layer, which plugs into the core when it loads.
import "../src/composition/_effects.ts";
import { silentLogger } from "./broker_conformance.ts";
import { forEachBroker } from "./_brokers.ts";

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;
const setup = () => {
  const clock = { time: 1_000_000 };
  const broker = new MemoryBroker({ now: () => clock.time, logger: silentLogger });
  return { broker, clock, queue: unique("q") };
};

Deno.test("actor: given a taken name, when declared again, then TypeError", () => {
  const name = unique("dup");
  actor(name, () => {});
  assert.throws(() => actor(name, () => {}), {
    name: "TypeError",
    message: `Cannot declare actor '${name}': an actor with this name is already declared`,
  });
});

Deno.test("actor: given an unknown option, when declared, then TypeError naming it", () => {
  const name = unique("typo");
  assert.throws(
    () => actor(name, () => {}, { maxRetrys: 3 } as never),
    { name: "TypeError", message: `Cannot declare actor '${name}': unknown option 'maxRetrys'` },
  );
  assert.equal(getActor(name), undefined);
});

Deno.test("actor: given option values of the wrong type or range, when declared, then TypeError or RangeError", () => {
  assert.throws(() => actor(unique("a"), () => {}, { maxRetries: -1 }), {
    name: "RangeError",
    message: /'maxRetries' must be a non-negative integer, received -1$/,
  });
  assert.throws(() => actor(unique("a"), () => {}, { maxRetries: "3" as never }), TypeError);
  assert.throws(() => actor(unique("a"), () => {}, { queue: "no spaces" }), RangeError);
  assert.throws(() => actor(unique("a"), () => {}, { priority: 256 }), RangeError);
  assert.throws(() => actor(unique("a"), () => {}, { timeLimit: 0 }), RangeError);
  assert.throws(() => actor(unique("a"), () => {}, { throws: [1] as never }), RangeError);
  assert.throws(() => actor(unique("a"), () => {}, { args: {} as never }), RangeError);
  assert.throws(() => actor("bad name", () => {}), TypeError);
  assert.throws(() => actor(unique("a"), "nope" as never), TypeError);
});

Deno.test("actor: given no broker option, when sent, then the global broker at send time is used", async () => {
  const task = actor(unique("global"), () => {}, { queue: "global-test" });
  const first = new MemoryBroker({ logger: silentLogger });
  const second = new MemoryBroker({ logger: silentLogger });
  setBroker(first);
  await task.send();
  setBroker(second);
  await task.send();
  await task.send();
  assert.equal(getBroker(), second);
  assert.equal((await first.stats("global-test")).ready, 1);
  assert.equal((await second.stats("global-test")).ready, 2);
});

Deno.test("actor: given an args schema, when sent bad arguments, then TypeError before anything is written", async () => {
  const { broker, queue } = setup();
  const name = unique("strict");
  const strict = actor(name, (_n: number, _s: string) => {}, {
    broker,
    queue,
    args: v.tuple([v.number(), v.string()]),
  });
  // @ts-expect-error: the schema types send()
  const sending = strict.send("secret-payload", "x");
  await assert.rejects(sending, (error: Error) => {
    assert.ok(error instanceof TypeError);
    assert.equal(
      error.message,
      `Cannot send message to actor '${name}': argument 0 must be number`,
    );
    assert.ok(!error.message.includes("secret-payload"));
    return true;
  });
  assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("actor: given a transforming schema, when processed, then the actor gets the output and send takes the input", async () => {
  const { broker, queue } = setup();
  const got: number[] = [];
  const parse = actor(unique("parse"), (n: number) => {
    got.push(n);
  }, { broker, queue, args: v.tuple([v.pipe(v.string(), v.transform(Number))]) });
  const sent = await parse.send("41");
  assert.deepEqual(sent.args, ["41"]);
  await broker.join(queue);
  assert.deepEqual(got, [41]);
});

Deno.test("actor: given inferred parameters, then send() is typed by the function", () => {
  const typed = actor(unique("typed"), (_x: number, _y: number) => 0);
  // @ts-expect-error: a string is not a number
  typed.message(1, "2");
  assert.equal(typed.message(1, 2).args.length, 2);
});

Deno.test("actor: given bad send options, when sent, then std-style errors", async () => {
  const { broker, queue } = setup();
  const name = unique("opts");
  const task = actor(name, () => {}, { broker, queue });
  await assert.rejects(task.sendWithOptions({ delay: -5 }), {
    name: "RangeError",
    message:
      `Cannot send message to actor '${name}': 'delay' must be a non-negative number of milliseconds, received -5`,
  });
  await assert.rejects(task.sendWithOptions({ delay: 1, eta: 5 }), TypeError);
  await assert.rejects(task.sendWithOptions({ priority: 1.5 }), RangeError);
  await assert.rejects(task.sendWithOptions({ nope: 1 } as never), {
    message: `Cannot send message to actor '${name}': unknown option 'nope'`,
  });
  await assert.rejects(task.sendWithOptions({ retryWhen: () => true } as never), {
    name: "TypeError",
    message: `Cannot send message to actor '${name}': option 'retryWhen' cannot be set per message`,
  });
  await assert.rejects(task.sendWithOptions({ queue: "other" } as never), TypeError);
});

Deno.test("actor: given arguments JSON cannot encode, when sent, then TypeError", async () => {
  const { broker, queue } = setup();
  const task = actor(unique("big"), (_n: bigint) => {}, { broker, queue });
  await assert.rejects(task.send(1n), { name: "TypeError", message: /not JSON-serializable/ });
});

Deno.test("actor: given per-message options, when the actor fails, then they override the actor's", async () => {
  const { broker, queue } = setup();
  const task = actor(unique("override"), () => {
    throw new Error("no");
  }, { broker, queue, maxRetries: 5 });
  const sent = await task.sendWithOptions({ maxRetries: 0, priority: 3 });
  assert.deepEqual(sent.options, { maxRetries: 0 });
  assert.equal(sent.priority, 3);
  await broker.join(queue, { failFast: false });
  assert.equal((await broker.stats(queue)).dead, 1);
});

Deno.test("actor: given a function actor, when it runs, then its context is bound as this", async () => {
  const { broker, queue } = setup();
  const seen: unknown[] = [];
  const task = actor(unique("ctx"), function (this: MessageContext, n: number) {
    seen.push(this.message.args[0], this.attempt, this.signal.aborted, this.queue, n);
  }, { broker, queue });
  const sent = await task.send(9);
  await broker.join(queue);
  assert.deepEqual(seen, [9, 1, false, queue, 9]);
  assert.equal(sent.actor, task.name);
});

Deno.test("actor: given message(), then the message is unsent until enqueued in a batch", async () => {
  const { broker, queue, clock } = setup();
  const task = actor(unique("later"), (_n: number) => {}, { broker, queue, priority: 2 });
  const unsent = task.messageWithOptions({ args: [1], delay: 10 });
  assert.equal(unsent.enqueuedAt, undefined);
  assert.equal(unsent.priority, 2);
  const [sent] = await broker.enqueue([unsent]);
  assert.equal(sent.id, unsent.id);
  assert.equal(sent.enqueuedAt, clock.time);
  assert.equal(sent.eta, clock.time + 10);
  assert.equal(sent.delay, undefined);
});

Deno.test("actor: given callback actors, then their argument types are checked against (messageData, result) and (messageData, exceptionData)", () => {
  const count = actor(unique("count"), (text: string) => text.length);
  const printCount = actor(unique("print_count"), (_data: MessageData, _n: number) => {});
  const printAny = actor(unique("print_any"), (_data: Record<string, unknown>, _x: unknown) => {});
  const printText = actor(unique("print_text"), (_data: MessageData, _text: string) => {});
  const printNarrow = actor(unique("print_narrow"), (_data: MessageData, _n: 1 | 2) => {});
  const printError = actor(unique("print_error"), (_data: MessageData, _e: ExceptionData) => {});
  const printOne = actor(unique("print_one"), (_n: number) => {});

  actor(unique("ok"), (text: string) => text.length, {
    onSuccess: printCount,
    onFailure: printError,
  });
  actor(unique("any"), (text: string) => text.length, { onSuccess: printAny, onFailure: printAny });
  // @ts-expect-error: the result is a number, the callback takes a string
  actor(unique("bad"), (text: string) => text.length, { onSuccess: printText });
  // @ts-expect-error: the callback accepts only some numbers
  actor(unique("narrow"), (text: string) => text.length, { onSuccess: printNarrow });
  // @ts-expect-error: a callback takes (messageData, result)
  actor(unique("arity"), (text: string) => text.length, { onSuccess: printOne });
  // @ts-expect-error: onFailure gets { type, message }, not the result
  actor(unique("fail"), (text: string) => text.length, { onFailure: printCount });
  // Per message too, against the actor's result.
  count.message("a");
  count.messageWithOptions({ args: ["a"], onSuccess: printCount, onFailure: printError });
  // @ts-expect-error: the result is a number, the callback takes a string
  count.messageWithOptions({ args: ["a"], onSuccess: printText });
  // Names stay accepted, unchecked.
  count.messageWithOptions({ args: ["a"], onSuccess: printText.name });
  assert.equal(getActor(printCount.name), printCount);
});

Deno.test("actor: given an object that is not an actor for onSuccess, when declared, then TypeError", () => {
  const name = unique("cb");
  assert.throws(() => actor(name, () => {}, { onSuccess: { name: "x" } as never }), {
    name: "TypeError",
    message:
      `Cannot declare actor '${name}': 'onSuccess' must be an actor or an actor's name, received an object`,
  });
});

forEachBroker(
  "actor: given callback actors (not names), when messages succeed and fail, then the callbacks run with (messageData, result) and (messageData, exceptionData)",
  async ({ broker, queue, name }) => {
    const results: [MessageData, number][] = [];
    const failures: [MessageData, ExceptionData][] = [];
    const printResult = actor(name("print_result"), (data: MessageData, result: number) => {
      results.push([data, result]);
    }, { broker, queue });
    const printError = actor(name("print_error"), (data: MessageData, error: ExceptionData) => {
      failures.push([data, error]);
    }, { broker, queue });
    const count = actor(name("count"), (text: string) => {
      if (text === "") throw new RangeError("empty");
      return text.length;
    }, { broker, queue, maxRetries: 0, onSuccess: printResult, onFailure: printError });
    assert.equal(count.options.onSuccess, printResult.name);

    const ok = await count.send("abc");
    const bad = await count.send("");
    await broker.join(queue, { failFast: false });
    assert.deepEqual(results.map(([data, result]) => [data.id, result]), [[ok.id, 3]]);
    assert.deepEqual(failures.map(([data, error]) => [data.id, error]), [
      [bad.id, { type: "RangeError", message: "empty" }],
    ]);

    // Per message, the actor object is kept as its name, which survives JSON.
    const other = actor(name("identity"), (x: number) => x, { broker, queue });
    const sent = await other.sendWithOptions({ args: [7], onSuccess: printResult });
    assert.deepEqual(sent.options, { onSuccess: printResult.name });
    await broker.join(queue);
    assert.deepEqual(results.at(-1)?.[1], 7);
  },
);

Deno.test("actor: given actors on several queues, when a Worker is made without queues, then it consumes each of them and no other broker's", async () => {
  const { broker } = setup();
  const elsewhere = setup().broker;
  const [a, b, c] = [unique("qa"), unique("qb"), unique("qc")];
  const seen: string[] = [];
  const first = actor(unique("first"), () => {
    seen.push("first");
  }, { broker, queue: a });
  const second = actor(unique("second"), () => {
    seen.push("second");
  }, { broker, queue: b });
  actor(unique("other"), () => {}, { broker: elsewhere, queue: c });
  const worker = new Worker(broker, { pollMin: 1, pollMax: 5 });
  assert(worker.queues.includes(a) && worker.queues.includes(b));
  assert(!worker.queues.includes(c));
  assert.deepEqual([...worker.queues], [...worker.queues].sort());
  await worker.start();
  await first.send();
  await second.send();
  await worker.join();
  await worker.stop();
  assert.deepEqual(seen.sort(), ["first", "second"]);
});
