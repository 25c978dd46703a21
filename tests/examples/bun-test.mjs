/**
 * examples/bun, run with its `start` script by Bun as a real process (Bun loads the copy's
 * `.env` itself), against the local server: a push from a route (the README's curl command),
 * and the timer's ticks with a bearer `GET /skiff/tick` among them.
 *
 *   SKIFF_EXAMPLES_WORK=... node --test tests/examples/bun-test.mjs
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  awayFromMinuteEnd,
  emptied,
  exampleDir,
  freePort,
  randomNamespace,
  readmeScript,
  restEnv,
  runReadmeCurl,
  start,
  waitFor,
  writeEnv,
} from "./_work.mjs";

const bun = fileURLToPath(new URL("../../node_modules/.bin/bun", import.meta.url));
const dir = exampleDir("bun");
const namespace = randomNamespace("bun");
const signingKey = `bun-${crypto.randomUUID()}`;
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
    // Many ticks in the suite's one minute: the schedule must still fire once.
    TICK_EVERY_MS: 200,
  });
  const [program, ...args] = readmeScript(dir, "bun start").split(" ");
  assert.equal(program, "bun");
  // The whole suite runs within one minute, so that one purge slot is due.
  await awayFromMinuteEnd(8_000);
  const { PATH, HOME } = process.env;
  app = start(bun, args, { cwd: dir, env: { PATH, HOME } });
  await waitFor(
    () => app.lines.some((l) => l.startsWith("listening on")) || app.child.exitCode !== null,
    "the server to listen",
  );
  assert.equal(app.child.exitCode, null, app.lines.join("\n"));
});

after(async () => {
  await app?.stop();
});

test("a message sent from a route is pushed to /skiff/messages and processed once", async () => {
  const { queued } = JSON.parse(await runReadmeCurl(dir, "/api/signup", base));
  const line = `welcome email sent to user 3 (message ${queued})`;
  await waitFor(() => app.lines.includes(line), "the pushed message to run");
  await emptied(namespace, "signup");
  assert.equal(app.lines.filter((l) => l === line).length, 1);
});

test("the timer's ticks and a bearer GET /skiff/tick fire the purge schedule once", async () => {
  const responses = await Promise.all(
    [1, 2].map(() =>
      fetch(`${base}/skiff/tick`, { headers: { authorization: `Bearer ${cronSecret}` } })
    ),
  );
  assert.deepEqual(responses.map((r) => r.status), [200, 200]);
  await Promise.all(responses.map((r) => r.body?.cancel()));
  const purged = () => app.lines.filter((l) => l.startsWith("purged expired sessions"));
  await waitFor(() => purged().length > 0, "the purge to run");
  // Let the timer tick a few more times (every 200 ms).
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await emptied(namespace, "maintenance");
  assert.equal(purged().length, 1);
});

test("a tick with the wrong bearer secret is refused with 401, and no secret reached the output", async () => {
  const response = await fetch(`${base}/skiff/tick`, {
    headers: { authorization: `Bearer not-${cronSecret}` },
  });
  assert.equal(response.status, 401);
  await response.body?.cancel();
  const text = app.lines.join("\n");
  for (const secret of [rest.token, signingKey, cronSecret]) assert.ok(!text.includes(secret));
});
