import assert from "node:assert/strict";
import * as v from "valibot";
import { actor } from "../src/actor.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { Group, group } from "../src/composition/group.ts";
import type { PipelineLike, ResultOf } from "../src/composition_contract.ts";
import { Pipeline, pipeline } from "../src/composition/pipeline.ts";
import { SkipMessage } from "../src/errors.ts";
import { Message } from "../src/message.ts";
import { planKey } from "../src/brokers/upstash/_keys.ts";
import { Middleware } from "../src/middleware/middleware.ts";
import { processMessage } from "../src/process.ts";
import { silentLogger } from "./broker_conformance.ts";
import { forEachBroker, settleTwice } from "./_brokers.ts";

// Duplicate deliveries: the next step is written in the same transition as the ack.

forEachBroker(
  "pipeline: given a step's ack run twice (a retried request), then the next step is written once and runs once",
  async ({ broker, queue, name }) => {
    const runs: number[] = [];
    const step = actor(name("step"), (n: number) => {
      runs.push(n);
      return n + 1;
    }, { broker, queue, storeResults: true });
    const second = step.message();
    const pipe = await pipeline([step.message(1), second, step.message()]).run();
    const doubled = settleTwice(broker);
    const [claim] = await broker.claim(queue);
    const report = await processMessage(broker, queue, claim);
    // The second run answers "stale": the first one did the work, as after a lost response.
    assert.equal(report.status, "stale");
    assert.deepEqual(doubled.done, [[true, false]]);
    assert.deepEqual(await broker.stats(queue), { ready: 1, delayed: 0, leased: 0, dead: 0 });
    await broker.join(queue);
    assert.deepEqual(runs, [1, 2, 3]);
    assert.equal(await pipe.getResult(), 4);
  },
);

forEachBroker(
  "pipeline: given a step delivered twice (its lease expired while it ran), then only the current lease's ack continues the pipeline",
  async ({ broker, queue, clock, name }) => {
    const runs: number[] = [];
    const step = actor(name("step"), (n: number) => {
      runs.push(n);
      return n * 10;
    }, { broker, queue });
    await pipeline([step.message(1), step.message()]).run();
    const [slow] = await broker.claim(queue, { leaseMs: 1_000 });
    clock.time += 1_000;
    const [again] = await broker.claim(queue, { leaseMs: 30_000 });
    assert.equal(again.id, slow.id);
    assert.equal((await processMessage(broker, queue, again, { leaseMs: 30_000 })).status, "acked");
    assert.equal((await processMessage(broker, queue, slow, { leaseMs: 1_000 })).status, "stale");
    await broker.join(queue);
    assert.deepEqual(runs, [1, 1, 10]);
  },
);

forEachBroker(
  "pipeline: given a crash after the step ran but before its ack, then the step runs again and the next step is written once",
  async ({ broker, queue, clock, name }) => {
    const runs: number[] = [];
    const step = actor(name("step"), (n: number) => {
      runs.push(n);
      return n + 1;
    }, { broker, queue });
    await pipeline([step.message(1), step.message()]).run();
    await broker.claim(queue, { leaseMs: 1_000 }); // this consumer dies holding the lease
    clock.time += 1_000;
    await broker.join(queue);
    assert.deepEqual(runs, [1, 2]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  },
);

forEachBroker(
  "pipeline: given a next step with a delay, then it waits in delayed until due",
  async ({ broker, queue, clock, name }) => {
    const seen: number[] = [];
    const step = actor(name("step"), (n: number) => {
      seen.push(n);
      return n + 1;
    }, { broker, queue });
    await pipeline([step.message(1), step.messageWithOptions({ delay: 5_000 })]).run();
    await broker.join(queue);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 1, leased: 0, dead: 0 });
    clock.time += 5_000;
    await broker.join(queue);
    assert.deepEqual(seen, [1, 2]);
  },
);

