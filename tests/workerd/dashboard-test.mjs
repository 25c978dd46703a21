/**
 * workerd dashboard suite: `dashboardApp()` served by a Worker (`dashboard.ts`, bundled with
 * esbuild as wrangler would, run by Miniflare with no compatibility flags), its
 * `UpstashBroker` reaching the local server by `fetch`. The Node side (`dashboard_seed.ts`)
 * puts a dead letter and a message in flight in the queue first.
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
const namespace = `skiff-workerd-dashboard-${crypto.randomUUID().slice(0, 8)}`;
const queue = "workerd-dashboard";
const password = `workerd-${crypto.randomUUID()}`;
const AUTH = { authorization: `Basic ${btoa(`ops:${password}`)}` };
let place;
let redis;
let mf;
let seeded;
let node;
/** The Worker's address, as a browser reaches it. */
let ORIGIN;

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
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = process.env;
  if (!url || !token) {
    throw new Error(
      "Cannot run the workerd dashboard suite: UPSTASH_REDIS_REST_URL and " +
        "UPSTASH_REDIS_REST_TOKEN must be set (start redis-server and `skiff local`)",
    );
  }
  place = { redis: { url, token }, namespace, queue };
  redis = new Redis({ url, token, enableTelemetry: false });
  const scriptPath = here(".build/dashboard.js");
  await esbuild.build({
    ...common,
    entryPoints: [here("dashboard.ts")],
    outfile: scriptPath,
    ...WORKERD_RESOLVE,
  });
  await esbuild.build({
    ...common,
    entryPoints: [here("dashboard_seed.ts")],
    outfile: here(".build/dashboard_seed.mjs"),
    platform: "node",
    target: "node20",
  });
  node = await import(here(".build/dashboard_seed.mjs"));
  seeded = await node.seed(place);
  mf = new Miniflare({
    modules: true,
    scriptPath,
    compatibilityDate: "2026-01-01",
    bindings: {
      UPSTASH_REDIS_REST_URL: url,
      UPSTASH_REDIS_REST_TOKEN: token,
      DASHBOARD_PASSWORD: password,
      SKIFF_NAMESPACE: namespace,
      SKIFF_QUEUE: queue,
    },
  });
  ORIGIN = (await mf.ready).origin;
});

after(async () => {
  try {
    if (redis) {
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

test("without credentials, or with wrong ones, the dashboard answers 401 and asks for them", async () => {
  for (const headers of [{}, { authorization: `Basic ${btoa("ops:wrong-password-0123")}` }]) {
    const response = await fetch(`${ORIGIN}/`, { headers });
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /^Basic /);
    assert(!(await response.text()).includes(seeded.dead));
  }
});

test("with credentials, the page shows the queue, the dead letter and the message in flight with its progress", async () => {
  const response = await fetch(`${ORIGIN}/`, { headers: AUTH });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
  const page = await response.text();
  assert(page.includes(`id="q-${queue}"`), "the queue's section");
  assert(page.includes(seeded.dead), "the dead letter");
  assert(page.includes(seeded.leased), "the message in flight");
  assert.match(page, /<td class="progress">\{&#34;done&#34;:3,&#34;total&#34;:4\}<\/td>/);
  assert.match(page, /Error: boom/);
  assert(!page.includes(password));
});

test("a requeue from the page's own origin moves the dead letter back to ready", async () => {
  const form = {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/x-www-form-urlencoded" },
    body: `queue=${queue}&id=${seeded.dead}`,
    redirect: "manual",
  };
  const foreign = await fetch(`${ORIGIN}/requeue`, {
    ...form,
    headers: { ...form.headers, origin: "https://elsewhere.example" },
  });
  assert.equal(foreign.status, 403);
  assert.equal((await node.stats(place)).dead, 1);
  const response = await fetch(`${ORIGIN}/requeue`, {
    ...form,
    headers: { ...form.headers, origin: ORIGIN },
  });
  assert.equal(response.status, 303);
  assert.deepEqual(await node.stats(place), { ready: 1, delayed: 0, leased: 1, dead: 0 });
});
