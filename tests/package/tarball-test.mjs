/**
 * The packed tarball as users install it, on Node and on Bun (`bun --bun`): an actor module
 * on a queue of its own that sets its broker, a message sent by another process, the `skiff`
 * bin running it exactly once and stopping with exit 0 on SIGTERM, and `skiff scheduler`
 * firing a Scheduler the module exports. Needs the local server (or Upstash) in
 * UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN.
 *
 *   node scripts/build.mjs && bash scripts/with_services.sh node --test tests/package/tarball-test.mjs
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { createServer } from "node:net";
import { BIN, cleanEnv, PKG, project, run } from "./_project.mjs";

const SECRET = "secret-token-never-printed";

const ACTORS = `
import { Redis } from "@upstash/redis";
import { actor, setBroker, UpstashBroker } from "skiff";

const redis = Redis.fromEnv({ enableTelemetry: false });
const queue = process.env.SKIFF_TEST_QUEUE;
setBroker(new UpstashBroker({ redis: Redis.fromEnv() }));

export const add = actor("add", async (a, b) => {
  await redis.incr(queue + ":runs");
  await redis.incrby(queue + ":sum", a + b);
}, { queue });
`;
const SEND = `
import { add } from "./actors.mjs";
await add.send(2, 3);
`;
const SCHED = `
import { Scheduler } from "skiff";
import { add } from "./actors.mjs";

export const scheduler = new Scheduler();
scheduler.schedule("add-" + process.env.SKIFF_TEST_QUEUE, "* * * * * *", add.message(1, 1));
`;
/** A module whose broker points at a host given by the test. */
const UNREACHABLE = `
import { Redis } from "@upstash/redis";
import { actor, setBroker, UpstashBroker } from "skiff";

const url = process.env.SKIFF_TEST_URL;
setBroker(new UpstashBroker({ redis: new Redis({ url, token: "${SECRET}", retry: false }) }));
actor("noop", () => {}, { queue: "unreachable" });
`;
/** A module that leaves the broker to the environment. */
const ENV_ONLY = `
import { actor } from "skiff";
actor("noop", () => {}, { queue: "env-only" });
`;
/** Prints the queue's stats and what the actor recorded, as JSON. */
const CHECK = `
import { Redis } from "@upstash/redis";
import { getBroker } from "skiff";
import "./actors.mjs";

const queue = process.env.SKIFF_TEST_QUEUE;
const redis = Redis.fromEnv({ enableTelemetry: false });
const [runs, sum] = await redis.mget(queue + ":runs", queue + ":sum");
console.log(JSON.stringify({ ...(await getBroker().stats(queue)), runs, sum }));
`;

/**
 * How each runtime runs a script and the bin. On Node the bin is run as npx runs it
 * (`node_modules/.bin/skiff`) but without npx in between: npx exits 143 on SIGTERM without
 * passing the signal on, leaving the worker behind; a test below checks that `npx skiff`
 * finds the installed bin.
 */
const RUNTIMES = {
  node: { run: () => ["node"], skiff: (dir) => [join(dir, "node_modules", ".bin", "skiff")] },
  bun: {
    run: () => [join(BIN, "bun"), "--bun"],
    skiff: () => [join(BIN, "bun"), "--bun", "x", "skiff"],
  },
};

