import assert from "node:assert/strict";
import { formatReport, missedTargets, runSoak } from "../scripts/soak.ts";
import { testRedisUrl } from "./_env.ts";

// A scaled-down `scripts/soak.ts`: a few hundred messages through the fault mode, three
// `skiff worker` processes with one killed by SIGKILL, then the push and schedule soaks.
// The fault randomness is seeded; the lease is short so the killed worker's messages come
// back within seconds.
Deno.test("soak: under faults and one SIGKILL, every message runs once (but those in flight on the killed worker), no genuine push gets 401, every schedule slot fires once", async () => {
  const report = await runSoak({
    redisUrl: testRedisUrl(),
    faults: { errorRate: 0.03, dropRate: 0.03, slowRate: 0.05, slowMs: 100, seed: 7 },
    queue: {
      messages: 300,
      workers: 3,
      concurrency: 4,
      leaseMs: 5_000,
      workMs: 5,
      longWorkMs: 300,
      longEvery: 10,
      maxBacklog: 2,
      senders: 8,
      killAt: 0.4,
      timeoutMs: 60_000,
    },
    push: { pushes: 100, senders: 4, replayEvery: 5, leaseMs: 2_000, timeoutMs: 20_000 },
    schedule: { slots: 30, tickers: 3, stepMs: 50, seed: 7 },
    log: () => {},
  });
  console.log(formatReport(report));

  // The faults really happened, and the killed worker was replaced and the queue drained.
  assert.ok(report.injected.errors > 0 && report.injected.drops > 0, "faults were injected");
  assert.ok(report.queue!.drained, "the queue drained");
  assert.ok(report.queue!.sent > 250, `most sends succeed, sent ${report.queue!.sent}`);
  assert.ok(report.push!.replays > 0 && report.push!.forged > 0, "replays and forgeries sent");
  // Every target of issue 11, each with its count.
  assert.deepEqual(missedTargets(report), []);
});
