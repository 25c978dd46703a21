/**
 * The scale check, scaled down to a tenth: every case on a private redis-server of its own
 * (`scripts/scale.ts` starts it and flushes it), with its counts pinned and its longest
 * script held to a SLOWLOG budget (every command logged, on a machine shared with the rest
 * of the suite: a budget, not a timing).
 *
 * @module
 */
import assert from "node:assert/strict";
import { runScale, type ScaleRow } from "../scripts/scale.ts";

/** The longest script call allowed, in microseconds, with SLOWLOG logging every command. */
const SCRIPT_BUDGET_US = 25_000;

Deno.test("scale: given every case at a tenth of its size, then each script stays within budget and each cost is what it should be", async () => {
  const rows = await runScale({ scale: 0.1 });
  const row = (name: string, size?: string): ScaleRow => {
    const found = rows.find((r) => r.name === name && (!size || r.size.startsWith(size)));
    assert.ok(found, name);
    return found;
  };
  for (const r of rows) {
    assert.ok(
      r.longestScriptUs <= SCRIPT_BUDGET_US,
      `${r.name} ${r.size}: ${r.longestScriptUs} us`,
    );
  }
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
  // A group of 100 read while landing: a SET per result, at most one MGET per SET (+ the
  // first pass), and bytes linear in the group.
  const group = row("getResults (group)");
  assert.equal(group.outcome, "100 read");
  assert.ok(group.requests <= 100 + 100 + 3, String(group.requests));
  assert.ok(group.bytesSent <= 100 * 300, String(group.bytesSent));
  // A reply of 3000 values: parsed in 64 KiB chunks at the cost of parsing it whole.
  const mget = row("MGET via skiff local");
  const { replyBytes, stepsWhole, stepsChunked, copiedChunked } = mget.extra!;
  assert.ok(stepsChunked <= stepsWhole + Math.ceil(replyBytes / 65_536));
  assert.ok(copiedChunked <= 3 * replyBytes);
  assert.equal(mget.requests, 1);
  assert.equal(mget.commands, 1);
  // Pipelines run; their bytes still grow with steps squared (each step carries the rest).
  assert.equal(row("pipeline", "10 ").outcome, "10 steps run");
});
