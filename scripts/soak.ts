/**
 * The soak: measures "safe to repeat" end to end under faults. A local Upstash REST server
 * in fault mode (a share of requests answered 503, a share whose response is dropped after
 * Redis ran them, a share slowed) stands between skiff and a private redis-server; then
 *
 * - the queue soak sends N messages and runs them with several `skiff worker` processes,
 *   one killed with SIGKILL mid-run and replaced, and counts each message's runs;
 * - the push soak pushes signed messages to the Hono worker endpoint and counts false 401s;
 * - the schedule soak ticks one schedule from several tickers and counts lost slots.
 *
 * It prints a table and exits 1 when a target is missed. See `docs/soak.md`.
 *
 * ```sh
 * node_modules/.bin/deno run -A scripts/soak.ts --messages 10000
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { type SoakFaults, type SoakServices, startServices } from "./_soak_services.ts";
import { queueSoak, type QueueSoakOptions, type QueueSoakReport } from "./_soak_queue.ts";
import { pushSoak, type PushSoakOptions, type PushSoakReport } from "./_soak_push.ts";
import {
  scheduleSoak,
  type ScheduleSoakOptions,
  type ScheduleSoakReport,
} from "./_soak_schedule.ts";

/** Options of {@linkcode runSoak}; every part has defaults (the full soak). */
export interface SoakOptions {
  /** The faults of the faulty path. */
  faults?: Partial<SoakFaults>;
  /** The queue soak; `false` skips it. */
  queue?: Partial<QueueSoakOptions> | false;
  /** The push soak; `false` skips it. */
  push?: Partial<PushSoakOptions> | false;
  /** The schedule soak; `false` skips it. */
  schedule?: Partial<ScheduleSoakOptions> | false;
  /** A redis-server to use (never a shared one); by default one is started. */
  redisUrl?: string;
  /** Where progress lines go (default stderr). */
  log?: (line: string) => void;
}

/** What the soak measured. */
export interface SoakReport {
  /** The faults in force. */
  faults: SoakFaults;
  /** What the faulty path injected. */
  injected: SoakServices["injected"];
  /** The queue soak, unless skipped. */
  queue?: QueueSoakReport;
  /** The push soak, unless skipped. */
  push?: PushSoakReport;
  /** The schedule soak, unless skipped. */
  schedule?: ScheduleSoakReport;
}

/** The faults of the full soak: those of issue 11. */
export const DEFAULT_FAULTS: SoakFaults = {
  errorRate: 0.05,
  dropRate: 0.05,
  slowRate: 0.1,
  slowMs: 200,
  seed: 11,
};

const DEFAULT_QUEUE: QueueSoakOptions = {
  messages: 10_000,
  workers: 3,
  concurrency: 8,
  leaseMs: 30_000,
  workMs: 5,
  longWorkMs: 500,
  longEvery: 20,
  maxBacklog: 2,
  senders: 16,
  killAt: 0.5,
  timeoutMs: 180_000,
};

const DEFAULT_PUSH: PushSoakOptions = {
  pushes: 300,
  senders: 8,
  replayEvery: 10,
  leaseMs: 30_000,
  timeoutMs: 120_000,
};

const DEFAULT_SCHEDULE: ScheduleSoakOptions = { slots: 100, tickers: 3, stepMs: 50, seed: 11 };

/**
 * Runs the soak: starts the services, runs the queue, push and schedule soaks one after
 * the other, stops everything it started.
 *
 * @param options Faults, sizes, and which parts to run.
 * @returns What it measured.
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const faults = { ...DEFAULT_FAULTS, ...options.faults };
  const log = options.log ?? ((line: string) => console.error(line));
  const services = await startServices(faults, options.redisUrl);
  try {
    const queue = options.queue === false
      ? undefined
      : await queueSoak(services, { ...DEFAULT_QUEUE, ...options.queue }, log);
    const push = options.push === false
      ? undefined
      : await pushSoak(services, { ...DEFAULT_PUSH, ...options.push }, log);
    const schedule = options.schedule === false
      ? undefined
      : await scheduleSoak(services, { ...DEFAULT_SCHEDULE, ...options.schedule }, log);
    return { faults, injected: { ...services.injected }, queue, push, schedule };
  } finally {
    await services.close();
  }
}

/**
 * The targets a report misses: 0 lost, 0 ran twice but the messages in flight on the
 * killed worker (at most its prefetch: started, not yet acked), 0 dead letters, 0 false 401s (and every replay
 * and forgery refused), every schedule slot fired once (counted in Redis) and reported
 * fired once.
 *
 * @param report What the soak measured.
 * @returns One line per missed target; empty when every target is met.
 */
