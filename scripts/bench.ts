/**
 * skiff against BullMQ on one private redis-server, in one run: skiff through `skiff local`
 * (the Upstash REST protocol, a process of its own), BullMQ over TCP. Rounds interleave
 * the two (the order alternates) and every figure is a median over rounds. Prints a
 * markdown table and the machine.
 *
 *   deno task bench                  # 30,000 messages per case, 5 rounds
 *   deno task bench --quick          # small counts, 1 round: checks that it runs
 *   deno task bench --messages 20000 --rounds 5 --latency 2000
 *   deno task bench --only push,burst   # some cases: enqueue send c50 defaults push burst pull idle
 *   npm run bench:node -- --fetch       # on Node, @upstash/redis's fetch instead of skiff/node
 *   deno task bench --fetch             # on Deno, @upstash/redis's fetch instead of skiff/deno
 *   deno task bench --node-http         # on Deno or Bun, skiff/node instead
 *   bun scripts/bench.ts             # the same under Bun
 *
 * Needs `redis-server` on the PATH; it never touches a Redis it did not start.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { argv, execPath, exit, versions } from "node:process";
import { fileURLToPath } from "node:url";
import { BullCases, type HttpClient, ON_NODE, type Sample, SkiffCases } from "./_bench_cases.ts";
import { startBenchServices } from "./_bench_services.ts";

/** Whether this runs on Deno. */
const ON_DENO = "Deno" in globalThis;

interface Options {
  messages: number;
  rounds: number;
  latency: number;
  rate: number;
  idleMs: number;
  steadyMs: number;
  quick: boolean;
  /** The cases to run; all when empty. */
  only: Set<string>;
  /**
   * What to send with: `skiff/node` (`node:http`) on Node and `skiff/deno` (its sockets) on
   * Deno by default, as docs/runtimes.md advises, `fetch` (`@upstash/redis`'s client) on
   * Bun; `--fetch`, `--node-http` and `--deno-http` choose.
   */
  client: HttpClient;
}

const CASES = ["enqueue", "send", "c50", "defaults", "push", "burst", "pull", "idle"];
const USAGE =
  `Usage: bench [--quick] [--messages N] [--rounds N] [--latency N] [--rate N] [--only ${
    CASES.join(",")
  }] [--fetch | --node-http | --deno-http]`;

function parse(args: string[]): Options {
  const options: Options = {
    messages: 30_000,
    rounds: 5,
    latency: 2_000,
    rate: 500,
    idleMs: 10_000,
    steadyMs: 20_000,
    quick: false,
    only: new Set(),
    client: ON_NODE ? "node" : ON_DENO ? "deno" : "fetch",
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--quick") {
      Object.assign(options, {
        messages: 300,
        rounds: 1,
        latency: 50,
        idleMs: 500,
        steadyMs: 500,
        quick: true,
      });
      continue;
    }
    if (arg === "--fetch" || arg === "--node-http" || arg === "--deno-http") {
      if (arg === "--deno-http" && !ON_DENO) {
        console.error("Cannot run the benchmark: --deno-http runs on Deno only");
        exit(2);
      }
      options.client = arg === "--fetch" ? "fetch" : arg === "--node-http" ? "node" : "deno";
      continue;
    }
    if (arg === "--only") {
      options.only = new Set((args[++i] ?? "").split(","));
      const unknown = [...options.only].filter((name) => !CASES.includes(name));
      if (unknown.length || !options.only.size) {
        console.error(`Cannot run the benchmark: no case named '${unknown[0] ?? ""}'. ${USAGE}`);
        exit(2);
      }
      continue;
    }
    const key = {
      "--messages": "messages",
      "--rounds": "rounds",
      "--latency": "latency",
      "--rate": "rate",
    }[
      arg
    ] as "messages" | "rounds" | "latency" | "rate" | undefined;
    const value = Number(args[++i]);
    if (!key || !Number.isInteger(value) || value < 1) {
      console.error(`Cannot run the benchmark: bad option '${arg}'. ${USAGE}`);
      exit(2);
    }
    options[key] = value;
  }
  return options;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median sample, field by field. */
function mid(samples: Sample[]): Sample {
  const field = (f: keyof Sample) => median(samples.map((s) => s[f] ?? NaN));
  return {
    value: field("value"),
    p99: field("p99"),
    commands: field("commands"),
    requests: field("requests"),
    cpu: field("cpu"),
    redisCpu: field("redisCpu"),
    localCpu: field("localCpu"),
  };
}