for (const [runtime, commands] of Object.entries(RUNTIMES)) {
  describe(`${runtime}: the packed tarball in a fresh project`, () => {
    let consumer;
    before(async () => {
      consumer = await project(`tarball-${runtime}`, {
        dependencies: { "@upstash/redis": PKG.devDependencies["@upstash/redis"] },
        files: {
          "actors.mjs": ACTORS,
          "send.mjs": SEND,
          "sched.mjs": SCHED,
          "check.mjs": CHECK,
          "unreachable.mjs": UNREACHABLE,
          "env_only.mjs": ENV_ONLY,
        },
      });
    });
    after(() => consumer?.remove());

    const env = (queue) => cleanEnv({ SKIFF_TEST_QUEUE: queue });
    const script = async (file, queue) => {
      const [command, ...args] = commands.run(consumer.dir);
      const done = await run(command, [...args, file], { cwd: consumer.dir, env: env(queue) });
      assert.equal(done.code, 0, done.stderr);
      return done.stdout;
    };
    const check = async (queue) => JSON.parse((await script("check.mjs", queue)).trim());

    if (runtime === "node") {
      test("npx skiff runs the installed bin", async () => {
        const done = await run("npx", ["--no", "skiff", "version"], {
          cwd: consumer.dir,
          env: cleanEnv(),
        });
        assert.equal(done.code, 0, done.stderr);
        assert.match(done.stdout, new RegExp(PKG.version.replaceAll(".", "\\.")));
      });
    }

    test("skiff worker runs a message sent by another process once, then exits 0 on SIGTERM", async () => {
      const queue = `tarball-${runtime}-${crypto.randomUUID().slice(0, 8)}`;
      await script("send.mjs", queue);
      assert.deepEqual(await check(queue), {
        ready: 1,
        delayed: 0,
        leased: 0,
        dead: 0,
        runs: null,
        sum: null,
      });
      const worker = start(
        commands.skiff(consumer.dir),
        ["worker", "actors.mjs"],
        consumer.dir,
        env(queue),
      );
      try {
        await until(async () => (await check(queue)).runs !== null, () => worker.output());
        const exit = await worker.stop("SIGTERM");
        assert.deepEqual(exit, { code: 0, signal: null }, worker.output());
      } finally {
        worker.kill();
      }
      assert.deepEqual(await check(queue), {
        ready: 0,
        delayed: 0,
        leased: 0,
        dead: 0,
        runs: 1,
        sum: 5,
      });
      assert.match(worker.output(), new RegExp(`consuming ${queue} .*UpstashBroker`));
      assert.doesNotMatch(worker.output(), /no actor named/);
    });

    test("skiff worker's exit codes: 0 for help, 2 for arguments and configuration, 3 naming the host and cause", async () => {
      const port = await closedPort();
      const noBroker = { UPSTASH_REDIS_REST_URL: "", UPSTASH_REDIS_REST_TOKEN: "" };
      const cases = [
        [["--help"], {}, 0, /^skiff worker: import the modules/],
        [["actors.mjs", "--concurrency", "1.5"], {}, 2, /'--concurrency' must be an integer/],
        [["actors.mjs", "--queues", "a{b}"], {}, 2, /'--queues' holds an invalid queue name/],
        [["actors.mjs", "--queues", ""], {}, 2, /'--queues' must name at least one queue/],
        [["env_only.mjs"], noBroker, 2, /^skiff worker: No broker configured: set UPSTASH_/],
        [
          ["env_only.mjs"],
          { UPSTASH_REDIS_REST_TOKEN: SECRET },
          2,
          /check UPSTASH_REDIS_REST_TOKEN$/,
        ],
        [
          ["unreachable.mjs"],
          { SKIFF_TEST_URL: `http://127.0.0.1:${port}` },
          3,
          new RegExp(
            `^skiff worker: Cannot connect to Redis at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`,
          ),
        ],
        [
          ["unreachable.mjs"],
          { SKIFF_TEST_URL: "https://skiff-test.invalid" },
          3,
          /^skiff worker: Cannot connect to Redis at skiff-test\.invalid: .*(ENOTFOUND|EAI_AGAIN)/,
        ],
      ];
      const [command, ...args] = commands.skiff(consumer.dir);
      for (const [rest, extra, code, pattern] of cases) {
        const what = `${rest.join(" ")} ${JSON.stringify(extra)}`;
        const done = await run(command, [...args, "worker", ...rest], {
          cwd: consumer.dir,
          env: cleanEnv(extra),
        });
        assert.equal(done.code, code, `${what}: ${done.stderr}`);
        const [line, ...others] = (code === 0 ? done.stdout : done.stderr).trim().split("\n");
        assert.match(line, pattern, what);
        if (code !== 0) assert.deepEqual(others, [], `${what}: one line`);
        assert.ok(!(done.stdout + done.stderr).includes(SECRET), `${what}: the token is printed`);
      }
    });

    test("skiff scheduler fires the schedule of an exported Scheduler, then exits 0 on SIGTERM", async () => {
      const queue = `sched-${runtime}-${crypto.randomUUID().slice(0, 8)}`;
      const scheduler = start(
        commands.skiff(consumer.dir),
        ["scheduler", "sched.mjs"],
        consumer.dir,
        env(queue),
      );
      try {
        await until(async () => (await check(queue)).ready > 0, () => scheduler.output());
        const exit = await scheduler.stop("SIGTERM");
        assert.deepEqual(exit, { code: 0, signal: null }, scheduler.output());
      } finally {
        scheduler.kill();
      }
      const stats = await check(queue);
      assert.ok(stats.ready >= 1, JSON.stringify(stats));
      assert.equal(stats.dead, 0);
    });
  });
}

test("require('skiff') works from CommonJS (Node 20.19+)", async () => {
  // hono is an optional peer: an app that uses skiff/hono has its own.
  const consumer = await project("require", {
    type: "commonjs",
    dependencies: { hono: PKG.devDependencies.hono },
  });
  try {
    const code = `const skiff = require("skiff");
      const { workerApp } = require("skiff/hono");
      console.log(typeof skiff.actor, typeof skiff.UpstashBroker, typeof workerApp, skiff.VERSION);`;
    const done = await run(process.execPath, ["-e", code], { cwd: consumer.dir, env: cleanEnv() });
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout.trim(), `function function function ${PKG.version}`);
  } finally {
    await consumer.remove();
  }
});

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
function closedPort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a long-running command in a process group of its own. */
function start([command, ...args], rest, cwd, env) {
  const child = spawn(command, [...args, ...rest], {
    cwd,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => output += chunk);
  child.stderr.on("data", (chunk) => output += chunk);
  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  return {
    output: () => output,
    /** Sends `signal` to the command itself, as a process manager does; resolves with its exit. */
    stop(signal) {
      child.kill(signal);
      return exited;
    },
    /** Ends whatever is left of the group after a failure. */
    kill() {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    },
  };
}

/** Polls `check` until it holds; fails with the command's output after 30 s of polling. */
async function until(check, output) {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`gave up waiting; the command printed:\n${output()}`);
}
