import assert from "node:assert/strict";
import type { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import type { Broker, MemberReport } from "../src/broker.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { groupKey } from "../src/brokers/upstash/_keys.ts";
import { group } from "../src/composition/group.ts";
import { pipeline } from "../src/composition/pipeline.ts";
import { Message } from "../src/message.ts";
import { processMessage } from "../src/process.ts";
import { silentLogger } from "./broker_conformance.ts";
import { forEachBroker, settleTwice } from "./_brokers.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";

/** The report a claimed member message makes when it succeeds. */
function reportOf(body: string, result: string): MemberReport {
  const { group, home, index, size, keep, queues } = Message.decode(body).next!.member!;
  return { group, home, index, size, keep, queues, result };
}

forEachBroker(
  "group: given a member's ack run twice (a retried request), then it counts once and the completion fires once",
  async ({ broker, queue, name }) => {
    const done: number[][] = [];
    const work = actor(name("work"), (n: number) => n * 2, { broker, queue });
    const gather = actor(name("gather"), (ns: number[]) => {
      done.push(ns);
    }, { broker, queue });
    await pipeline([group([work.message(1), work.message(2), work.message(3)]), gather.message()])
      .run();
    const doubled = settleTwice(broker);
    const [first] = await broker.claim(queue);
    await processMessage(broker, queue, first);
    broker.settle = Object.getPrototypeOf(broker).settle; // back to single runs
    await broker.join(queue);
    assert.deepEqual(doubled.done, [[true, false]]);
    assert.deepEqual(done, [[2, 4, 6]]);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  },
);

forEachBroker(
  "group: given every member's ack run twice, then the completion still fires exactly once",
  async ({ broker, queue, name }) => {
    const done: string[] = [];
    const work = actor(name("work"), (_n: number) => {}, { broker, queue });
    const finish = actor(name("finish"), () => {
      done.push("finished");
    }, { broker, queue });
    await group([work.message(1), work.message(2)]).addCompletionCallback(finish.message()).run();
    const doubled = settleTwice(broker);
    await broker.join(queue);
    assert.deepEqual(done, ["finished"]);
    assert.deepEqual(doubled.done, [[true, false], [true, false]]);
  },
);

forEachBroker(
  "group: given two members finishing at the same time, then the completion fires once",
  async ({ broker, queue, name }) => {
    const done: number[][] = [];
    const work = actor(name("work"), (n: number) => n, { broker, queue });
    const gather = actor(name("gather"), (ns: number[]) => {
      done.push(ns);
    }, { broker, queue });
    await pipeline([group([work.message(1), work.message(2)]), gather.message()]).run();
    const claims = await broker.claim(queue, { count: 2 });
    await Promise.all(claims.map((claim) => processMessage(broker, queue, claim)));
    await broker.join(queue);
    assert.deepEqual(done, [[1, 2]]);
  },
);

forEachBroker(
  "group: given the same member reported by two messages, then the set of members counts it once",
  async ({ broker, queue, name }) => {
    const done: string[] = [];
    const work = actor(name("work"), (_n: number) => {}, { broker, queue });
    const finish = actor(name("finish"), () => {
      done.push("finished");
    }, { broker, queue });
    const g = group([work.message(1), work.message(2)]).addCompletionCallback(finish.message());
    await g.run();
    const [one, two] = await broker.claim(queue, { count: 2 });
    const report = reportOf(one.body, "null");
    assert.deepEqual(
      await broker.settle(queue, one, { kind: "ack", effects: { member: report } }),
      { done: true, enqueued: [] },
    );
    const [impostor] = await broker.enqueue([work.message(3)]);
    const [claim] = await broker.claimById(queue, [impostor.id]).then((r) => r.claimed);
    await broker.settle(queue, claim, { kind: "ack", effects: { member: report } });
    assert.equal((await broker.stats(queue)).ready, 0); // no completion yet
    const last = await broker.settle(queue, two, {
      kind: "ack",
      effects: { member: reportOf(two.body, "null") },
    });
    assert.equal(last.enqueued.length, 1);
    await broker.join(queue);
    assert.deepEqual(done, ["finished"]);
  },
);

forEachBroker(
  "group: given two members that fail for good, then the failure callback fires once",
  async ({ broker, queue, name }) => {
    const failures: string[] = [];
    const work = actor(name("work"), (_n: number) => {
      throw new Error("no");
    }, { broker, queue, maxRetries: 0 });
    const report = actor(name("report"), (data?: { id: string }) => {
      failures.push(data!.id);
    }, { broker, queue });
    const members = [work.message(1), work.message(2)];
    await group(members).addFailureCallback(report.message()).run();
    await broker.join(queue, { failFast: false });
    assert.equal(failures.length, 1);
    assert.ok(members.some((m) => m.id === failures[0]));
    assert.equal((await broker.stats(queue)).dead, 2);
  },
);

forEachBroker(
  "group: given a group whose state is gone, then its member's report is refused with an error, and nothing is left behind",
  async ({ label, broker, queue, clock, name, redis, errors }) => {
    const done: string[] = [];
    const work = actor(name("work"), (_n: number) => {}, { broker, queue });
    const finish = actor(name("finish"), () => {
      done.push("finished");
    }, { broker, queue });
    const g = group([work.message(1)], { ttl: 60_000 }).addCompletionCallback(finish.message());
    await g.run();
    if (label === "MemoryBroker") clock.time += 60_000;
    else await redis!.client.del(groupKey(redis!.namespace, queue, g.id));
    await broker.join(queue);
    assert.deepEqual(done, []);
    assert.ok(
      errors.some((line) => line.includes(`to group ${g.id}: the group is unknown or expired`)),
    );
    if (redis) assert.equal(await redis.client.exists(groupKey(redis.namespace, queue, g.id)), 0);
  },
);

forEachBroker(
  "group: given pipelines as members, then each member's result is its last step's, and the completion waits for the last steps",
  async ({ broker, queue, name }) => {
    const done: string[] = [];
    const inc = actor(name("inc"), (n: number) => n + 1, { broker, queue, storeResults: true });
    const finish = actor(name("finish"), () => {
      done.push("finished");
    }, { broker, queue });
    const g = group([inc.message(1), pipeline([inc.message(10), inc.message(), inc.message()])])
      .addCompletionCallback(finish.message());
    await g.run({ delay: 0 });
    await broker.join(queue);
    assert.deepEqual(await g.getResults().toArray(), [2, 13]);
    assert.deepEqual(done, ["finished"]);
  },
);

forEachBroker(
  "group: given run with a delay, then every member waits",
  async ({ broker, queue, clock, name }) => {
    const work = actor(name("work"), (_n: number) => {}, { broker, queue });
    await group([work.message(1), work.message(2)]).run({ delay: 1_000 });
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 2, leased: 0, dead: 0 });
    clock.time += 1_000;
    await broker.join(queue);
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  },
);