export function missedTargets(report: SoakReport): string[] {
  const missed: string[] = [];
  const q = report.queue;
  if (q && !q.drained) missed.push("queue: did not drain before the timeout");
  if (q && q.lost > 0) missed.push(`queue: ${q.lost} messages never ran`);
  const early = q ? q.ranTwice - q.ranTwiceInFlight : 0;
  if (early > 0) {
    missed.push(`queue: ${early} messages ran twice that were not in flight on the killed worker`);
  }
  if (q && q.ranTwiceInFlight > q.killedPrefetch) {
    missed.push(
      `queue: ${q.ranTwiceInFlight} in-flight messages ran twice, more than the killed worker's prefetch ${q.killedPrefetch}`,
    );
  }
  if (q && q.dead > 0) missed.push(`queue: ${q.dead} dead letters`);
  const p = report.push;
  if (p && p.false401 > 0) missed.push(`push: ${p.false401} genuine pushes answered 401`);
  if (p && p.replaysAccepted + p.forgedAccepted > 0) {
    missed.push(`push: ${p.replaysAccepted + p.forgedAccepted} replays or forgeries accepted`);
  }
  if (p && p.lost > 0) missed.push(`push: ${p.lost} pushed messages never ran`);
  const s = report.schedule;
  if (s && s.lost > 0) missed.push(`schedule: ${s.lost} slots lost`);
  if (s && s.firedTwice > 0) missed.push(`schedule: ${s.firedTwice} slots fired twice`);
  if (s && s.unreported > 0) {
    missed.push(`schedule: ${s.unreported} slots fired that no tick reported`);
  }
  if (s && s.reportedTwice > 0) {
    missed.push(`schedule: ${s.reportedTwice} slots reported fired twice`);
  }
  return missed;
}

/**
 * The report as a table, one measure a line, with the target beside it.
 *
 * @param report What the soak measured.
 * @returns The table.
 */