function rate(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(1)}k/s` : `${n.toFixed(0)}/s`;
}

function ms(n: number): string {
  return n < 10 ? n.toFixed(1) : n.toFixed(0);
}

function num(n: number): string {
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}

function runtime(): string {
  const g = globalThis as unknown as {
    Deno?: { version: { deno: string } };
    Bun?: { version: string };
  };
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  if (g.Bun) return `Bun ${g.Bun.version}`;
  return `Node ${versions.node}`;
}

function redisVersion(): string {
  const out = spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout ?? "";
  return out.match(/v=(\S+)/)?.[1] ?? "unknown";
}

async function main(): Promise<void> {
  const options = parse(argv.slice(2).filter((a) => a !== "--"));
  const { messages: n, rounds, latency, rate: pace } = options;
  const runs = (name: string) => !options.only.size || options.only.has(name);
  const services = await startBenchServices(skiffCli());
  const { client } = options;
  const skiff = new SkiffCases(services, { client });
  const bull = new BullCases(services);
  const cases = {
    enqueue: { skiff: [] as Sample[], bull: [] as Sample[] },
    send: { skiff: [] as Sample[], bull: [] as Sample[] },
    c50: { skiff: [] as Sample[], bull: [] as Sample[] },
    defaults: { skiff: [] as Sample[], bull: [] as Sample[] },
    push: { skiff: [] as Sample[], bull: [] as Sample[] },
    burst: { skiff: [] as Sample[], bull: [] as Sample[] },
    pull: { skiff: [] as Sample[], bull: [] as Sample[] },
  };
  let idle = { first: NaN, perSecond: NaN };
  try {
    // Warm up (scripts loaded, connections open, code compiled); not counted.
    await skiff.enqueueBatch(200);
    await bull.enqueueBatch(200);
    await skiff.process(200, 50);
    await bull.process(200, 50);
    // The latency cases run paced, a few seconds each: a second of them first, each side, so
    // that the first round does not measure the JIT and the growing connection pools.
    await skiff.latencyPush(Math.min(pace, latency), pace);
    await bull.latency(Math.min(pace, latency), pace, 50);
    await skiff.pushBurst(200);
    for (let round = 0; round < rounds; round++) {
      const pairs: [keyof typeof cases, () => Promise<Sample>, () => Promise<Sample>][] = [
        ["enqueue", () => skiff.enqueueBatch(n), () => bull.enqueueBatch(n)],
        ["send", () => skiff.sendOne(n, 50), () => bull.sendOne(n, 50)],
        ["c50", () => skiff.process(n, 50), () => bull.process(n, 50)],
        ["defaults", () => skiff.process(n), () => bull.process(n, 50)],
        ["push", () => skiff.latencyPush(latency, pace), () => bull.latency(latency, pace, 50)],
        ["burst", () => skiff.pushBurst(n), () => bull.burst(n, 50)],
        ["pull", () => skiff.latencyPull(latency, pace), () => bull.latency(latency, pace, 50)],
      ];
      for (const [name, a, b] of pairs.filter(([name]) => runs(name))) {
        const first = round % 2 === 0;
        const x = await (first ? a : b)();
        const y = await (first ? b : a)();
        cases[name].skiff.push(first ? x : y);
        cases[name].bull.push(first ? y : x);
      }
      console.error(`round ${round + 1} of ${rounds} done`);
    }
    if (runs("idle")) idle = await skiff.idleRequests(options.idleMs, options.steadyMs);
  } finally {
    await services.close();
  }

  const m = Object.fromEntries(
    Object.entries(cases).map(([k, v]) => [k, { skiff: mid(v.skiff), bull: mid(v.bull) }]),
  ) as Record<keyof typeof cases, { skiff: Sample; bull: Sample }>;
  const ratio = (k: keyof typeof cases) => `${(m[k].skiff.value / m[k].bull.value).toFixed(2)}x`;
  const lat = (s: Sample) => `${ms(s.value)} / ${ms(s.p99!)} ms`;
  const rows = [
    ["", "skiff", "BullMQ", "ratio"],
    [
      "batch enqueue (1,000 per call)",
      rate(m.enqueue.skiff.value),
      rate(m.enqueue.bull.value),
      ratio("enqueue"),
    ],
    [
      "one-by-one send, 50 concurrent",
      rate(m.send.skiff.value),
      rate(m.send.bull.value),
      ratio("send"),
    ],
    ["processed, concurrency 50", rate(m.c50.skiff.value), rate(m.c50.bull.value), ratio("c50")],
    [
      "processed, skiff's Worker defaults (BullMQ c=50)",
      rate(m.defaults.skiff.value),
      rate(m.defaults.bull.value),
      ratio("defaults"),
    ],
    [
      `send → start p50 / p99, ${pace}/s, push endpoint (BullMQ c=50)`,
      lat(m.push.skiff),
      lat(m.push.bull),
      "",
    ],
    [
      `push burst: ${n} sent at once through the push endpoint, processed (BullMQ c=50)`,
      rate(m.burst.skiff.value),
      rate(m.burst.bull.value),
      ratio("burst"),
    ],
    [
      `send → start p50 / p99, ${pace}/s, pull Worker defaults (BullMQ c=50)`,
      lat(m.pull.skiff),
      lat(m.pull.bull),
      "",
    ],
    [
      "Redis commands per message: batch enqueue + processed (c=50)",
      num(m.enqueue.skiff.commands + m.c50.skiff.commands),
      num(m.enqueue.bull.commands + m.c50.bull.commands),
      `${
        ((m.enqueue.bull.commands + m.c50.bull.commands) /
          (m.enqueue.skiff.commands + m.c50.skiff.commands)).toFixed(1)
      }x fewer`,
    ],
    [
      "Redis commands per message: one-by-one send + processed (c=50)",
      num(m.send.skiff.commands + m.c50.skiff.commands),
      num(m.send.bull.commands + m.c50.bull.commands),
      `${
        ((m.send.bull.commands + m.c50.bull.commands) /
          (m.send.skiff.commands + m.c50.skiff.commands)).toFixed(1)
      }x fewer`,
    ],
    [
      "Redis commands per message: push endpoint, paced",
      num(m.push.skiff.commands),
      num(m.push.bull.commands),
      "",
    ],
    [
      "HTTP requests per message: batch enqueue / one-by-one / processed c=50 / defaults / push",
      [m.enqueue, m.send, m.c50, m.defaults, m.push].map((c) => num(c.skiff.requests)).join(" / "),
      "(TCP)",
      "",
    ],
    [
      "CPU ms per 1,000 processed (c=50): this process / skiff local / redis-server",
      `${ms(m.c50.skiff.cpu)} / ${ms(m.c50.skiff.localCpu)} / ${ms(m.c50.skiff.redisCpu)}`,
      `${ms(m.c50.bull.cpu)} / - / ${ms(m.c50.bull.redisCpu)}`,
      "",
    ],
    [
      `CPU ms per 1,000 sent and started, push endpoint, ${pace}/s: this process / skiff local / redis-server`,
      `${ms(m.push.skiff.cpu)} / ${ms(m.push.skiff.localCpu)} / ${ms(m.push.skiff.redisCpu)}`,
      `${ms(m.push.bull.cpu)} / - / ${ms(m.push.bull.redisCpu)}`,
      "",
    ],
    [
      `idle pull Worker: requests in the ${
        options.idleMs / 1000
      } s after its queue empties / per s after that`,
      `${idle.first} / ${idle.perSecond.toFixed(2)}`,
      "",
      "",
    ],
  ];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const out = [
    `${runtime()}, ${n} no-op messages per case, ${latency} for latency, ${rounds} round(s), medians`,
    "",
    line(rows[0]),
    "|---|--:|--:|--:|",
    // A row that needs a case left out by --only shows NaN: it goes.
    ...rows.slice(1).filter((row) => !row.join("").includes("NaN")).map(line),
    "",
    `Machine: ${cpus().length} cores, ${
      cpus()[0]?.model ?? "unknown CPU"
    }; ${runtime()}; redis-server ${redisVersion()}; skiff through skiff local (a process of its own, on this runtime)${
      client === "fetch" ? "" : `, sending with skiff/${client}`
    }, BullMQ ${bullVersion()} over TCP.`,
  ];
  console.log(out.join("\n"));
  if (options.quick) console.log("bench: quick run complete");
}

/**
 * The command that runs the `skiff` CLI on this runtime: from the sources on Deno and Bun,
 * the npm bin (`dist/cli.js`) on Node, where `npm run bench:node` built `dist/` and bundled
 * this file into `.tmp/`.
 */
function skiffCli(): string[] {
  const here = import.meta.url;
  if (here.endsWith(".mjs")) return [execPath, fileURLToPath(new URL("../dist/cli.js", here))];
  const cli = fileURLToPath(new URL("../src/cli/main.ts", here));
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  return deno ? [deno.execPath(), "run", "--allow-all", cli] : [execPath, cli];
}

function bullVersion(): string {
  try {
    const path = new URL("../node_modules/bullmq/package.json", import.meta.url);
    return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  } catch {
    return "";
  }
}

await main();
exit(0);
