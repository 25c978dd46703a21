/**
 * The queue soak: N messages sent through the faulty path, several `skiff worker`
 * processes consuming them, one killed with SIGKILL mid-run and replaced; then every
 * message's runs are counted from the workers' event list. Private to `scripts/soak.ts`.
 *
 * @module
 */
import { Redis } from "@upstash/redis";
import { Message, UpstashBroker } from "../mod.ts";
import { delay, EVENTS_KEY, type SoakServices } from "./_soak_services.ts";

/** Options of the queue soak. */
export interface QueueSoakOptions {
  /** How many messages to send. */
  messages: number;
  /** How many worker processes run at once. */
  workers: number;
  /** The concurrency of each worker. */
  concurrency: number;
  /** The lease of each claim, in milliseconds. */
  leaseMs: number;
  /** How long each run works, in milliseconds. */
  workMs: number;
  /** How long every `longEvery`-th message works, in milliseconds. */
  longWorkMs: number;
  /** Which messages work long: one in this many. */
  longEvery: number;
  /** Senders wait while more than this many sent messages have not run yet. */
  maxBacklog: number;
  /** How many sends are in flight at once. */
  senders: number;
  /** The share of runs after which one worker is killed (0 to 1). */
  killAt: number;
  /** Give up waiting for the kill, then for the queue to drain, after this many milliseconds. */
  timeoutMs: number;
}

/** What the queue soak measured. */
export interface QueueSoakReport {
  /** Messages sent without error. */
  sent: number;
  /** Sends that failed after the client's retries (the message may still have been stored). */
  sendErrors: number;
  /** Runs in all. */
  runs: number;
  /** Messages sent that never ran. */
  lost: number;
  /** Messages that ran more than once. */
  ranTwice: number;
  /** Of those, the ones in flight on the killed worker when it died, run exactly twice. */
  ranTwiceInFlight: number;
  /** Of the others, by what became of their earlier run's ack: failed, done, or stale. */
  ranTwiceAfter: { ackError: number; acked: number; stale: number; other: number };
  /** Messages in flight on the killed worker when it died (its prefetch bounds it). */
  inFlightOnKilled: number;
  /** The killed worker's prefetch: the Worker's default for its concurrency. */
  killedPrefetch: number;
  /** Dead letters left in the queue. */
  dead: number;
  /** Acks seen by the workers: done, stale (refused), failed (an error). */
  acks: { acked: number; stale: number; failed: number };
  /** Worker log lines: "its lease ended", "Cannot finish message", "Cannot claim". */
  warnings: { stale: number; cannotFinish: number; cannotClaim: number };
  /** Whether the queue drained before the timeout. */
  drained: boolean;
  /** Seconds from the first send to the drained queue. */
  seconds: number;
}

const ROOT = new URL("../", import.meta.url);

interface WorkerProcess {
  tag: string;
  child: Deno.ChildProcess;
  started: Promise<void>;
  done: Promise<void>;
}

function spawnWorker(
  services: SoakServices,
  options: QueueSoakOptions,
  names: { namespace: string; queue: string },
  tag: string,
  warnings: QueueSoakReport["warnings"],
  victim: boolean,
): WorkerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("src/cli/main.ts", ROOT).pathname,
      "worker",
      new URL("scripts/_soak_app.ts", ROOT).pathname,
      "--queues",
      names.queue,
      "--concurrency",
      String(options.concurrency),
      "--shutdown-timeout",
      "5000",
    ],
    cwd: new URL(".", ROOT).pathname,
    env: {
      UPSTASH_REDIS_REST_URL: services.faultyUrl,
      UPSTASH_REDIS_REST_TOKEN: services.token,
      SKIFF_SOAK_CLEAN_URL: services.cleanUrl,
      SKIFF_SOAK_NAMESPACE: names.namespace,
      SKIFF_SOAK_QUEUE: names.queue,
      SKIFF_SOAK_TAG: tag,
      SKIFF_SOAK_LEASE_MS: String(options.leaseMs),
      SKIFF_SOAK_HOLD_MS: victim ? String(options.longWorkMs) : "0",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let ready!: (up: boolean) => void;
  const up = new Promise<boolean>((resolve) => ready = resolve);
  const head: string[] = [];
  const count = (line: string) => {
    if (head.length < 5) head.push(line);
    if (line.includes("its lease ended")) warnings.stale++;
    if (line.includes("Cannot finish message")) warnings.cannotFinish++;
    if (line.includes("Cannot claim from queue")) warnings.cannotClaim++;
    if (line.includes("skiff worker: consuming")) ready(true);
  };
  const done = Promise.all([lines(child.stdout, count), lines(child.stderr, count)]).then(
    () => ready(false),
  );
  const started = up.then((ok) => {
    if (!ok) throw new Error(`Cannot start soak worker ${tag}: ${head.join(" | ")}`);
  });
  return { tag, child, started, done };
}