forEachBroker(
  "pipeline: given a step skipped by a middleware, then the pipeline goes on with null",
  async ({ broker, queue, name }) => {
    const seen: unknown[][] = [];
    const skipped = actor(name("skipped"), () => 1, { broker, queue, storeResults: true });
    class SkipOne extends Middleware {
      override beforeProcessMessage(context: { message: Message }): void {
        if (context.message.actor === skipped.name) throw new SkipMessage("not today");
      }
    }
    broker.addMiddleware(new SkipOne());
    const after = actor(name("after"), (...args: unknown[]) => {
      seen.push(args);
    }, { broker, queue });
    const first = skipped.message();
    await pipeline([first, after.message("x")]).run();
    await broker.join(queue);
    assert.deepEqual(seen, [["x", null]]);
    assert.equal(await first.getResult(), null);
  },
);

forEachBroker(
  "pipeline: given a result JSON cannot carry, then the attempt fails and the message dies with the reason",
  async ({ broker, queue, name }) => {
    const ran: string[] = [];
    const big = actor(name("big"), () => 10n, { broker, queue, maxRetries: 0 });
    const next = actor(name("next"), (_n: unknown) => {
      ran.push("next");
    }, { broker, queue });
    await pipeline([big.message(), next.message()]).run();
    await assert.rejects(broker.join(queue), TypeError);
    const [dead] = await broker.deadLetters(queue);
    assert.equal(
      dead.reason,
      `Retries exhausted after 0 retries: TypeError: Cannot continue message ${dead.id}: the result is not JSON-serializable`,
    );
    assert.deepEqual(ran, []);
  },
);

forEachBroker(
  "pipeline: given an args schema, then a step built without its last argument is checked in full when it runs",
  async ({ broker, queue, name }) => {
    const seen: [string, number][] = [];
    const length = actor(name("length"), (s: string) => s.length, { broker, queue });
    const label = actor(name("label"), (prefix: string, n: number) => {
      seen.push([prefix, n]);
    }, { broker, queue, args: v.tuple([v.string(), v.number()]) });
    // More than the last argument is missing: refused at once.
    assert.throws(() => label.message(...([] as unknown as [string])), TypeError);
    await pipeline([length.message("four"), label.message("n")]).run();
    await broker.join(queue);
    assert.deepEqual(seen, [["n", 4]]);
  },
);

forEachBroker(
  "pipeline: given a group step of pipelines whose last steps fail, then the fan-in step never runs and waits see ResultFailure",
  async ({ broker, queue, name }) => {
    const ran: string[] = [];
    const ok = actor(name("ok"), (n: number) => n, { broker, queue, storeResults: true });
    const fail = actor(name("fail"), (_n: number): number => {
      throw new Error("boom");
    }, { broker, queue, storeResults: true, maxRetries: 0 });
    const gather = actor(name("gather"), (ns: number[]) => {
      ran.push("gather");
      return ns.length;
    }, { broker, queue, storeResults: true });
    const pipe = await pipeline([
      group([ok.message(1), pipeline([ok.message(2), fail.message()])]),
      gather.message(),
    ]).run();
    await broker.join(queue, { failFast: false });
    assert.deepEqual(ran, []);
    await assert.rejects(pipe.getResult({ block: true, timeout: 1_000 }), {
      name: "ResultFailure",
    });
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 1 });
  },
);

// Plans: a pipeline's later steps are stored once; each step refers to the next.

