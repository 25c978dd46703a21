/**
 * workerd push suite: `workerApp()` and the `scheduled` tick inside workerd, with an
 * `UpstashBroker` reaching the local server by `fetch`. `worker.ts` is bundled with esbuild
 * (as wrangler would) into `.build/`, and run by Miniflare with no compatibility flags; the
 * sending side (`sender.ts`, bundled for Node) sends with the `Push` middleware, as an
 * application would.
 *
 *   node --test tests/workerd/
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { Redis } from "@upstash/redis";
import * as esbuild from "esbuild";
import { WORKERD_RESOLVE } from "../_workerd.mjs";
import { Miniflare } from "miniflare";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const DATES_KEY = "workerd-scheduled-dates";
const firstMinute = Math.floor(Date.now() / 60_000);
const namespace = `skiff-workerd-push-${crypto.randomUUID().slice(0, 8)}`;
const signingKey = `workerd-${crypto.randomUUID()}`;
let env;
let redis;
let mf;
let url;
let sender;

/** Same options as tests/runtime/workerd: no comments, so `deno test --doc` finds none. */
const common = {
  bundle: true,
  format: "esm",
  target: "es2022",
  minifyWhitespace: true,
  legalComments: "none",
  sourcemap: "inline",
  logLevel: "warning",
};

before(async () => {
  const { UPSTASH_REDIS_REST_URL: restUrl, UPSTASH_REDIS_REST_TOKEN: token } = process.env;
  if (!restUrl || !token) {
    throw new Error(
      "Cannot run the workerd push suite: UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN " +
        "must be set (start redis-server and `skiff local`, or run scripts/test.sh)",
    );
  }
  env = { url: restUrl, token };
  redis = new Redis({ ...env, enableTelemetry: false });
  await redis.del(DATES_KEY);
  const scriptPath = here(".build/worker.js");
  await esbuild.build({
    ...common,
    entryPoints: [here("worker.ts")],
    outfile: scriptPath,
    ...WORKERD_RESOLVE,
  });
  await esbuild.build({
    ...common,
    entryPoints: [here("sender.ts")],
    outfile: here(".build/sender.mjs"),
    platform: "node",
    target: "node20",
  });
  sender = await import(here(".build/sender.mjs"));
  mf = new Miniflare({
    modules: true,
    scriptPath,
    compatibilityDate: "2026-01-01",
    bindings: {
      UPSTASH_REDIS_REST_URL: env.url,
      UPSTASH_REDIS_REST_TOKEN: env.token,
      SKIFF_SIGNING_KEY: signingKey,
      SKIFF_NAMESPACE: namespace,
    },
  });
  url = new URL("/skiff/messages", await mf.ready).href;
});

after(async () => {
  try {
    if (redis) {
      await redis.del(DATES_KEY);
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, { match: `${namespace}*`, count: 500 });
        if (keys.length) await redis.del(...keys);
        cursor = String(next);
      } while (cursor !== "0");
    }
  } finally {
    await mf?.dispose();
  }
});

test("a message sent with Push is pushed to the worker, processed once, and its effect seen", async () => {
  const key = `${namespace}:runs:pushed`;
  const { id, answers } = await sender.sendPushed({ redis: env, namespace, url, signingKey, key });
  assert.deepEqual(answers, [
    { status: 200, body: { queue: "workerd-push", results: [{ id, status: "acked" }] } },
    // Pushed again: already done, nothing runs.
    { status: 200, body: { queue: "workerd-push", results: [{ id, status: "missing" }] } },
  ]);
  assert.equal(await redis.get(key), 1);
  assert.deepEqual(await sender.queueStats({ redis: env, namespace }), {
    ready: 0,
    delayed: 0,
    leased: 0,
    dead: 0,
  });
});

test("an unsigned push is refused with a JSON 401", async () => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "skiff-signature": "t=1,k=00000000,v1=00" },
    body: JSON.stringify({ queue: "workerd-push", ids: ["x"] }),
  });
  assert.equal(response.status, 401);
  assert.match((await response.json()).error, /^Cannot accept push: /);
});

test("a Cloudflare scheduled event ticks: a message whose push was lost is processed", async () => {
  const key = `${namespace}:runs:lost`;
  const { answers } = await sender.sendPushed({
    redis: env,
    namespace,
    url,
    signingKey,
    key,
    lose: true,
  });
  assert.deepEqual(answers, []);
  assert.equal(await redis.get(key), null);
  assert.equal((await sender.queueStats({ redis: env, namespace })).ready, 1);
  const worker = await mf.getWorker();
  const result = await worker.scheduled({ cron: "* * * * *" });
  assert.equal(result.outcome, "ok");
  assert.equal(await redis.get(key), 1);
  assert.equal((await sender.queueStats({ redis: env, namespace })).ready, 0);
});

test("Cloudflare scheduled events fire print_current_date once per minute slot", async () => {
  const worker = await mf.getWorker();
  // Two events at once, as from two colos, on top of the event of the test before.
  const results = await Promise.all([
    worker.scheduled({ cron: "* * * * *" }),
    worker.scheduled({ cron: "* * * * *" }),
  ]);
  assert.deepEqual(results.map((r) => r.outcome), ["ok", "ok"]);
  const dates = await redis.lrange(DATES_KEY, 0, -1);
  // Every event of this file fell in these minutes; each minute's slot fired exactly once.
  const minutes = dates.map((date) => Math.floor(Date.parse(date) / 60_000));
  assert.ok(dates.length >= 1);
  assert.equal(new Set(minutes).size, dates.length);
  assert.ok(minutes.every((m) => m >= firstMinute && m <= Math.floor(Date.now() / 60_000)));
});

test("a pipeline with a group continues by push inside workerd: fan-out, then fan-in", async () => {
  const key = `${namespace}:sum`;
  const statuses = await sender.sendPipeline({ redis: env, namespace, url, signingKey, key });
  assert.deepEqual(statuses, [200]);
  // The last step runs in a push the worker sent itself after the response: wait for it.
  for (let i = 0; i < 100 && (await redis.get(key)) === null; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(await redis.get(key), 6);
});