function stop(worker: WorkerProcess, signal: Deno.Signal): void {
  try {
    worker.child.kill(signal);
  } catch { /* it has exited already */ }
}

async function lines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    parts.forEach(onLine);
  }
  if (rest) onLine(rest);
}

/**
 * Runs the queue soak.
 *
 * @param services The faulty and clean paths.
 * @param options Sizes, rates and timing.
 * @param log Where progress lines go.
 * @returns What it measured.
 */
export async function queueSoak(
  services: SoakServices,
  options: QueueSoakOptions,
  log: (line: string) => void,
): Promise<QueueSoakReport> {
  const suffix = crypto.randomUUID().slice(0, 8);
  const names = { namespace: `soak-${suffix}`, queue: `soak-${suffix}` };
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const clean = new Redis({
    url: services.cleanUrl,
    token: services.token,
    enableTelemetry: false,
  });
  const faulty = new Redis({
    url: services.faultyUrl,
    token: services.token,
    enableTelemetry: false,
  });
  const sender = new UpstashBroker({ redis: faulty, namespace: names.namespace, logger: silent });
  const observer = new UpstashBroker({ redis: clean, namespace: names.namespace, logger: silent });
  const eventsKey = `${names.namespace}:${EVENTS_KEY}`;
  const warnings = { stale: 0, cannotFinish: 0, cannotClaim: 0 };
  const workers: WorkerProcess[] = [];
  // As a supervisor would: a worker whose startup probe met a fault (exit 3) starts again.
  const start = async (tag: string, victim = false) => {
    for (let attempt = 1;; attempt++) {
      const worker = spawnWorker(services, options, names, tag, warnings, victim);
      workers.push(worker);
      try {
        await worker.started;
        return worker;
      } catch (error) {
        if (attempt === 5 || (await worker.child.status).code !== 3) throw error;
      }
    }
  };
  try {
    const first = await Promise.all(
      Array.from({ length: options.workers }, (_, i) => start(`w${i}`, i === 0)),
    );
    log(`queue soak: ${options.workers} workers up; sending ${options.messages} messages`);

    const began = Date.now();
    // Every `longEvery`-th message works longer, so that the kill cuts a run, not an ack.
    const long = new Set<string>();
    const messages = Array.from({ length: options.messages }, (_, i) => {
      const ms = i % options.longEvery === options.longEvery - 1
        ? options.longWorkMs
        : options.workMs;
      const message = new Message({ queue: names.queue, actor: "soak.record", args: [i, ms] });
      if (ms === options.longWorkMs) long.add(message.id);
      return message;
    });
    const failedSends = new Set<string>();
    let next = 0;
    let written = 0;
    let runs = 0;
    let sent = false;
    const sending = Promise.all(
      Array.from({ length: options.senders }, async () => {
        while (next < messages.length) {
          // A short backlog: a message is claimed soon after it is sent, as in a queue
          // that keeps up, so a retried send can meet its message already acked.
          while (written - runs > options.maxBacklog) await delay(2);
          if (next >= messages.length) break;
          const message = messages[next++];
          try {
            await sender.enqueue([message]);
            written++;
          } catch {
            failedSends.add(message.id);
          }
        }
      }),
    ).finally(() => sent = true);

    // Follows the runs; kills the first worker once the share of runs is reached and it is
    // running a long message (one it holds until it dies), then starts its replacement.
    const victim = first[0];
    const watching = (async () => {
      const inFlight = new Set<string>();
      const deadline = Date.now() + options.timeoutMs;
      let seen = 0;
      let killed = false;
      while (!(killed && sent)) {
        if (!killed && Date.now() > deadline) {
          throw new Error("Cannot kill a worker running a message: none ran one in time");
        }
        const events = await clean.lrange<string>(eventsKey, seen, -1);
        seen += events.length;
        for (const [tag, id, event] of events.map((e) => e.split(" "))) {
          if (event === "run") runs++;
          if (tag !== victim.tag) continue;
          if (event === "run") inFlight.add(id);
          else inFlight.delete(id);
        }
        const cut = [...inFlight].some((id) => long.has(id));
        if (!killed && runs >= options.killAt * options.messages && cut) {
          victim.child.kill("SIGKILL");
          killed = true;
          log(`queue soak: SIGKILL ${victim.tag} after ${runs} runs, ${inFlight.size} in flight`);
          await start(`${victim.tag}-replacement`);
        }
        await delay(5);
      }
    })();
    await Promise.all([sending, watching]);
    log(`queue soak: sent (${failedSends.size} send errors); waiting for the queue to drain`);

    let drained = false;
    const deadline = Date.now() + options.timeoutMs;
    let stats = await observer.stats(names.queue);
    while (Date.now() < deadline) {
      stats = await observer.stats(names.queue);
      if (stats.ready + stats.delayed + stats.leased === 0) {
        drained = true;
        break;
      }
      await delay(200);
    }
    const seconds = (Date.now() - began) / 1000;
    for (const worker of workers) {
      if (worker !== victim) stop(worker, "SIGTERM");
    }
    await Promise.all(workers.map(async (w) => {
      await w.child.status;
      await w.done;
    }));

    const events = (await clean.lrange<string>(eventsKey, 0, -1)).map((e) => e.split(" "));
    return {
      ...analyse(messages, failedSends, events, victim.tag),
      killedPrefetch: Math.max(2 * options.concurrency, 64),
      sent: messages.length - failedSends.size,
      sendErrors: failedSends.size,
      dead: stats.dead,
      warnings,
      drained,
      seconds,
    };
  } finally {
    for (const worker of workers) {
      stop(worker, "SIGKILL");
      await worker.child.status;
      await worker.done;
    }
    await deleteKeys(clean, `${names.namespace}:`);
  }
}