forEachBroker(
  "pipeline: given a pipeline of messages, then each step refers to the next in the plan, and the plan is gone once the last step is enqueued",
  async ({ broker, queue, name, redis }) => {
    const seen: unknown[][] = [];
    const step = actor(name("step"), (...args: unknown[]) => {
      seen.push(args);
      return args.length;
    }, { broker, queue, storeResults: true });
    const quiet = step.messageWithOptions({ args: ["q"], pipeIgnore: true });
    const steps = [step.message("a"), step.message("b"), quiet, step.message("c")];
    await pipeline(steps).run();
    const [claim] = await broker.claim(queue);
    const first = Message.decode(claim.body);
    // The first step carries a reference, not the rest of the pipeline.
    assert.equal(first.next?.pipe, undefined);
    assert.deepEqual(
      { ...first.next?.plan, bytes: 0 },
      { id: steps[0].id, home: queue, at: 1, queue, bytes: 0, fill: true, last: false },
    );
    assert.ok(!claim.body.includes(steps[2].id));
    assert.deepEqual(await broker.planResults(queue, steps[0].id, 2), [quiet.id, steps[3].id]);
    await processMessage(broker, queue, claim);
    await broker.join(queue);
    assert.deepEqual(seen, [["a"], ["b", 1], ["q"], ["c", 1]]);
    assert.deepEqual(await broker.planResults(queue, steps[0].id, 0), []);
    if (redis) {
      assert.equal(await redis.client.exists(planKey(redis.namespace, queue, steps[0].id)), 0);
    }
  },
);

forEachBroker(
  "pipeline: given a step that dies, then every later step's result fails, those read from the plan too",
  async ({ broker, queue, name }) => {
    const ok = actor(name("ok"), (n: number) => n, { broker, queue, storeResults: true });
    const fail = actor(name("fail"), (_n: number): number => {
      throw new Error("boom");
    }, { broker, queue, storeResults: true, maxRetries: 0 });
    const later = ok.message();
    const pipe = await pipeline([ok.message(1), fail.message(), ok.message(), later]).run();
    await broker.join(queue, { failFast: false });
    await assert.rejects(later.getResult(), { name: "ResultFailure" });
    await assert.rejects(pipe.getResult(), { name: "ResultFailure" });
  },
);

forEachBroker(
  "pipeline: given a group member that dies, then the results of the steps after the group fail, those read from the plan too",
  async ({ broker, queue, name }) => {
    const ok = actor(name("ok"), (n: unknown) => n, { broker, queue, storeResults: true });
    const fail = actor(name("fail"), (_n: number): number => {
      throw new Error("boom");
    }, { broker, queue, storeResults: true, maxRetries: 0 });
    const last = ok.message();
    const pipe = await pipeline([
      group([ok.message(1), fail.message(2)]),
      ok.message(),
      ok.message(),
      last,
    ]).run();
    await broker.join(queue, { failFast: false });
    await assert.rejects(last.getResult(), { name: "ResultFailure" });
    await assert.rejects(pipe.getResult(), { name: "ResultFailure" });
  },
);

forEachBroker(
  "pipeline: given a plan that is gone, then the next step is refused with an error and nothing is enqueued",
  async ({ label, broker, queue, clock, name, redis, errors }) => {
    const runs: number[] = [];
    const step = actor(name("step"), (n: number) => {
      runs.push(n);
      return n + 1;
    }, { broker, queue });
    const first = step.message(1);
    await pipeline([first, step.message(), step.message()]).run();
    // A plan lives 30 days.
    if (label === "MemoryBroker") clock.time += 31 * 86_400_000;
    else await redis!.client.del(planKey(redis!.namespace, queue, first.id));
    await broker.join(queue);
    assert.deepEqual(runs, [1]);
    assert.ok(
      errors.some((line) => line.includes("the plan of its pipeline is unknown or expired")),
    );
  },
);

// Groups in plans: a group step after the first is stored in the plan too, with its members;
// the step before it reads it and starts the group, the member that completes it reads the
// step after it.

