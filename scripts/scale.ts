/**
 * The scale check: reproduces the cases where a script or a cost could grow without bound
 * (large bodies, deep dead-letter lists, big groups, long pipelines, pipelines of groups, an
 * enqueue batch onto a deep queue, groups of long member pipelines, large replies through `skiff local`) on a private redis-server it starts, and prints per case: the size, the
 * longest script (SLOWLOG, every command logged), the bytes sent and received over REST,
 * the requests, and the Redis commands (`INFO commandstats`, script calls included).
 * `tests/scale_test.ts` runs it scaled down and asserts the bounds.
 *
 * ```sh
 * node_modules/.bin/deno task scale            # the sizes of the issue
 * node_modules/.bin/deno task scale --scale 0.1
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { planKey, queueKeys } from "../src/brokers/upstash/_keys.ts";
import { group } from "../src/composition/group.ts";
import { pipeline } from "../src/composition/pipeline.ts";
import { RedisConnection } from "../src/local/connection.ts";
import { startLocalServer } from "../src/local/mod.ts";
import { RespReader } from "../src/local/resp.ts";
import { processMessage } from "../src/process.ts";
import { UpstashResultBackend } from "../src/results/upstash.ts";
import { startPrivateRedis } from "./_redis_server.ts";

/** What one case measured. */
export interface ScaleRow {
  /** The case. */
  name: string;
  /** What it handled, in words ("200 x 100 KB"). */
  size: string;
  /** What it answered, in words. */
  outcome: string;
  /** The longest script call, in microseconds (SLOWLOG). */
  longestScriptUs: number;
  /** Request bytes sent to the REST server. */
  bytesSent: number;
  /** Response bytes received. */
  bytesReceived: number;
  /** HTTP requests. */
  requests: number;
  /** Redis commands run, each command inside a script included. */
  commands: number;
  /** Figures of the case itself. */
  extra?: Record<string, number>;
  /** Per stage of a pipeline, in order: REST bytes (sent and received) and Redis commands. */
  stages?: { bytes: number[]; commands: number[] };
}

/** Options of {@linkcode runScale}. */
export interface ScaleOptions {
  /** Multiplies every size (1: the sizes of the issue). */
  scale?: number;
  /** A redis-server to use (never a shared one; it is flushed); by default one is started. */
  redisUrl?: string;
}

/**
 * Runs every case and answers a row each.
 *
 * @param options The scale, and optionally a redis-server.
 * @returns The rows.
 */
