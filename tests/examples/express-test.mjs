/**
 * examples/express: the Express app started with its `start` script, with skiff's endpoint
 * mounted in it, tested over HTTP (the README's curl command) against the local server.
 *
 *   SKIFF_EXAMPLES_WORK=... node --test tests/examples/express-test.mjs
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  exampleDir,
  freePort,
  queueStats,
  readmeScript,
  restEnv,
  runReadmeCurl,
  start,
  waitFor,
  writeEnv,
} from "./_work.mjs";

const dir = exampleDir("express");
const signingKey = `express-${crypto.randomUUID()}`;
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
    PORT: port,
  });
  const [program, ...args] = readmeScript(dir, "npm start").split(" ");
  assert.equal(program, "node");
  const { PATH, HOME } = process.env;
  app = start(process.execPath, args, { cwd: dir, env: { PATH, HOME } });
  await waitFor(
    () => app.lines.some((l) => l.startsWith("listening on")) || app.child.exitCode !== null,
    "the app to listen",
  );
  assert.equal(app.child.exitCode, null, app.lines.join("\n"));
});

after(async () => {
  await app?.stop();
});

test("an order posted to an Express route is pushed to /skiff/messages and confirmed once", async () => {
  const { queued } = JSON.parse(await runReadmeCurl(dir, "/orders", base));
  const line = `order 1001 confirmed (message ${queued})`;
  await waitFor(() => app.lines.includes(line), "the pushed message to run");
  await waitFor(async () => {
    const stats = await queueStats("skiff", "orders");
    return Object.values(stats).every((n) => n === 0);
  }, "the orders queue to empty");
  assert.equal(app.lines.filter((l) => l === line).length, 1);
});

test("the endpoint answers through Express: health, and 401 for an unsigned push", async () => {
  const health = await fetch(`${base}/skiff/health`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const push = await fetch(`${base}/skiff/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ queue: "orders", ids: ["x"] }),
  });
  assert.equal(push.status, 401);
  assert.match((await push.json()).error, /^Cannot accept push: /);
});

test("no secret reaches the app's output", () => {
  const text = app.lines.join("\n");
  assert.ok(!text.includes(rest.token));
  assert.ok(!text.includes(signingKey));
});