const TERMINAL = new Set(["acked", "stale", "ackerr"]);

function analyse(
  messages: readonly Message[],
  failedSends: ReadonlySet<string>,
  events: string[][],
  killed: string,
) {
  const runs = new Map<string, string[]>();
  const ends = new Map<string, string[]>();
  const acks = { acked: 0, stale: 0, failed: 0 };
  for (const [tag, id, event] of events) {
    if (event === "run") {
      runs.set(id, [...(runs.get(id) ?? []), tag]);
      continue;
    }
    if (event === "acked") acks.acked++;
    if (event === "stale") acks.stale++;
    if (event === "ackerr") acks.failed++;
    ends.set(id, [...(ends.get(id) ?? []), `${tag} ${event}`]);
  }
  const inFlight = new Set<string>();
  for (const [id, tags] of runs) {
    const endedOnKilled = (ends.get(id) ?? []).some((e) => {
      const [tag, event] = e.split(" ");
      return tag === killed && (TERMINAL.has(event) || event.startsWith("nack"));
    });
    if (tags.includes(killed) && !endedOnKilled) inFlight.add(id);
  }
  let lost = 0;
  let ranTwice = 0;
  let ranTwiceInFlight = 0;
  const ranTwiceAfter = { ackError: 0, acked: 0, stale: 0, other: 0 };
  for (const message of messages) {
    const count = runs.get(message.id)?.length ?? 0;
    if (count === 0 && !failedSends.has(message.id)) lost++;
    if (count < 2) continue;
    ranTwice++;
    // The kill explains one extra run of a message in flight on the killed worker, no more.
    if (inFlight.has(message.id) && count === 2) {
      ranTwiceInFlight++;
      continue;
    }
    const outcomes = (ends.get(message.id) ?? []).filter((e) =>
      !inFlight.has(message.id) || !e.startsWith(`${killed} `)
    );
    const first = outcomes[0]?.split(" ")[1];
    if (first === "ackerr") ranTwiceAfter.ackError++;
    else if (first === "acked") ranTwiceAfter.acked++;
    else if (first === "stale") ranTwiceAfter.stale++;
    else ranTwiceAfter.other++;
  }
  return {
    runs: events.filter((e) => e[2] === "run").length,
    lost,
    ranTwice,
    ranTwiceInFlight,
    ranTwiceAfter,
    inFlightOnKilled: inFlight.size,
    acks,
  };
}

/** Deletes every key under a prefix (the soak's own namespace only). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, { match: `${prefix}*`, count: 1000 });
    if (keys.length) await redis.del(...keys);
    cursor = String(next);
  } while (cursor !== "0");
}