/** A client that counts HTTP requests: each EVALSHA, EVAL or pipeline `exec`. */
function counting(client: Redis): { client: Redis; requests: () => number } {
  let requests = 0;
  const wrapped = {
    evalsha: (...args: Parameters<Redis["evalsha"]>) => {
      requests++;
      return client.evalsha(...args);
    },
    eval: (...args: Parameters<Redis["eval"]>) => {
      requests++;
      return client.eval(...args);
    },
    pipeline: () => {
      const pipe = client.pipeline();
      const exec = pipe.exec.bind(pipe);
      pipe.exec = ((...args: Parameters<typeof exec>) => {
        requests++;
        return exec(...args);
      }) as typeof pipe.exec;
      return pipe;
    },
  };
  return { client: wrapped as unknown as Redis, requests: () => requests };
}

Deno.test("UpstashBroker: group: given run(), then every member on two queues and the group's state go in one HTTP request", async () => {
  const redis = restClient();
  const namespace = testPrefix("group-run").slice(0, -1);
  const { client, requests } = counting(redis);
  const broker: Broker = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
  const a = actor(`a-${crypto.randomUUID()}`, (_n: number) => {}, { broker, queue: "qa" });
  const b = actor(`b-${crypto.randomUUID()}`, (_n: number) => {}, { broker, queue: "qb" });
  try {
    // Scripts loaded ahead, so that no NOSCRIPT round trip is counted.
    await group([a.message(0)]).run();
    const before = requests();
    const g = group([a.message(1), b.message(2), a.message(3)])
      .addCompletionCallback(a.message(4));
    await g.run();
    assert.equal(requests() - before, 1);
    assert.equal((await broker.stats("qa")).ready, 3);
    assert.equal((await broker.stats("qb")).ready, 1);
    assert.equal(await redis.hget(groupKey(namespace, "qa", g.id), "left"), 3);
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});
