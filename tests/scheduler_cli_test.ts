/**
 * `skiff scheduler <module...>`: finds the schedules, fires them on time, stops on a
 * signal, and exits 0, 2 or 3 as `skiff worker` does. The modules are written to a
 * temporary directory by each test.
 *
 * @module
 */
import assert from "node:assert/strict";
import { EXIT, type Io, main } from "../src/cli/mod.ts";
import { closedPort, runCli } from "./fixtures/cli_process.ts";

const src = (path: string) => new URL(`../src/${path}`, import.meta.url).href;

const dirs: string[] = [];

/** A test that removes the modules it wrote. */
function cliTest(name: string, fn: () => Promise<void>): void {
  Deno.test(`cli scheduler: ${name}`, async () => {
    try {
      await fn();
    } finally {
      for (const dir of dirs.splice(0)) await Deno.remove(dir, { recursive: true });
    }
  });
}

/** Writes a module that imports skiff from this checkout; returns its path. */
async function writeModule(body: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-scheduler-cli-" });
  dirs.push(dir);
  const path = `${dir}/app.ts`;
  const imports = [
    `import { actor } from "${src("actor.ts")}";`,
    `import { MemoryBroker } from "${src("brokers/memory.ts")}";`,
    `import { setBroker } from "${src("global_broker.ts")}";`,
    `import { getScheduler } from "${src("scheduler/global_scheduler.ts")}";`,
    `import { Scheduler } from "${src("scheduler/scheduler.ts")}";`,
  ];
  await Deno.writeTextFile(path, `${imports.join("\n")}\n${body}\n`);
  return path;
}

/** An Io that records lines and signals once the scheduler has fired `signals` times. */
function capture(options: { signalOn?: RegExp; signals?: number } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const exits: number[] = [];
  let listener = () => {};
  let clock = 0;
  const io: Io = {
    out: (line) => {
      out.push(line);
      if (options.signalOn?.test(line)) {
        for (let i = 0; i < (options.signals ?? 1); i++) listener();
      }
    },
    err: (line) => err.push(line),
    onSignal: (fn) => listener = fn,
    exit: (code) => exits.push(code),
    // Each reading a second later: every signal is a new one, not a repeat of the last.
    now: () => (clock += 1000),
  };
  return { io, out, err, exits };
}

cliTest("no module, a missing module, a bad option or no schedule exits 2", async () => {
  const empty = await writeModule("export const nothing = 1;");
  const twice = await writeModule(`
const ping = actor("cli-dup", () => {});
export const a = new Scheduler().schedule("dup", "* * * * *", ping.message());
export const b = new Scheduler().schedule("dup", "0 * * * *", ping.message());
`);
  for (
    const [args, pattern] of [
      [[], /name at least one module that declares schedules/],
      [["does/not/exist.ts"], /Cannot find module 'does\/not\/exist.ts'/],
      [[empty, "--every", "5"], /Unknown option '--every'/],
      [[empty], /No schedule declared/],
      [[twice], /the schedule 'dup' is declared by two schedulers/],
    ] as const
  ) {
    const { io, err } = capture();
    assert.equal(await main(["scheduler", ...args], io), EXIT.USAGE, args.join(" "));
    assert.match(err[0], pattern);
  }
});

cliTest(
  "fires the global scheduler's and exported schedulers' slots, stops on a signal, exits 0",
  async () => {
    const module = await writeModule(`
const broker = new MemoryBroker();
setBroker(broker);
const printCurrentDate = actor("cli-print-current-date", () => console.log(new Date()));
getScheduler().schedule("cli-global", "* * * * *", printCurrentDate.message());
export const reports = new Scheduler().schedule("cli-exported", "* * * * *", printCurrentDate.message());
`);
    const { io, out, err, exits } = capture({ signalOn: /fired 'cli-exported'/ });
    assert.equal(await main(["scheduler", module], io), EXIT.OK);
    assert.match(
      out[0],
      /^skiff scheduler: 2 schedule\(s\) \(cli-exported, cli-global\) \(MemoryBroker set by a module\)$/,
    );
    assert.ok(
      out.some((line) =>
        /^skiff scheduler: fired 'cli-global' for \S+Z \(message [0-9a-f-]{36}\)$/.test(line)
      ),
    );
    assert.equal(out.at(-1), "skiff scheduler: stopped");
    assert.match(err[0], /the broker is a MemoryBroker/);
    assert.deepEqual(exits, []);
  },
);

cliTest("a second signal exits at once with 130", async () => {
  const module = await writeModule(`
setBroker(new MemoryBroker());
const ping = actor("cli-ping", () => {});
export const pings = new Scheduler().schedule("cli-ping", "* * * * *", ping.message());
`);
  const { io, err, exits } = capture({ signalOn: /fired 'cli-ping'/, signals: 2 });
  await main(["scheduler", module], io);
  assert.deepEqual(exits, [EXIT.INTERRUPTED]);
  assert.ok(err.includes("skiff scheduler: second signal, exiting at once"));
});

cliTest("exits 3 with one line when Redis cannot be reached", async () => {
  const module = await writeModule(`
const report = actor("cli-report", () => {});
getScheduler().schedule("cli-report", "0 * * * *", report.message());
`);
  const port = closedPort();
  const { code, out, err } = await runCli(["scheduler", module], {
    env: {
      UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${port}`,
      UPSTASH_REDIS_REST_TOKEN: "secret-token-never-printed",
    },
  });
  assert.equal(code, EXIT.UNREACHABLE);
  assert.equal(out, "");
  const lines = err.trim().split("\n");
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    new RegExp(`^skiff scheduler: Cannot connect to Redis at 127\\.0\\.0\\.1:${port}: `),
  );
  assert.doesNotMatch(err, /secret-token-never-printed/);
});