forEachBroker(
  "pipeline: given groups and messages alternating, then the step before a group refers to it in the plan, and the results flow through to the end",
  async ({ broker, queue, name, redis }) => {
    const double = actor(name("double"), (...args: number[]) => 2 * args[args.length - 1], {
      broker,
      queue,
      storeResults: true,
    });
    const sum = actor(name("sum"), (ns: number[]) => ns.reduce((a, b) => a + b, 0), {
      broker,
      queue,
      storeResults: true,
    });
    const first = double.message(1);
    const second = group([double.message(), double.message(), double.message()]);
    const pipe = await pipeline([
      first,
      second,
      sum.message(),
      group([double.message(), double.message()]),
      sum.message(),
    ]).run();
    const [claim] = await broker.claim(queue);
    const body = Message.decode(claim.body);
    // A reference to the group step, not its members.
    assert.equal(body.next?.fan, undefined);
    assert.deepEqual({ ...body.next?.plan, bytes: 0 }, {
      id: first.id,
      home: queue,
      at: 1,
      queue,
      bytes: 0,
      fill: true,
      last: false,
      fan: { queues: [queue], group: second.id, home: queue },
    });
    for (const member of second.lastMessages()) assert.ok(!claim.body.includes(member.id));
    await processMessage(broker, queue, claim);
    await broker.join(queue);
    // 1 -> 2 -> [4, 4, 4] -> 12 -> [24, 24] -> 48
    assert.equal(await pipe.getResult(), 48);
    assert.deepEqual(await pipe.getResults().toArray(), [2, [4, 4, 4], 12, [24, 24], 48]);
    assert.deepEqual(await broker.planResults(queue, first.id, 0), []);
    if (redis) {
      assert.equal(await redis.client.exists(planKey(redis.namespace, queue, first.id)), 0);
    }
  },
);

forEachBroker(
  "pipeline: given every ack of groups in a plan run twice (retried requests), then each group starts once, each member runs once and each fan-in once",
  async ({ broker, queue, name }) => {
    const runs: string[] = [];
    const one = actor(name("one"), (..._: unknown[]) => {
      runs.push("member");
      return 1;
    }, { broker, queue });
    const count = actor(name("count"), (ns: number[]) => {
      runs.push(`count ${ns.length}`);
      return ns.length;
    }, { broker, queue, storeResults: true });
    const pipe = await pipeline([
      group([one.message(), one.message()]),
      count.message(),
      group([one.message(), one.message(), one.message()]),
      count.message(),
    ]).run();
    const doubled = settleTwice(broker);
    await broker.join(queue);
    assert.deepEqual(runs, [
      "member",
      "member",
      "count 2",
      "member",
      "member",
      "member",
      "count 3",
    ]);
    // Every message but the last, which has nothing to write with its ack.
    assert.equal(doubled.done.length, 6);
    assert.ok(doubled.done.every(([first, second]) => first && !second));
    assert.equal(await pipe.getResult(), 3);
  },
);

forEachBroker(
  "pipeline: given a member of a group in the plan that dies, then the fan-in never runs and the results after the group fail",
  async ({ broker, queue, name }) => {
    const ran: string[] = [];
    const ok = actor(name("ok"), (...args: unknown[]) => {
      ran.push("ok");
      return args.length;
    }, { broker, queue, storeResults: true });
    const fail = actor(name("fail"), (..._: unknown[]): number => {
      throw new Error("boom");
    }, { broker, queue, storeResults: true, maxRetries: 0 });
    const last = ok.message();
    const pipe = await pipeline([
      ok.message(),
      group([ok.message(), fail.message()]),
      ok.message(),
      last,
    ]).run();
    await broker.join(queue, { failFast: false });
    assert.deepEqual(ran, ["ok", "ok"]);
    await assert.rejects(last.getResult(), { name: "ResultFailure" });
    await assert.rejects(pipe.getResult(), { name: "ResultFailure" });
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 1 });
  },
);

forEachBroker(
  "pipeline: given a group as the last step, with a completion callback, then the plan goes with the fan-out and the callback fires once",
  async ({ broker, queue, name, redis }) => {
    const done: number[][] = [];
    const one = actor(name("one"), (n: number) => n, { broker, queue, storeResults: true });
    const finish = actor(name("finish"), (...args: number[]) => {
      done.push(args);
    }, { broker, queue });
    const first = one.message(5);
    const fan = group([one.message(), one.message()]).addCompletionCallback(finish.message(0));
    const pipe = await pipeline([first, fan]).run();
    const [claim] = await broker.claim(queue);
    await processMessage(broker, queue, claim);
    if (redis) {
      assert.equal(await redis.client.exists(planKey(redis.namespace, queue, first.id)), 0);
    }
    await broker.join(queue);
    assert.deepEqual(done, [[0]]);
    assert.deepEqual(await pipe.getResult(), [5, 5]);
  },
);

