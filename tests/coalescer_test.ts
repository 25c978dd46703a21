import assert from "node:assert/strict";
import { Coalescer } from "../src/brokers/upstash/_batch.ts";

const turns = async (n = 32) => {
  for (let i = 0; i < n; i++) await undefined;
};

Deno.test("Coalescer: calls of one turn share a batch; two batches of a key fly at once, the next waits and grows", async () => {
  const runs: { key: string; items: number[]; done: PromiseWithResolvers<void> }[] = [];
  const coalescer = new Coalescer<number, string>(async (key, items) => {
    const done = Promise.withResolvers<void>();
    runs.push({ key, items, done });
    await done.promise;
    return items.map((item) => `${key}:${item}`);
  });
  const first = [coalescer.add("q", [1]), coalescer.add("q", [2, 3])];
  await turns();
  const second = coalescer.add("q", [4]);
  await turns();
  const third = [coalescer.add("q", [5]), coalescer.add("other", [6])];
  await turns();
  const fourth = coalescer.add("q", [7]);
  await turns();
  // q: two batches in flight; 5 and 7 wait together. Another key is not held back.
  assert.deepEqual(runs.map((r) => [r.key, r.items]), [["q", [1, 2, 3]], ["q", [4]], [
    "other",
    [6],
  ]]);
  runs[1].done.resolve();
  assert.deepEqual(await second, ["q:4"]);
  await turns();
  assert.deepEqual(runs[3].items, [5, 7]);
  for (const run of runs) run.done.resolve();
  assert.deepEqual(await Promise.all(first), [["q:1"], ["q:2", "q:3"]]);
  assert.deepEqual(await Promise.all([...third, fourth]), [["q:5"], ["other:6"], ["q:7"]]);
});

Deno.test("Coalescer: a failed batch rejects its callers only", async () => {
  let calls = 0;
  const coalescer = new Coalescer<number, number>((_key, items) => {
    calls++;
    return calls === 1 ? Promise.reject(new Error("503")) : Promise.resolve(items);
  });
  const failed = coalescer.add("q", [1]);
  await assert.rejects(failed, /503/);
  assert.deepEqual(await coalescer.add("q", [2]), [2]);
});

Deno.test("Coalescer: calls a few turns apart share a batch; flush() sends the pending one at once", async () => {
  const runs: number[][] = [];
  const coalescer = new Coalescer<number, number>((_key, items) => {
    runs.push(items);
    return Promise.resolve(items);
  });
  const first = coalescer.add("q", [1]);
  await turns(3);
  const second = coalescer.add("q", [2]);
  assert.deepEqual(await Promise.all([first, second]), [[1], [2]]);
  assert.deepEqual(runs, [[1, 2]]);
  const third = coalescer.add("q", [3]);
  coalescer.flush("q");
  // Sent in this turn: a request made now by the caller goes out with it.
  assert.deepEqual(runs, [[1, 2], [3]]);
  assert.deepEqual(await third, [3]);
  coalescer.flush("q");
  await turns();
  assert.deepEqual(runs.length, 2);
});
