/**
 * What only `UpstashBroker` can get wrong in debounce, cancel and flush: the scripts, a
 * retried call whose first answer was lost, and races with other processes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import {
  CANCEL,
  FLOW_CONTROL_SCRIPTS,
  FLUSH,
  WRITE_DEBOUNCE,
} from "../src/brokers/upstash/scripts.ts";
import { group } from "../src/composition/group.ts";
import { silentLogger } from "./broker_conformance.ts";
import { losing } from "./_losing.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";

const redis = restClient();
// `debounce` is KEYS[7] of WRITE_DEBOUNCE; `target` is one of dead, ready, timers in
// CANCEL; `state` a group state key; `KEYS[k + n]` the keys of another queue.
const KEY_VARIABLES = new Set([
  "target",
  "ready",
  "timers",
  "msg",
  "dead",
  "reason",
  "call",
  "debounce",
  "state",
  "flow",
  "parked",
]);

Deno.test("flow control scripts: each loads, its SHA matches, and it names keys only through KEYS", async () => {
  for (const script of FLOW_CONTROL_SCRIPTS) {
    assert.match(script.source, /^#!lua flags=allow-key-locking\n/, script.name);
    assert.equal(await redis.scriptLoad(script.source), await script.sha(), script.name);
    for (const [, command, key] of script.source.matchAll(/redis\.call\("(\w+)", ([^,)]+)/g)) {
      assert.ok(
        KEY_VARIABLES.has(key) || /^KEYS\[k \+ \d\]$/.test(key),
        `${script.name}: ${command} on ${key}`,
      );
    }
  }
});

function setup(name: string) {
  const namespace = testPrefix(name).slice(0, -1);
  const plain = new UpstashBroker({ redis, namespace, logger: silentLogger });
  return { namespace, queue: "q", plain };
}

Deno.test("debounce: given a replacing send whose answer is lost, when the message is claimed before the retry arrives, then the retry answers the same id and stores nothing new", async () => {
  const { namespace, queue, plain } = setup("lost-debounce");
  const task = actor(`task-${crypto.randomUUID()}`, (_s: string) => {}, { broker: plain, queue });
  const debounce = { key: "k", delay: 1 };
  try {
    const first = await task.sendWithOptions({ args: ["a"], debounce });
    const { client, lost } = losing(redis, WRITE_DEBOUNCE, "client retries", async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal((await plain.claim(queue)).length, 1); // no longer waiting
    });
    const sender = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
    const [sent] = await sender.enqueue([task.messageWithOptions({ args: ["b"], debounce })]);
    assert.equal(lost(), 1);
    assert.equal(sent.id, first.id);
    assert.equal(sent.debounced, true);
    assert.deepEqual(await plain.stats(queue), { ready: 0, delayed: 0, leased: 1, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("cancel: given a cancel of a group member whose answer is lost, when the retry arrives, then it answers cancelled and the group failed once", async () => {
  const { namespace, queue, plain } = setup("lost-cancel");
  const failures: unknown[] = [];
  const work = actor(`work-${crypto.randomUUID()}`, (_n: number) => {}, { broker: plain, queue });
  const report = actor(`failed-${crypto.randomUUID()}`, (_d?: unknown, e?: unknown) => {
    failures.push(e);
  }, { broker: plain, queue });
  try {
    const members = [work.message(1), work.message(2)];
    await group(members).addFailureCallback(report.message()).run();
    let runs = 0;
    const { client, lost } = losing(redis, CANCEL, "client retries", async () => {
      runs++;
      // Between the run and its retry, the other member is cancelled too: the group
      // failed already, so that cancel fires nothing more.
      assert.deepEqual(await plain.cancel(queue, [members[0].id]), ["cancelled"]);
    });
    const canceller = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
    const ids = [members[1].id];
    assert.deepEqual(await canceller.cancel(queue, ids), ["cancelled"]);
    assert.equal(lost(), 1);
    assert.equal(runs, 1);
    await plain.join(queue);
    assert.equal(failures.length, 1);
    assert.deepEqual(await plain.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("flush: given a flush whose answer is lost, when messages are sent before the retry arrives, then the retry answers the first counts and removes nothing more", async () => {
  const { namespace, queue, plain } = setup("lost-flush");
  const task = actor(`task-${crypto.randomUUID()}`, () => {}, { broker: plain, queue });
  try {
    await broker3(task);
    const { client, lost } = losing(
      redis,
      FLUSH,
      "client retries",
      async () => void await broker3(task),
    );
    const flusher = new UpstashBroker({ redis: client, namespace, logger: silentLogger });
    assert.deepEqual(await flusher.flush(queue), { ready: 3, delayed: 0, dead: 0 });
    assert.equal(lost(), 1);
    assert.deepEqual(await plain.stats(queue), { ready: 3, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

async function broker3(task: { message(): import("../src/message.ts").Message }) {
  const broker = (task as unknown as { broker: UpstashBroker }).broker;
  await broker.enqueue([task.message(), task.message(), task.message()]);
}

/** Runs `tests/fixtures/flow_control_process.ts` and reads the ids it printed. */
async function other(args: string[]): Promise<string[]> {
  const fixture = new URL("./fixtures/flow_control_process.ts", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fixture, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(output.code, 0);
  return JSON.parse(new TextDecoder().decode(output.stdout).trim());
}

Deno.test("debounce: given two processes sending one key at once, then one message is stored and every send names it", async () => {
  const { namespace, queue, plain } = setup("race-debounce");
  try {
    const [a, b] = await Promise.all([
      other(["send", namespace, queue, "k", "25"]),
      other(["send", namespace, queue, "k", "25"]),
    ]);
    const ids = new Set([...a, ...b]);
    assert.equal(ids.size, 1);
    assert.deepEqual(await plain.stats(queue), { ready: 0, delayed: 1, leased: 0, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});

Deno.test("cancel: given another process claiming while this one cancels, then every message is either run or cancelled, never both, never lost", async () => {
  const { namespace, queue, plain } = setup("race-cancel");
  const task = actor(`race-${crypto.randomUUID()}`, () => {}, { broker: plain, queue });
  try {
    const sent = await plain.enqueue(Array.from({ length: 200 }, () => task.message()));
    const ids = sent.map((m) => m.id);
    const claiming = other(["claim", namespace, queue, "20"]);
    // Once the other process is claiming from the front, cancel from the back.
    while ((await plain.stats(queue)).ready > 190) await new Promise((r) => setTimeout(r, 2));
    const outcomes: string[] = [];
    for (let i = ids.length; i > 0; i -= 10) {
      outcomes.unshift(...await plain.cancel(queue, ids.slice(Math.max(0, i - 10), i)));
    }
    const claimed = new Set(await claiming);
    ids.forEach((id, i) => {
      const outcome = outcomes[i];
      if (outcome === "cancelled") assert.ok(!claimed.has(id), id);
      else assert.ok(claimed.has(id), `${id}: ${outcome}`);
    });
    assert.ok(claimed.size > 0 && outcomes.includes("cancelled"), "both sides took some");
    assert.deepEqual(await plain.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await cleanup(redis, `${namespace}:`);
  }
});