forEachBroker(
  "pipeline: given a plan that is gone when a group completes, then the fan-in is refused with an error and nothing is enqueued",
  async ({ label, broker, queue, clock, name, redis, errors }) => {
    const ran: string[] = [];
    const one = actor(name("one"), () => {
      ran.push("one");
      return 1;
    }, { broker, queue });
    const gather = actor(name("gather"), (_: number[]) => {
      ran.push("gather");
    }, { broker, queue });
    const members = group([one.message(), one.message()], { ttl: 60 * 86_400_000 });
    await pipeline([members, gather.message(), gather.message()]).run();
    // A plan lives 30 days; this group's state 60.
    if (label === "MemoryBroker") clock.time += 31 * 86_400_000;
    else await redis!.client.del(planKey(redis!.namespace, queue, members.id));
    await broker.join(queue);
    assert.deepEqual(ran, ["one", "one"]);
    assert.ok(
      errors.some((line) => line.includes("the plan of its pipeline is unknown or expired")),
    );
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  },
);

// Member pipelines in plans: a group's member pipelines store their later steps in the plan
// too (`<position>:<member>:<step>`); each member step refers to the next of its member.

forEachBroker(
  "pipeline: given a group of member pipelines between messages, then each member step refers to the next of its member in the plan, and the results flow through to the end",
  async ({ broker, queue, name, redis }) => {
    const add = actor(name("add"), (...args: number[]) => args.reduce((a, b) => a + b, 0), {
      broker,
      queue,
      storeResults: true,
    });
    const sum = actor(name("sum"), (ns: number[]) => ns.reduce((a, b) => a + b, 0), {
      broker,
      queue,
      storeResults: true,
    });
    const first = add.message(1);
    const long = pipeline([add.message(10), add.message(100), add.message(1000)]);
    const short = pipeline([add.message(20), add.message(200)]);
    const fan = group([long, short, add.message(30)]);
    const pipe = await pipeline([first, fan, sum.message()]).run();
    await processMessage(broker, queue, (await broker.claim(queue))[0]);
    const claims = await broker.claim(queue, { count: 3 });
    const heads = claims.map((claim) => Message.decode(claim.body));
    const head = heads.find((message) => message.id === long.steps[0].id)!;
    // The member's first step carries a reference to its second, not the rest of the member.
    assert.equal(head.next?.pipe, undefined);
    assert.deepEqual({ ...head.next?.plan, bytes: 0 }, {
      id: first.id,
      home: queue,
      at: 1,
      member: 0,
      step: 1,
      queue,
      bytes: 0,
      fill: true,
      last: false,
    });
    assert.equal(head.next?.member?.index, 0);
    for (const claim of claims) assert.ok(!claim.body.includes(long.steps[2].id));
    for (const claim of claims) await processMessage(broker, queue, claim);
    await broker.join(queue);
    // 1 -> [1+10+100+1000, 1+20+200, 1+30] -> 1111 + 221 + 31
    assert.deepEqual(await pipe.getResults().toArray(), [1, [1111, 221, 31], 1363]);
    assert.deepEqual(await fan.getResults().toArray(), [1111, 221, 31]);
    assert.deepEqual(await broker.planResults(queue, first.id, 0), []);
    if (redis) {
      assert.equal(await redis.client.exists(planKey(redis.namespace, queue, first.id)), 0);
    }
  },
);

