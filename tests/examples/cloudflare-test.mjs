/**
 * examples/cloudflare, run the way Cloudflare runs it: its installed copy is bundled by
 * esbuild with wrangler's settings (conditions `workerd`, `worker`, `browser`; ESM) and run
 * by Miniflare with the name, compatibility date, cron and service binding of its
 * wrangler.jsonc and the secrets as bindings, against the local server, with the scheduled
 * handler reachable over HTTP as `wrangler dev` makes it. The requests are the README's
 * curl commands.
 *
 *   SKIFF_EXAMPLES_WORK=... node --test tests/examples/cloudflare-test.mjs
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  awayFromMinuteEnd,
  exampleDir,
  queueStats,
  randomNamespace,
  restEnv,
  runReadmeCurl,
  waitFor,
} from "./_work.mjs";
import { startWorker } from "./_wrangler.mjs";

const dir = exampleDir("cloudflare");
const namespace = randomNamespace("cloudflare");
const signingKey = `cf-${crypto.randomUUID()}`;
const out = [];
let rest;
let config;
let mf;
let base;

before(async () => {
  rest = restEnv();
  ({ mf, origin: base, config } = await startWorker(dir, {
    UPSTASH_REDIS_REST_URL: rest.url,
    UPSTASH_REDIS_REST_TOKEN: rest.token,
    SKIFF_SIGNING_KEY: signingKey,
    SKIFF_NAMESPACE: namespace,
  }, out));
});

after(async () => {
  await mf?.dispose();
});

test("a message sent from the fetch handler is pushed through SELF and processed once", async () => {
  const { queued } = JSON.parse(await runReadmeCurl(dir, "/api/signup", base));
  const line = `welcome email sent to user 42 (message ${queued})`;
  await waitFor(() => out.includes(line), "the pushed message to run");
  await waitFor(async () => {
    const stats = await queueStats(namespace, "signup");
    return Object.values(stats).every((n) => n === 0);
  }, "the signup queue to empty");
  assert.equal(out.filter((l) => l === line).length, 1);
});

test("an unsigned push is refused with 401", async () => {
  const response = await fetch(new URL("/skiff/messages", base), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ queue: "signup", ids: ["x"] }),
  });
  assert.equal(response.status, 401);
});

test("a cron event and the README's scheduled request in one minute fire the purge schedule once", async () => {
  const [cron] = config.triggers.crons;
  await awayFromMinuteEnd();
  const worker = await mf.getWorker();
  const [result] = await Promise.all([
    worker.scheduled({ cron }),
    runReadmeCurl(dir, "/cdn-cgi/handler/scheduled", base),
  ]);
  assert.equal(result.outcome, "ok");
  await waitFor(async () => {
    const stats = await queueStats(namespace, "maintenance");
    return Object.values(stats).every((n) => n === 0);
  }, "the maintenance queue to empty");
  const purged = out.filter((l) => l.startsWith("purged expired sessions (message "));
  assert.equal(purged.length, 1);
});

test("no secret reaches the Worker's output", () => {
  const text = out.join("\n");
  assert.ok(!text.includes(rest.token));
  assert.ok(!text.includes(signingKey));
});
