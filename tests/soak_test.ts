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

Deno.test("soak targets: duplicates of the killed worker's messages pass up to its prefetch; a false 401 or a lost slot fails", () => {
  const report = {
    faults: { errorRate: 0.05, dropRate: 0.05, slowRate: 0.1, slowMs: 200, seed: 1 },
    injected: { errors: 1, drops: 1, slow: 1 },
    queue: {
      sent: 100,
      sendErrors: 0,
      runs: 104,
      lost: 0,
      ranTwice: 4,
      ranTwiceInFlight: 4,
      ranTwiceAfter: { ackError: 0, acked: 0, stale: 0, other: 0 },
      inFlightOnKilled: 4,
      killedPrefetch: 4,
      dead: 0,
      acks: { acked: 100, stale: 0, failed: 0 },
      warnings: { stale: 0, cannotFinish: 0, cannotClaim: 0 },
      drained: true,
      seconds: 1,
    },
    push: {
      pushes: 10,
      statuses: { 200: 10 },
      false401: 0,
      replays: 1,
      replaysAccepted: 0,
      forged: 1,
      forgedAccepted: 0,
      lost: 0,
      ranTwice: 0,
      sendErrors: 0,
    },
    schedule: {
      slots: 10,
      fired: 10,
      firedTwice: 0,
      skipped: 0,
      lost: 0,
      reported: 10,
      reportedTwice: 0,
      unreported: 0,
      tickErrors: 0,
      messages: 10,
      extraMessages: 0,
    },
  };
  assert.deepEqual(missedTargets(report), []);
  assert.match(
    formatReport(report),
    /in flight on the killed worker +4 \(of 4 in flight\) +target <= 4/,
  );

  // One more duplicate than the killed worker could hold, one early duplicate, a false 401,
  // a lost slot: each is named with its count.
  const worse = structuredClone(report);
  worse.queue.ranTwice = 6;
  worse.queue.ranTwiceInFlight = 5;
  worse.push.false401 = 2;
  worse.schedule.lost = 1;
  assert.deepEqual(missedTargets(worse), [
    "queue: 1 messages ran twice that were not in flight on the killed worker",
    "queue: 5 in-flight messages ran twice, more than the killed worker's prefetch 4",
    "push: 2 genuine pushes answered 401",
    "schedule: 1 slots lost",
  ]);

  // Slots are counted in Redis: one fired twice there, one fired that no tick reported, and
  // one reported by two ticks each fail a target of their own.
  const misreported = structuredClone(report);
  misreported.schedule.firedTwice = 1;
  misreported.schedule.unreported = 1;
  misreported.schedule.reportedTwice = 1;
  assert.deepEqual(missedTargets(misreported), [
    "schedule: 1 slots fired twice",
    "schedule: 1 slots fired that no tick reported",
    "schedule: 1 slots reported fired twice",
  ]);
  assert.match(formatReport(misreported), /fired but not reported +1 +target 0/);
});