forEachBroker(
  "pipeline: given a lone group of member pipelines whose acks all run twice (retried requests), then each step runs once and the last member's last step deletes the plan",
  async ({ broker, queue, name, redis }) => {
    const runs: string[] = [];
    const step = actor(name("step"), (label: string, n?: number) => {
      runs.push(label);
      return (n ?? 0) + 1;
    }, { broker, queue, storeResults: true });
    const fan = group([
      pipeline([step.message("a"), step.message("a"), step.message("a")]),
      pipeline([step.message("b"), step.message("b")]),
      step.message("c"),
    ]);
    await fan.run();
    // The plan holds the members' later steps: the ids that store results, from member 0's
    // second step on.
    assert.deepEqual(await broker.planResults(queue, fan.id, 0, { index: 0, step: 1 }), [
      (fan.members[0] as Pipeline).steps[1].id,
      (fan.members[0] as Pipeline).steps[2].id,
    ]);
    const doubled = settleTwice(broker);
    await broker.join(queue);
    assert.deepEqual(runs.sort(), ["a", "a", "a", "b", "b", "c"]);
    // The member steps that read a next step from the plan.
    assert.equal(doubled.done.length, 3);
    assert.ok(doubled.done.every(([first, second]) => first && !second));
    assert.deepEqual(await fan.getResults().toArray(), [3, 2, 1]);
    assert.deepEqual(await broker.planResults(queue, fan.id, 0), []);
    if (redis) {
      assert.equal(await redis.client.exists(planKey(redis.namespace, queue, fan.id)), 0);
    }
  },
);

forEachBroker(
  "pipeline: given a member pipeline's step that dies, then its member's later results and the results after the group fail, and the other members' results stand",
  async ({ broker, queue, name }) => {
    const ran: string[] = [];
    const ok = actor(name("ok"), (label: string, ..._: unknown[]) => {
      ran.push(label);
      return 1;
    }, { broker, queue, storeResults: true });
    const fail = actor(name("fail"), (..._: unknown[]): number => {
      throw new Error("boom");
    }, { broker, queue, storeResults: true, maxRetries: 0 });
    const afterDeath = ok.message("after death");
    const other = pipeline([ok.message("other"), ok.message("other")]);
    const last = ok.message("last");
    const pipe = await pipeline([
      ok.message("first"),
      group([pipeline([ok.message("doomed"), fail.message(), afterDeath]), other]),
      ok.message("gather"),
      last,
    ]).run();
    await broker.join(queue, { failFast: false });
    assert.deepEqual(ran.sort(), ["doomed", "first", "other", "other"]);
    await assert.rejects(afterDeath.getResult(), { name: "ResultFailure" });
    await assert.rejects(last.getResult(), { name: "ResultFailure" });
    await assert.rejects(pipe.getResult(), { name: "ResultFailure" });
    assert.equal(await other.getResult(), 1);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 1 });
  },
);

// Building pipelines: what skiff cannot run is refused at once.

Deno.test("pipeline: given shapes skiff cannot run, then TypeError or RangeError before anything is sent", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const a = actor(`a-${crypto.randomUUID()}`, (_n?: number) => 1, { broker });
  const g = () => group([a.message(), a.message()]);
  await assert.rejects(pipeline([g(), g()]).run(), {
    name: "TypeError",
    message: "Cannot build pipeline: a group must be followed by a message, not by another group",
  });
  await assert.rejects(
    group([pipeline([a.message(), g()])]).run(),
    /a pipeline inside a group cannot hold a group/,
  );
  await assert.rejects(pipeline([]).run(), /it has no steps/);
  await assert.rejects(group([]).run(), /it has no members/);
  const twice = a.message();
  await assert.rejects(pipeline([twice, twice]).run(), /appears twice/);
  const many = group(Array.from({ length: 1001 }, () => a.message()))
    .addCompletionCallback(a.message());
  await assert.rejects(many.run(), RangeError);
  assert.throws(() => pipeline([1 as never]), TypeError);
  assert.throws(() => group([g() as never]), TypeError);
  await assert.rejects(pipeline([a.message()]).run({ delay: -1 }), RangeError);
  assert.deepEqual(await broker.stats("default"), { ready: 0, delayed: 0, leased: 0, dead: 0 });
});

