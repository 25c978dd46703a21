/**
 * examples/deno-deploy, run by Deno as a real process with the command of its `dev` task
 * (skiff mapped to this repository's source by the config the runner generated, as JSR is
 * not reachable from the tests), against the local server. `Deno.cron` is the platform's
 * timer, so `_deno_cron.ts` is preloaded to fire the registered job on SIGUSR2 (the job is
 * still registered with Deno's own cron, which needs the task's `--unstable-cron`).
 *
 *   SKIFF_EXAMPLES_WORK=... node --test tests/examples/deno-deploy-test.mjs
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  awayFromMinuteEnd,
  exampleDir,
  freePort,
  queueStats,
  randomNamespace,
  readmeScript,
  restEnv,
  runReadmeCurl,
  start,
  waitFor,
  writeEnv,
} from "./_work.mjs";

const deno = fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url));
const preload = fileURLToPath(new URL("./_deno_cron.ts", import.meta.url));
const dir = exampleDir("deno-deploy");
const namespace = randomNamespace("deno");
const signingKey = `deno-${crypto.randomUUID()}`;
const cronSecret = `cron-${crypto.randomUUID()}`;
let rest;
let app;
let base;

before(async () => {
  rest = restEnv();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  writeEnv(dir, rest, {
    SKIFF_SIGNING_KEY: signingKey,
    SKIFF_PUSH_URL: `${base}/skiff/messages`,
    CRON_SECRET: cronSecret,
    SKIFF_NAMESPACE: namespace,
    PORT: port,
  });
  // The README's `deno task dev`, with the preload added after `deno run`.
  const [program, run, ...args] = readmeScript(dir, "deno task dev").split(" ");
  assert.deepEqual([program, run], ["deno", "run"]);
  app = start(deno, [run, "--preload", preload, ...args], { cwd: dir });
  await waitFor(
    () =>
      (app.lines.some((l) => l.startsWith("Listening on")) &&
        app.lines.some((l) => l.startsWith("cron registered"))) ||
      app.child.exitCode !== null,
    "the app to listen and register its cron job",
  );
  assert.equal(app.child.exitCode, null, app.lines.join("\n"));
});

after(async () => {
  await app?.stop();
});

test("Deno.cron gets the skiff tick, every minute, before the server starts", () => {
  // Deno Deploy picks up only the cron jobs registered before any server starts.
  assert.ok(app.lines.includes("cron registered: skiff-tick '* * * * *'"), app.lines.join("\n"));
});

test("a message sent from a Hono route is pushed to /skiff/messages and processed once", async () => {
  const { queued } = JSON.parse(await runReadmeCurl(dir, "/api/signup", base));
  const line = `welcome email sent to user 7 (message ${queued})`;
  await waitFor(() => app.lines.includes(line), "the pushed message to run");
  await waitFor(async () => {
    const stats = await queueStats(namespace, "signup");
    return Object.values(stats).every((n) => n === 0);
  }, "the signup queue to empty");
  assert.equal(app.lines.filter((l) => l === line).length, 1);
});

test("Deno.cron and a bearer GET /skiff/tick at once fire the purge schedule once", async () => {
  await awayFromMinuteEnd();
  const ran = app.lines.filter((l) => l === "cron ran: skiff-tick").length;
  app.child.kill("SIGUSR2");
  const response = await fetch(`${base}/skiff/tick`, {
    headers: { authorization: `Bearer ${cronSecret}` },
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  await waitFor(
    () => app.lines.filter((l) => l === "cron ran: skiff-tick").length > ran,
    "the cron job to run",
  );
  await waitFor(async () => {
    const stats = await queueStats(namespace, "maintenance");
    return Object.values(stats).every((n) => n === 0);
  }, "the maintenance queue to empty");
  const purged = app.lines.filter((l) => l.startsWith("purged expired sessions (message "));
  assert.equal(purged.length, 1);
});

test("a tick with the wrong bearer secret is refused with 401", async () => {
  const response = await fetch(`${base}/skiff/tick`, {
    headers: { authorization: `Bearer not-${cronSecret}` },
  });
  assert.equal(response.status, 401);
  await response.body?.cancel();
});

test("no secret reaches the app's output", () => {
  const text = app.lines.join("\n");
  for (const secret of [rest.token, signingKey, cronSecret]) assert.ok(!text.includes(secret));
});