export function formatReport(report: SoakReport): string {
  const { faults, injected, queue: q, push: p, schedule: s } = report;
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  const rows: [string, string | number, string][] = [
    [
      "faults",
      `${pct(faults.errorRate)} 503, ${pct(faults.dropRate)} dropped, ${
        pct(faults.slowRate)
      } slow (${faults.slowMs} ms), seed ${faults.seed}`,
      "",
    ],
    ["injected", `${injected.errors} 503, ${injected.drops} dropped, ${injected.slow} slow`, ""],
  ];
  if (q) {
    rows.push(
      ["queue: messages sent", `${q.sent} (${q.sendErrors} send errors)`, ""],
      ["queue: runs", q.runs, ""],
      ["queue: lost (never ran)", q.lost, "0"],
      ["queue: ran twice", q.ranTwice, ""],
      [
        "  in flight on the killed worker",
        `${q.ranTwiceInFlight} (of ${q.inFlightOnKilled} in flight)`,
        `<= ${q.killedPrefetch}`,
      ],
      ["  others", q.ranTwice - q.ranTwiceInFlight, "0"],
      ["    after a failed ack", q.ranTwiceAfter.ackError, ""],
      ["    after a successful ack", q.ranTwiceAfter.acked, ""],
      ["    after a stale ack", q.ranTwiceAfter.stale, ""],
      ["    other", q.ranTwiceAfter.other, ""],
      ["queue: dead letters", q.dead, "0"],
      ["queue: acks done/stale/failed", `${q.acks.acked}/${q.acks.stale}/${q.acks.failed}`, ""],
      [
        "queue: worker warnings",
        `${q.warnings.stale} "its lease ended", ${q.warnings.cannotFinish} "Cannot finish", ${q.warnings.cannotClaim} "Cannot claim"`,
        "",
      ],
      ["queue: time to drain", q.drained ? `${q.seconds.toFixed(1)} s` : "did not drain", ""],
    );
  }
  if (p) {
    rows.push(
      ["push: pushes", `${p.pushes} (${p.sendErrors} send errors)`, ""],
      [
        "push: answers",
        Object.entries(p.statuses).map(([status, n]) => `${n} x ${status}`).join(", "),
        "",
      ],
      ["push: false 401s", p.false401, "0"],
      ["push: replays/forgeries accepted", `${p.replaysAccepted}/${p.forgedAccepted}`, "0/0"],
      ["push: of replays/forgeries sent", `${p.replays}/${p.forged}`, ""],
      ["push: lost / ran twice", `${p.lost} / ${p.ranTwice}`, "0 / -"],
    );
  }
  if (s) {
    rows.push(
      ["schedule: slots fired (in Redis)", `${s.fired} of ${s.slots}`, `${s.slots}`],
      ["schedule: lost slots", s.lost, "0"],
      ["schedule: slots fired twice", s.firedTwice, "0"],
      ["schedule: slots skipped (reported)", s.skipped, ""],
      ["schedule: slots reported fired", `${s.reported} of ${s.slots}`, `${s.slots}`],
      ["  fired but not reported", s.unreported, "0"],
      ["  reported fired twice", s.reportedTwice, "0"],
      ["schedule: messages for no measured slot", s.extraMessages, ""],
      ["schedule: ticks that failed", s.tickErrors, ""],
    );
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  const valueWidth = Math.max(...rows.filter((r) => r[2]).map(([, value]) => String(value).length));
  return rows.map(([name, value, target]) =>
    `${name.padEnd(width)}  ${String(value).padEnd(valueWidth)}  ${
      target ? `target ${target}` : ""
    }`.trimEnd()
  ).join("\n");
}

function number(values: Record<string, unknown>, name: string): number | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== "string" || !Number.isFinite(n) || n < 0) {
    throw new RangeError(
      `'--${name}' must be a non-negative number, received ${value}`,
    );
  }
  return n;
}

async function main(args: string[]): Promise<number> {
  const names = [
    "messages",
    "workers",
    "concurrency",
    "lease-ms",
    "work-ms",
    "long-work-ms",
    "long-every",
    "max-backlog",
    "senders",
    "kill-at",
    "timeout-ms",
    "pushes",
    "slots",
    "step-ms",
    "error-rate",
    "drop-rate",
    "slow-rate",
    "slow-ms",
    "seed",
  ];
  const { values } = parseArgs({
    args,
    options: {
      ...Object.fromEntries(names.map((name) => [name, { type: "string" as const }])),
      "no-queue": { type: "boolean" },
      "no-push": { type: "boolean" },
      "no-schedule": { type: "boolean" },
    },
  });
  const n = (name: string) => number(values, name);
  const strip = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  const report = await runSoak({
    redisUrl: process.env.SKIFF_TEST_REDIS_URL,
    faults: strip({
      errorRate: n("error-rate"),
      dropRate: n("drop-rate"),
      slowRate: n("slow-rate"),
      slowMs: n("slow-ms"),
      seed: n("seed"),
    }),
    queue: values["no-queue"] ? false : strip({
      messages: n("messages"),
      workers: n("workers"),
      concurrency: n("concurrency"),
      leaseMs: n("lease-ms"),
      workMs: n("work-ms"),
      longWorkMs: n("long-work-ms"),
      longEvery: n("long-every"),
      maxBacklog: n("max-backlog"),
      senders: n("senders"),
      killAt: n("kill-at"),
      timeoutMs: n("timeout-ms"),
    }),
    push: values["no-push"] ? false : strip({ pushes: n("pushes") }),
    schedule: values["no-schedule"]
      ? false
      : strip({ slots: n("slots"), stepMs: n("step-ms"), seed: n("seed") }),
  });
  console.log(formatReport(report));
  const missed = missedTargets(report);
  for (const line of missed) console.log(`MISSED ${line}`);
  if (missed.length === 0) console.log("every target met");
  return missed.length === 0 ? 0 : 1;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    console.error(`Cannot run soak: ${error instanceof Error ? error.message : "it failed"}`);
    process.exitCode = 2;
  }
}