Deno.test("pipeline: it is never a thenable, and pipe() composes without running", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const a = actor(`a-${crypto.randomUUID()}`, (n: number) => n, { broker });
  const b = actor(`b-${crypto.randomUUID()}`, (s: string, n: number) => `${s}${n}`, { broker });
  const message = a.message(1);
  const pipe = message.pipe(b.message("x")).pipe(a.message(2));
  assert.ok(pipe instanceof Pipeline);
  assert.equal(pipe.length, 3);
  assert.equal("then" in message, false);
  assert.equal("then" in pipe, false);
  assert.equal("then" in group([message]), false);
  assert.equal(await pipe, pipe); // awaiting does not run it
  assert.equal((await broker.stats("default")).ready, 0);
  const typed: Pipeline<string> = a.message(1).pipe(b.message("x"));
  assert.equal(typed.steps.length, 2);
});

/** Whether two types are the same (not only assignable one way). */
type Same<X, Y> = (<T>() => T extends X ? 1 : 2) extends (<T>() => T extends Y ? 1 : 2) ? true
  : false;

Deno.test("pipeline: message.pipe() is typed as the Pipeline it returns, with the last step's result type", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const a = actor(`a-${crypto.randomUUID()}`, (n: number) => n, { broker });
  const b = actor(`b-${crypto.randomUUID()}`, (s: string, n: number) => `${s}${n}`, { broker });
  // Given pipe() on a message, then a group, then a pipeline.
  const piped = a.message(1).pipe(b.message("x"));
  const fanned = a.message(1).pipe(group([a.message(), a.message()]));
  const nested = a.message(1).pipe(pipeline([a.message(), b.message("y")]));
  // Then each is a Pipeline of its last step's result, assignable both ways, and no wider.
  const typed: Pipeline<string> = piped;
  const list: Pipeline<number[]> = fanned;
  const last: Pipeline<string> = nested;
  const back: PipelineLike<string> = typed;
  // @ts-expect-error the last step returns a string
  const wrong: Pipeline<number> = piped;
  const same: [
    Same<ReturnType<typeof piped.getResult>, Promise<string>>,
    Same<ReturnType<typeof fanned.getResult>, Promise<number[]>>,
    Same<ResultOf<typeof nested>, string>,
    Same<ResultOf<Pipeline<string>>, string>,
    Same<ResultOf<Group<number>>, number[]>,
  ] = [true, true, true, true, true];
  // What type-checks on them, and what they are at run time, is a Pipeline's.
  const chained: Pipeline<string> = await piped.pipe(a.message(2)).pipe(b.message("z")).run();
  for (const pipe of [typed, list, last, back, wrong, chained]) assert.ok(pipe instanceof Pipeline);
  assert.deepEqual([typed.length, list.length, last.length, chained.length], [2, 2, 3, 4]);
  assert.ok(fanned.steps[1] instanceof Group);
  assert.deepEqual(same, [true, true, true, true, true]);
  await broker.join("default");
});

Deno.test("pipeline: given run with a delay, then the first step is delayed and the rest follow it", async () => {
  let time = 0;
  const broker = new MemoryBroker({ logger: silentLogger, now: () => time });
  const seen: number[] = [];
  const a = actor(`a-${crypto.randomUUID()}`, (n: number) => {
    seen.push(n);
    return n + 1;
  }, { broker });
  await pipeline([a.message(1), a.message()]).run({ delay: 1_000 });
  assert.equal((await broker.stats("default")).delayed, 1);
  time = 1_000;
  await broker.join("default");
  assert.deepEqual(seen, [1, 2]);
});

Deno.test("pipeline: given envelopes that carry a continuation, then a malformed one is a dead letter with a reason", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const a = actor(`a-${crypto.randomUUID()}`, () => 1, { broker });
  const bad = new Message({ queue: "default", actor: a.name, args: [] }).copy({
    next: { pipe: { id: "", queue: "default" } } as never,
  });
  await broker.enqueue([bad]);
  await broker.join("default", { failFast: false });
  const [dead] = await broker.deadLetters("default");
  assert.match(dead.reason, /Cannot decode message: 'next/);
});
