/**
 * examples/node/run-worker.sh, the startup-retry wrapper, run as the README says: the worker
 * exits with code 3 while nothing listens at the REST URL, the wrapper retries with a
 * doubling pause, and once a proxy to the local server listens there, the worker starts and
 * runs messages.
 *
 *   SKIFF_EXAMPLES_WORK=... node --test tests/examples/node-retries-test.mjs
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import {
  exampleDir,
  freePort,
  importSkiff,
  readmeCommands,
  restEnv,
  start,
  waitFor,
} from "./_work.mjs";

const dir = exampleDir("node");
const RETRY = /^Connection error encountered on startup\. Retrying in ([\d.]+) second\(s\)\.\.\.$/;
let rest;
let port;
let proxy;
let wrapper;

/** Starts a TCP proxy on `port` to the local server. */
function startProxy() {
  const target = new URL(rest.url);
  const sockets = new Set();
  const server = createServer((socket) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on("error", () => {}).on("close", () => sockets.delete(s));
    }
    socket.pipe(upstream).pipe(socket);
  });
  return new Promise((resolve) =>
    server.listen(port, "127.0.0.1", () =>
      resolve({
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((done) => server.close(done));
        },
      }))
  );
}

/** The arguments the README gives `bash run-worker.sh`. */
function readmeArgs() {
  const found = readmeCommands(dir).find(({ command }) =>
    command.startsWith("bash run-worker.sh ")
  );
  assert.ok(found, "README.md gives no 'bash run-worker.sh' command");
  return found.command.split(" ").slice(2);
}

function runWorker(args, env = {}) {
  const { PATH, HOME } = process.env;
  return start("bash", ["run-worker.sh", ...args], {
    cwd: dir,
    env: {
      PATH,
      HOME,
      UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${port}`,
      UPSTASH_REDIS_REST_TOKEN: rest.token,
      SKIFF_RETRY_DELAY_MS: "100",
      ...env,
    },
  });
}

before(async () => {
  rest = restEnv();
  port = await freePort();
  // The environment comes from this suite only, not from a .env of another suite.
  rmSync(join(dir, ".env"), { force: true });
});

after(async () => {
  await wrapper?.stop();
  await proxy?.close();
});

test("an exit code other than 3 ends the wrapper with that code, with no retry", async () => {
  const run = runWorker(["--concurrency", "0"]);
  assert.equal(await run.exited, 2);
  assert.ok(!run.lines.some((l) => RETRY.test(l)));
});

test("unreachable at startup: retried with a doubling pause until Redis is reachable", async () => {
  wrapper = runWorker(readmeArgs());
  const retries = () => wrapper.lines.map((l) => RETRY.exec(l)?.[1]).filter(Boolean);
  await waitFor(() => retries().length >= 3, "three retries");
  proxy = await startProxy();
  await waitFor(
    () => wrapper.lines.some((l) => l.startsWith("skiff worker: consuming reports")),
    "the worker to start",
  );
  assert.deepEqual(retries().slice(0, 3), ["0.100", "0.200", "0.400"]);
  assert.ok(
    wrapper.lines.filter((l) => l.startsWith("skiff worker: Cannot connect to Redis")).length >= 3,
  );

  // Started, it works: a report sent now runs in it.
  const { UpstashBroker } = await importSkiff(dir);
  const { Redis } = await import(
    pathToFileURL(join(dir, "node_modules", "@upstash", "redis", "nodejs.mjs")).href
  );
  const { buildReport } = await import(pathToFileURL(join(dir, "src", "reports", "tasks.js")).href);
  const broker = new UpstashBroker({ redis: new Redis({ ...rest, enableTelemetry: false }) });
  const [message] = await broker.enqueue([buildReport.message("2026-11")]);
  const line = `report for 2026-11 built (message ${message.id})`;
  await waitFor(() => wrapper.lines.includes(line), "the report to run");
});

test("SIGTERM to the wrapper stops the worker gracefully: exit code 0", async () => {
  assert.equal(await wrapper.stop(), 0);
  assert.equal(wrapper.lines.at(-1), "skiff worker: stopped");
  assert.ok(!wrapper.lines.join("\n").includes(rest.token));
});
