/**
 * examples/node, run as its README says: the web server with its `start` script
 * (`@hono/node-server`), the pull worker with its `worker` script (`worker.sh` finds the
 * tasks modules and starts `skiff worker` from the installed package's bin) and two
 * schedulers with its `scheduler` script, all real processes against the local server, sent
 * to with the README's curl commands.
 *
 *   SKIFF_EXAMPLES_WORK=... node --test tests/examples/node-test.mjs
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import {
  awayFromMinuteEnd,
  emptied,
  exampleDir,
  freePort,
  importSkiff,
  randomNamespace,
  readmeScript,
  restEnv,
  runReadmeCurl,
  start,
  waitFor,
  writeEnv,
} from "./_work.mjs";

const dir = exampleDir("node");
const namespace = randomNamespace("node");
const signingKey = `node-${crypto.randomUUID()}`;
let rest;
let server;
let worker;
let base;

/**
 * Starts the package.json script a README command runs, directly (npm would sit between the
 * signals).
 */
function startScript(command) {
  const [program, ...args] = readmeScript(dir, command).split(" ");
  const { PATH, HOME } = process.env;
  return start(program === "node" ? process.execPath : program, args, {
    cwd: dir,
    env: { PATH, HOME },
  });
}

before(async () => {
  rest = restEnv();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  writeEnv(dir, rest, {
    SKIFF_SIGNING_KEY: signingKey,
    SKIFF_PUSH_URL: `${base}/skiff/messages`,
    SKIFF_NAMESPACE: namespace,
    PORT: port,
  });
  server = startScript("npm start");
  worker = startScript("npm run worker");
  await waitFor(
    () => server.lines.some((l) => l.startsWith("listening on")) || server.child.exitCode !== null,
    "the server to listen",
  );
  assert.equal(server.child.exitCode, null, server.lines.join("\n"));
  await waitFor(
    () =>
      worker.lines.some((l) => l.startsWith("skiff worker: consuming")) ||
      worker.child.exitCode !== null,
    "the worker to start",
  );
  assert.equal(worker.child.exitCode, null, worker.lines.join("\n"));
});

after(async () => {
  await server?.stop();
  await worker?.stop();
});

test("worker.sh finds every tasks module and the worker consumes the pulled queues", () => {
  assert.deepEqual(worker.lines.slice(0, 5), [
    "Discovered tasks modules:",
    "  * src/billing/tasks/invoices.js",
    "  * src/maintenance/tasks.js",
    "  * src/reports/tasks.js",
    "  * src/signup/tasks.js",
  ]);
  assert.ok(
    worker.lines.some((line) =>
      line.startsWith(
        "skiff worker: consuming reports, billing, maintenance (3 actor(s)) with concurrency 8",
      )
    ),
    worker.lines.join("\n"),
  );
});

test("a signup sent from a route is pushed to the server's /skiff/messages and runs there once", async () => {
  const { queued } = JSON.parse(await runReadmeCurl(dir, "/api/signup", base));
  const line = `welcome email sent to user 11 (message ${queued})`;
  await waitFor(() => server.lines.includes(line), "the pushed message to run");
  await emptied(namespace, "signup");
  assert.equal(server.lines.filter((l) => l === line).length, 1);
  assert.ok(!worker.lines.includes(line));
});

test("a report sent from a route is pulled by the worker and runs there once", async () => {
  const { queued } = JSON.parse(await runReadmeCurl(dir, "/api/reports", base));
  const line = `report for 2026-10 built (message ${queued})`;
  await waitFor(() => worker.lines.includes(line), "the worker to run the report");
  await emptied(namespace, "reports");
  assert.equal(worker.lines.filter((l) => l === line).length, 1);
  assert.ok(!server.lines.includes(line));
});

test("a message to an actor of a tasks/ directory runs in the worker", async () => {
  const { UpstashBroker } = await importSkiff(dir);
  const { Redis } = await import(
    pathToFileURL(join(dir, "node_modules", "@upstash", "redis", "nodejs.mjs")).href
  );
  const { sendInvoice } = await import(
    pathToFileURL(join(dir, "src", "billing", "tasks", "invoices.js")).href
  );
  const broker = new UpstashBroker({
    redis: new Redis({ ...rest, enableTelemetry: false }),
    namespace,
  });
  const [message] = await broker.enqueue([sendInvoice.message(5)]);
  const line = `invoice 5 sent (message ${message.id})`;
  await waitFor(() => worker.lines.includes(line), "the worker to send the invoice");
  await emptied(namespace, "billing");
});

test("two scheduler processes fire the purge schedule once a minute, and the worker runs it", async () => {
  // Both first ticks come in one minute, so one slot is due.
  await awayFromMinuteEnd();
  const schedulers = [startScript("npm run scheduler"), startScript("npm run scheduler")];
  try {
    // A scheduler prints this line, then ticks at once (and lets that tick finish on SIGTERM).
    await waitFor(
      () =>
        schedulers.every((s) =>
          s.lines.some((l) => l.startsWith("skiff scheduler: 1 schedule(s) (purge-expired) ")) ||
          s.child.exitCode !== null
        ),
      "both schedulers to start",
    );
    for (const s of schedulers) assert.equal(s.child.exitCode, null, s.lines.join("\n"));
    const purged = () => worker.lines.filter((l) => l.startsWith("purged expired sessions"));
    await waitFor(() => purged().length > 0, "the worker to run the purge");
    assert.deepEqual(await Promise.all(schedulers.map((s) => s.stop())), [0, 0]);
    const fired = schedulers.flatMap((s) =>
      s.lines.filter((l) => l.startsWith("skiff scheduler: fired 'purge-expired' for "))
    );
    assert.equal(fired.length, 1, fired.join("\n"));
    await emptied(namespace, "maintenance");
    assert.equal(purged().length, 1);
    assert.ok(!schedulers.flatMap((s) => s.lines).join("\n").includes(rest.token));
    assert.ok(purged()[0].endsWith(`(message ${/\(message (\S+)\)$/.exec(fired[0])[1]})`));
  } finally {
    await Promise.all(schedulers.map((s) => s.stop()));
  }
});

test("on SIGTERM the worker stops cleanly (exit code 0), and no secret reached any output", async () => {
  assert.equal(await worker.stop(), 0);
  assert.equal(worker.lines.at(-1), "skiff worker: stopped");
  const text = [...server.lines, ...worker.lines].join("\n");
  assert.ok(!text.includes(rest.token));
  assert.ok(!text.includes(signingKey));
});
