/**
 * workerd smoke suite: bundles worker.ts with esbuild (as wrangler would) into `.build/`,
 * runs it under Miniflare with no compatibility flags, and asks it over `fetch` to do the
 * Redis work through the local server; a client here checks what the worker wrote.
 *
 *   node --test tests/runtime/workerd/
 *
 * Miniflare lets a worker fetch private addresses such as 127.0.0.1 (its "internet"
 * service allows public and private ranges; plain workerd allows only public ones).
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { Redis } from "@upstash/redis";
import * as esbuild from "esbuild";
import { WORKERD_RESOLVE } from "../../_workerd.mjs";
import { Miniflare } from "miniflare";
import { randomPrefix, smokeKeys, upstashEnv } from "../smoke.mjs";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const prefix = randomPrefix("workerd");
let env;
let redis;
let mf;

before(async () => {
  env = upstashEnv(process.env);
  redis = new Redis({ ...env, enableTelemetry: false });
  const scriptPath = here(".build/worker.js");
  await esbuild.build({
    entryPoints: [here("worker.ts")],
    outfile: scriptPath,
    bundle: true,
    format: "esm",
    target: "es2022",
    ...WORKERD_RESOLVE,
    // No comments in the bundle: `deno test --doc` would run the dependencies' examples.
    minifyWhitespace: true,
    legalComments: "none",
    sourcemap: "inline",
    logLevel: "warning",
  });
  mf = new Miniflare({
    modules: true,
    scriptPath,
    compatibilityDate: "2026-01-01",
    bindings: {
      UPSTASH_REDIS_REST_URL: env.url,
      UPSTASH_REDIS_REST_TOKEN: env.token,
    },
  });
  await mf.ready;
});

after(async () => {
  try {
    if (mf) await call("/cleanup");
  } finally {
    await mf?.dispose();
  }
});

/** Asks the worker to run one check; fails with the worker's own error message. */
async function call(route) {
  const response = await mf.dispatchFetch(
    `http://worker${route}?prefix=${encodeURIComponent(prefix)}`,
  );
  const body = await response.json();
  assert.equal(body.ok, true, `worker ${route}: ${body.error}`);
  return body.result;
}

test("the worker reaches the local server on 127.0.0.1 by fetch", async () => {
  assert.equal(await call("/ping"), "PONG");
});

test("VERSION is the package version inside workerd", async () => {
  const { default: pkg } = await import("../../../package.json", { with: { type: "json" } });
  assert.equal(await call("/version"), pkg.version);
});

test("SET then GET round-trips, and the value is in the local server", async () => {
  const { value } = await call("/round-trip");
  const [key] = smokeKeys(prefix);
  assert.deepEqual(await redis.get(key), value);
});

test("Script falls back from EVALSHA to EVAL once, then EVALSHA alone", async () => {
  const { first, second } = await call("/script");
  assert.deepEqual([first, second], [5, 12]);
  const [, key] = smokeKeys(prefix);
  assert.equal(await redis.get(key), 12);
});

test("actors run inside workerd with their context as this, retries included", async () => {
  const { runs } = await call("/actors");
  assert.deepEqual(runs.map((r) => [r.n, r.attempt]), [[2, 1], [6, 2]]);
});

test("actors run inside workerd on the UpstashBroker, through the local server", async () => {
  const { runs } = await call("/actors-redis");
  assert.deepEqual(runs.map((r) => [r.n, r.attempt]), [[2, 1], [6, 2]]);
});