export async function runScale(options: ScaleOptions = {}): Promise<ScaleRow[]> {
  const scale = options.scale ?? 1;
  const n = (size: number) => Math.max(1, Math.round(size * scale));
  const redis = options.redisUrl
    ? { url: options.redisUrl, stop: () => Promise.resolve() }
    : await startPrivateRedis("skiff-scale-");
  const token = `scale-${crypto.randomUUID()}`;
  const server = await startLocalServer({ redis: redis.url, token, port: 0, log: () => {} });
  const admin = await RedisConnection.open(new URL(redis.url));
  const traffic = { requests: 0, sent: 0, received: 0 };
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const answer = await realFetch(input, init);
    if (String(input instanceof Request ? input.url : input).startsWith(server.url)) {
      traffic.requests++;
      traffic.sent += typeof init?.body === "string"
        ? new TextEncoder().encode(init.body).length
        : 0;
      traffic.received += (await answer.clone().arrayBuffer()).byteLength;
    }
    return answer;
  };
  const client = new Redis({ url: server.url, token, enableTelemetry: false });
  const rows: ScaleRow[] = [];
  /** Bytes and commands since the case began. */
  const mark = async () => {
    const [info] = await admin.send([["INFO", "commandstats"]]);
    return { bytes: traffic.sent + traffic.received, commands: commandCount(info) };
  };
  /**
   * Claims and processes a queue's messages one by one, as a worker would, until none is
   * left; a stage ends after every `per` messages: answers the bytes and commands of each.
   */
  const drain = async (queue: string, per: number) => {
    const stages = { bytes: [] as number[], commands: [] as number[] };
    let before = await mark();
    let done = 0;
    for (let claim; ([claim] = await broker.claim(queue)).length > 0;) {
      await processMessage(broker, queue, claim);
      if (++done % per > 0) continue;
      const after = await mark();
      stages.bytes.push(after.bytes - before.bytes);
      stages.commands.push(after.commands - before.commands);
      before = after;
    }
    return { done, stages };
  };
  const measure = async (
    name: string,
    size: string,
    fn: () => Promise<
      { outcome: string; extra?: Record<string, number>; stages?: ScaleRow["stages"] }
    >,
  ) => {
    await admin.send([["SLOWLOG", "RESET"], ["CONFIG", "RESETSTAT"]]);
    const before = { ...traffic };
    const { outcome, extra, stages } = await fn();
    const [slow, info] = await admin.send([["SLOWLOG", "GET", "-1"], ["INFO", "commandstats"]]);
    rows.push({
      name,
      size,
      outcome,
      longestScriptUs: longestScript(slow),
      bytesSent: traffic.sent - before.sent,
      bytesReceived: traffic.received - before.received,
      requests: traffic.requests - before.requests,
      commands: commandCount(info),
      extra,
      stages,
    });
  };
  let broker: UpstashBroker;
  try {
    await admin.send([
      ["FLUSHALL"],
      ["CONFIG", "SET", "slowlog-log-slower-than", "0"],
      ["CONFIG", "SET", "slowlog-max-len", "1000000"],
    ]);
    // A clock that never gives the same millisecond twice: messages enqueued in the same
    // millisecond share a ready score and are claimed in id order, which let a member
    // pipeline's next step overtake another member's current one and cross a stage's end.
    let last = 0;
    const now = () => (last = Math.max(Date.now(), last + 1));
    broker = new UpstashBroker({ redis: client, namespace: "scale", logger: quiet, now });

    // 1. A claim of many large bodies.
    const bodies = n(200);
    const run = crypto.randomUUID().slice(0, 8);
    const big = actor(`scale-big-${run}`, (_: string) => {}, { broker, queue: "big" });
    await broker.enqueue(
      Array.from({ length: bodies }, (_, i) => big.message(String(i).padEnd(100_000, "x"))),
    );
    await measure("claim", `${bodies} x 100 KB, count ${bodies}`, async () => {
      const claims = await broker.claim("big", { count: bodies });
      return { outcome: `${claims.length} claimed`, extra: { claimed: claims.length } };
    });

    // 2. Dead letters: a deep list, listed with a limit over it.
    const dead = n(20_000);
    await seedDead(admin, "scale", "dead", dead);
    await measure("deadLetters", `${dead} dead, limit 100000`, async () => {
      const letters = await broker.deadLetters("dead", { limit: 100_000 });
      return { outcome: `${letters.length} listed` };
    });
    await measure("purgeDead", `${dead} dead`, async () => {
      return { outcome: `${await broker.purgeDead("dead")} purged` };
    });

    // 3. A group's results read while they land, each store waking the reader.
    const members = n(1000);
    // Polls a minute apart: every read follows the first pass, a store's wake-up, or a read
    // that found all it asked for, however loaded the machine is.
    const backend = new UpstashResultBackend({
      redis: client,
      namespace: "scale",
      pollMin: 60_000,
      pollMax: 60_000,
    });
    const ids = Array.from({ length: members }, () => crypto.randomUUID());
    await measure("getResults (group)", `${members} members`, async () => {
      const reading = backend.getResults([ids], { block: true, timeout: 600_000 }).toArray();
      for (const [i, id] of ids.entries()) await backend.storeResult(id, i, 60_000);
      const [results] = await reading as [number[]];
      return { outcome: `${results.length} read` };
    });

    // 4. Pipelines: run each step as a worker would (claim, process, settle); a step's
    // bytes and commands, measured apart, must not depend on how many steps follow it.
    const step = actor(`scale-step-${run}`, (x: number) => x + 1, { broker, queue: "pipe" });
    for (const steps of [10, 100, 300, 1000].map(n)) {
      await measure("pipeline", `${steps} steps`, async () => {
        await pipeline([
          step.message(0),
          ...Array.from({ length: steps - 1 }, () => step.message()),
        ])
          .run();
        const { done, stages } = await drain("pipe", 1);
        return { outcome: `${done} steps run`, stages };
      });
    }

    // 4b. Pipelines of groups and their fan-ins, [G(10), m, G(10), m, ...]: a stage is a
    // group of 10 and the step after it (11 messages), and neither its bytes nor its
    // commands depend on how many stages follow it.
    const member = actor(`scale-member-${run}`, (..._: unknown[]) => 1, { broker, queue: "fan" });
    const gather = actor(`scale-gather-${run}`, (_: number[]) => 0, { broker, queue: "fan" });
    for (const stages of [10, 30, 100].map(n)) {
      await measure("fan pipeline", `${stages} stages of a group of 10 and a fan-in`, async () => {
        await pipeline(
          Array.from({ length: stages }, () => [
            group(Array.from({ length: 10 }, () => member.message())),
            gather.message(),
          ]).flat(),
        ).run();
        const { done, stages: measured } = await drain("fan", 11);
        return { outcome: `${done} messages run`, stages: measured };
      });
    }

    // 4c. A group of 10 member pipelines of k steps: a stage is one step of every member
    // (10 messages), and neither its bytes nor its commands depend on how many steps follow
    // it (each member step refers to the next of its member in the plan). Not scaled.
    const link = actor(`scale-link-${run}`, (..._: unknown[]) => 1, { broker, queue: "members" });
    for (const k of [5, 10, 30]) {
      await measure("member pipelines", `10 members of ${k} steps`, async () => {
        const members = group(
          Array.from(
            { length: 10 },
            () =>
              pipeline([link.message(), ...Array.from({ length: k - 1 }, () => link.message())]),
          ),
        );
        await members.run();
        const { done, stages: measured } = await drain("members", 10);
        const [left] = await admin.send([
          ["EXISTS", planKey("scale", "members", members.id)],
        ]);
        return {
          outcome: `${done} messages run`,
          stages: measured,
          extra: { planLeft: Number(left) },
        };
      });
    }

    // 5. A batch of 1000 sends of 223 B bodies onto a deep queue: split by bytes into
    // script calls of at most 64 KiB.
    const depth = n(1_000_000);
    await seedReady(admin, "scale", "deep", depth);
    const send = actor(`scale-send-${run}`, (_: string) => {}, { broker, queue: "deep" });
    const batch = Array.from({ length: 1000 }, () => send.message("x".repeat(50)));
    const bodyBytes = broker.encodeMessages(batch.slice(0, 1)).records[0].body.length;
    await measure("enqueue", `1000 x ${bodyBytes} B at depth ${depth}`, async () => {
      const sent = await broker.enqueue(batch);
      return { outcome: `${sent.length} sent`, extra: { bodyBytes } };
    });

    // 6. A large reply through skiff local, against the same reply read whole.
    const keys = n(30_000);
    const pairs = Array.from({ length: keys }, (_, i) => [`scale:k:${i}`, `v${i}`]);
    for (let i = 0; i < keys; i += 5_000) {
      await admin.send([["MSET", ...pairs.slice(i, i + 5_000).flat()]]);
    }
    await measure("MGET via skiff local", `${keys} keys`, async () => {
      const values = await client.mget<string[]>(...pairs.map(([k]) => k));
      const bytes = mgetReplyBytes(pairs.map(([, v]) => v));
      const whole = new RespReader();
      whole.push(bytes);
      whole.next();
      const chunked = new RespReader();
      for (let at = 0; at < bytes.length; at += 65_536) {
        chunked.push(bytes.subarray(at, at + 65_536));
        chunked.next();
      }
      return {
        outcome: `${values.length} values`,
        extra: {
          replyBytes: bytes.length,
          stepsWhole: whole.stats.steps,
          stepsChunked: chunked.stats.steps,
          copiedChunked: chunked.stats.copied,
        },
      };
    });
    return rows;
  } finally {
    globalThis.fetch = realFetch;
    admin.close();
    await server.close();
    await redis.stop();
  }
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Writes `count` dead letters straight into a queue's keys, in runs of 5000. */
async function seedDead(admin: RedisConnection, namespace: string, queue: string, count: number) {
  const [, , msg, dead, reason] = queueKeys(namespace, queue);
  const now = Date.now();
  for (let from = 0; from < count; from += 5_000) {
    const ids = Array.from({ length: Math.min(5_000, count - from) }, (_, i) => `d${from + i}`);
    await admin.send([
      ["ZADD", dead, ...ids.flatMap((id, i) => [String(now - count + from + i), id])],
      ["HSET", msg, ...ids.flatMap((id) => [id, "{}"])],
      ["HSET", reason, ...ids.flatMap((id) => [id, "0|gave up"])],
    ]);
  }
}

