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
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";
import {
  awayFromMinuteEnd,
  collectLines,
  exampleDir,
  queueStats,
  randomNamespace,
  restEnv,
  runReadmeCurl,
  waitFor,
} from "./_work.mjs";

const dir = exampleDir("cloudflare");
const namespace = randomNamespace("cloudflare");
const signingKey = `cf-${crypto.randomUUID()}`;
const out = [];
let rest;
let config;
let mf;
let base;

/** wrangler.jsonc, its whole-line comments dropped. */
function readWranglerConfig() {
  const text = readFileSync(join(dir, "wrangler.jsonc"), "utf8");
  return JSON.parse(
    text.split("\n").filter((line) => !/^\s*\/\//.test(line)).join("\n"),
  );
}

before(async () => {
  rest = restEnv();
  config = readWranglerConfig();
  const scriptPath = join(dir, ".build", "worker.js");
  await esbuild.build({
    entryPoints: [join(dir, config.main)],
    outfile: scriptPath,
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    external: ["cloudflare:*", "node:*"],
    logLevel: "warning",
  });
  const self = config.services.find((s) => s.service === config.name);
  mf = new Miniflare({
    name: config.name,
    modules: true,
    modulesRoot: join(dir, ".build"),
    scriptPath,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    bindings: {
      UPSTASH_REDIS_REST_URL: rest.url,
      UPSTASH_REDIS_REST_TOKEN: rest.token,
      SKIFF_SIGNING_KEY: signingKey,
      SKIFF_NAMESPACE: namespace,
    },
    serviceBindings: { [self.binding]: config.name },
    // What `wrangler dev` sets: GET /cdn-cgi/handler/scheduled fires the cron trigger.
    unsafeTriggerHandlers: true,
    handleRuntimeStdio(stdout, stderr) {
      collectLines(stdout, out);
      collectLines(stderr, out);
    },
  });
  try {
    base = await mf.ready;
  } catch (error) {
    console.error(out.join("\n"));
    throw error;
  }
});

after(async () => {
  await mf?.dispose();
});

/** Miniflare's origin, for the README's commands. */
function origin() {
  return new URL(base).origin;
}

test("a message sent from the fetch handler is pushed through SELF and processed once", async () => {
  const { queued } = JSON.parse(await runReadmeCurl(dir, "/api/signup", origin()));
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
    runReadmeCurl(dir, "/cdn-cgi/handler/scheduled", origin()),
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
