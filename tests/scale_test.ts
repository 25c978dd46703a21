/**
 * The scale check, scaled down to a tenth: every case on a private redis-server of its own
 * (`scripts/scale.ts` starts it and flushes it), with its counts pinned: commands, requests
 * and bytes per call bound each script's work. Its longest script time (SLOWLOG) is
 * printed by `deno task scale`, not asserted: it is a time, and moved from 6 ms to 60 ms
 * with the load of the suites running beside it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runScale, type ScaleRow } from "../scripts/scale.ts";

Deno.test("scale: given every case at a tenth of its size, then each cost is what it should be", async () => {
  const rows = await runScale({ scale: 0.1 });
  const row = (name: string, size?: string): ScaleRow => {
    const found = rows.find((r) => r.name === name && (!size || r.size.startsWith(size)));
    assert.ok(found, name);
    return found;
  };
  // 20 bodies of 100 KB, a claim of 20: 10 fit in 1 MiB. The first call of each script
  // is a NOSCRIPT and its EVAL: 2 requests.
  const claim = row("claim");
  assert.deepEqual(claim.extra, { claimed: 10 });
  assert.equal(claim.requests, 2);
  assert.equal(claim.commands, 8);
  assert.ok(claim.bytesReceived < 1.5 * 1024 * 1024, String(claim.bytesReceived));
  // 2000 dead letters, a limit of 100000: pages of 1000, then one that finds the end.
  const dead = row("deadLetters");
  assert.equal(dead.outcome, "2000 listed");
  assert.equal(dead.requests, 1 + 3);
  assert.equal(dead.commands, 16);
  const purge = row("purgeDead");
  assert.equal(purge.outcome, "2000 purged");
  assert.equal(purge.requests, 1 + 3);
  // A group of 100 read while landing: a SET per result; each MGET finds a result (at most
  // 100) or waits for a store's wake-up (at most one per store), plus the first pass: linear.
  const group = row("getResults (group)");
  assert.equal(group.outcome, "100 read");
  assert.ok(group.requests <= 100 + 2 * 100 + 3, String(group.requests));
  assert.ok(group.bytesSent <= 100 * 300, String(group.bytesSent));
  // A reply of 3000 values: parsed in 64 KiB chunks at the cost of parsing it whole.
  const mget = row("MGET via skiff local");
  const { replyBytes, stepsWhole, stepsChunked, copiedChunked } = mget.extra!;
  assert.ok(stepsChunked <= stepsWhole + Math.ceil(replyBytes / 65_536));
  assert.ok(copiedChunked <= 3 * replyBytes);
  assert.equal(mget.requests, 1);
  assert.equal(mget.commands, 1);
  // Pipelines: a step's bytes and commands do not depend on how many steps follow it (each
  // refers to the next in the plan): step k of a pipeline of 30 costs what step k of a
  // pipeline of 100 costs, exactly. 13 commands a step (claim 6, settle 7), 14 for the step
  // before the last (the plan deleted), 10 for the last (its ack).
  assert.equal(row("pipeline", "10 ").outcome, "10 steps run");
  sameStages(row("pipeline", "30 "), row("pipeline", "100 "), 2);
  for (const steps of [30, 100]) {
    const { commands } = row("pipeline", `${steps} `).stages!;
    assert.deepEqual(commands, [...Array(steps - 2).fill(13), 14, 10], `${steps} steps`);
  }
  // Pipelines of groups and their fan-ins, [G(10), m, G(10), m, ...]: a stage (a group of
  // 10 and its fan-in, 11 messages) costs the same bytes and commands whatever follows it;
  // 142 commands (11 claims, 10 member settles, the fan-in's settle starting the next group,
  // each reading its step from the plan), 136 for the last stage.
  for (const stages of [1, 3, 10]) {
    const fan = row("fan pipeline", `${stages} `);
    assert.equal(fan.outcome, `${stages * 11} messages run`);
    assert.deepEqual(fan.stages!.commands, [...Array(stages - 1).fill(142), 136]);
  }
  sameStages(row("fan pipeline", "3 "), row("fan pipeline", "10 "), 1);
  // A group of 10 member pipelines of k steps (k not scaled): a stage (one step of every
  // member, 10 messages) costs the same bytes and commands whatever follows it: 130 commands
  // (10 claims of 6, 10 settles of 7, each reading its member's next step from the plan), 151
  // for the stage that reads each member's last step (it takes it: HDEL, HINCRBY, and the
  // last one deletes the plan), 100 for the last (10 claims, 10 acks). 15,100 bytes a stage
  // while the steps' indexes have one digit, 10 more with two; the plan is gone at the end.
  for (const k of [5, 10, 30]) {
    const members = row("member pipelines", `10 members of ${k} `);
    assert.equal(members.outcome, `${10 * k} messages run`);
    assert.deepEqual(members.extra, { planLeft: 0 });
    const { bytes, commands } = members.stages!;
    assert.deepEqual(commands, [...Array(k - 2).fill(130), 151, 100], `k = ${k}`);
    const oneDigit = Math.min(k - 2, 9);
    assert.deepEqual(bytes.slice(0, oneDigit), Array(oneDigit).fill(bytes[0]), `k = ${k}`);
    assert.deepEqual(bytes.slice(9, k - 2), Array(Math.max(k - 11, 0)).fill(bytes[0] + 10));
  }
  sameStages(
    row("member pipelines", "10 members of 5 "),
    row("member pipelines", "10 members of 10 "),
    2,
  );
  sameStages(
    row("member pipelines", "10 members of 10 "),
    row("member pipelines", "10 members of 30 "),
    2,
  );
});

/**
 * Asserts that every stage of the shorter run but its last `tail` costs exactly what the
 * same stage of the longer run costs: bytes and commands.
 */
function sameStages(shorter: ScaleRow, longer: ScaleRow, tail: number): void {
  const a = shorter.stages!;
  const b = longer.stages!;
  const n = a.bytes.length - tail;
  assert.ok(n > 0 && b.bytes.length > a.bytes.length, `${shorter.size}, ${longer.size}`);
  assert.deepEqual(b.bytes.slice(0, n), a.bytes.slice(0, n), `${longer.size}: bytes`);
  assert.deepEqual(b.commands.slice(0, n), a.commands.slice(0, n), `${longer.size}: commands`);
}