/** Writes `count` ready messages straight into a queue's keys, in runs of 10000. */
async function seedReady(admin: RedisConnection, namespace: string, queue: string, count: number) {
  const [ready, , msg] = queueKeys(namespace, queue);
  const now = Date.now();
  const body = "x".repeat(223);
  for (let from = 0; from < count; from += 10_000) {
    const ids = Array.from({ length: Math.min(10_000, count - from) }, (_, i) => `s${from + i}`);
    await admin.send([
      ["ZADD", ready, ...ids.flatMap((id, i) => [String(now + from + i), id])],
      ["HSET", msg, ...ids.flatMap((id) => [id, body])],
    ]);
  }
}

/** The longest script call in a SLOWLOG GET reply, in microseconds. */
function longestScript(reply: unknown): number {
  let longest = 0;
  for (const entry of (reply as unknown[][]) ?? []) {
    const args = entry[3] as Uint8Array[];
    const name = new TextDecoder().decode(args?.[0] ?? new Uint8Array()).toLowerCase();
    if (name.startsWith("eval") || name.startsWith("fcall")) {
      longest = Math.max(longest, Number(entry[2]));
    }
  }
  return longest;
}

/** Every command `INFO commandstats` counts, but the measurement's own. */
function commandCount(reply: unknown): number {
  const text = new TextDecoder().decode(reply as Uint8Array);
  let count = 0;
  for (const [, name, calls] of text.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    if (!["slowlog", "config|resetstat", "slowlog|reset", "slowlog|get", "info"].includes(name)) {
      count += Number(calls);
    }
  }
  return count;
}

function mgetReplyBytes(values: string[]): Uint8Array {
  const parts = [`*${values.length}\r\n`];
  for (const v of values) parts.push(`$${v.length}\r\n${v}\r\n`);
  return new TextEncoder().encode(parts.join(""));
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { scale: { type: "string", default: "1" } } });
  const scale = Number(values.scale);
  if (!(scale > 0)) {
    console.error(
      `Cannot run the scale check: '--scale' must be a positive number, received ${values.scale}`,
    );
    Deno.exit(2);
  }
  const rows = await runScale({ scale });
  console.log(
    ["case", "size", "outcome", "longest script", "sent", "received", "requests", "commands"]
      .join("\t"),
  );
  for (const r of rows) {
    console.log([
      r.name,
      r.size,
      r.outcome,
      `${(r.longestScriptUs / 1000).toFixed(2)} ms`,
      `${r.bytesSent} B`,
      `${r.bytesReceived} B`,
      r.requests,
      r.commands,
      r.extra ? JSON.stringify(r.extra) : "",
    ].join("\t"));
  }
}
