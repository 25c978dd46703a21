/**
 * examples/vercel: its function (`api/index.ts`), bundled by esbuild for Node as Vercel's
 * builder would, called with real `Request`s inside a request context like the one Vercel's
 * runtime installs (what `waitUntil` from `@vercel/functions` reads), and served over HTTP
 * for the pushes it sends itself, against the local server. The tick comes as Vercel Cron
 * sends it: `GET` on the path of vercel.json's cron, with `Authorization: Bearer`.
 *
 *   SKIFF_EXAMPLES_WORK=... node --test tests/examples/vercel-test.mjs
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import {
  awayFromMinuteEnd,
  emptied,
  exampleDir,
  randomNamespace,
  restEnv,
  runReadmeCurl,
  waitFor,
} from "./_work.mjs";

const dir = exampleDir("vercel");
const namespace = randomNamespace("vercel");
const signingKey = `vercel-${crypto.randomUUID()}`;
const cronSecret = `cron-${crypto.randomUUID()}`;
const logged = [];
let rest;
let fn;
let server;
let base;
let config;
let metafile;
/** The promises handed to `waitUntil`, per invocation, as Vercel keeps them. */
const kept = [];

/** Invokes the function as Vercel does: in a request context with its own `waitUntil`. */
async function invoke(request) {
  const handler = fn[request.method];
  const promises = [];
  kept.push(promises);
  const context = { waitUntil: (promise) => promises.push(promise) };
  globalThis[Symbol.for("@vercel/request-context")] = { get: () => context };
  const response = await handler(request);
  return { response, settled: () => Promise.allSettled(promises), promises };
}

before(async () => {
  rest = restEnv();
  config = JSON.parse(readFileSync(join(dir, "vercel.json"), "utf8"));
  // The deployment, for the pushes: every HTTP request becomes one invocation.
  server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const request = new Request(new URL(req.url, base), {
      method: req.method,
      headers: Object.entries(req.headers).map(([k, v]) => [k, String(v)]),
      body: req.method === "GET" ? undefined : Buffer.concat(chunks),
    });
    const { response, settled } = await invoke(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
    await settled();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  Object.assign(process.env, {
    UPSTASH_REDIS_REST_URL: rest.url,
    UPSTASH_REDIS_REST_TOKEN: rest.token,
    SKIFF_SIGNING_KEY: signingKey,
    SKIFF_PUSH_URL: `${base}/api/skiff/messages`,
    CRON_SECRET: cronSecret,
    SKIFF_NAMESPACE: namespace,
  });
  const outfile = join(dir, ".build", "api.mjs");
  ({ metafile } = await esbuild.build({
    entryPoints: [join(dir, "api", "index.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
    metafile: true,
  }));
  const log = console.log;
  console.log = (...args) => {
    logged.push(args.join(" "));
    log(...args);
  };
  fn = await import(pathToFileURL(outfile).href);
});

after(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

test("the function exports GET and POST, and a maxDuration", () => {
  assert.equal(typeof fn.GET, "function");
  assert.equal(typeof fn.POST, "function");
  assert.equal(fn.maxDuration, 60);
});

test("waitUntil comes from @vercel/functions, Vercel's package, not from a private symbol", () => {
  // skiff falls back to the request context that @vercel/functions reads, so behaviour
  // alone cannot tell the two apart: the function's own imports can.
  const [, entry] = Object.entries(metafile.inputs).find(([path]) => path.endsWith("api/index.ts"));
  assert.ok(entry.imports.some((i) => i.path === "@vercel/functions" && i.external));
  const source = readFileSync(join(dir, "api", "index.ts"), "utf8");
  assert.ok(!source.includes("@vercel/request-context"));
});

test("a send from a route is handed to waitUntil, pushed, and processed once", async () => {
  const invocations = kept.length;
  const { queued } = JSON.parse(await runReadmeCurl(dir, "/api/signup", base));
  // The push was handed to the waitUntil of the README's request's invocation (the first
  // one since: the push is another, later).
  const promises = kept[invocations];
  assert.ok(promises.length >= 1);
  await Promise.allSettled(promises);
  const line = `welcome email sent to user 21 (message ${queued})`;
  await waitFor(() => logged.includes(line), "the pushed message to run");
  await emptied(namespace, "signup");
  assert.equal(logged.filter((l) => l === line).length, 1);
});

test("Vercel Cron's GET with the bearer secret, twice at once, fires the schedule once", async () => {
  const [{ path }] = config.crons;
  await awayFromMinuteEnd();
  const calls = await Promise.all([1, 2].map(() =>
    invoke(
      new Request(new URL(path, base), { headers: { authorization: `Bearer ${cronSecret}` } }),
    )
  ));
  assert.deepEqual(calls.map((c) => c.response.status), [200, 200]);
  await Promise.all(calls.map((c) => c.settled()));
  await emptied(namespace, "maintenance");
  const purged = logged.filter((l) => l.startsWith("purged expired sessions (message "));
  assert.equal(purged.length, 1);
});

test("a cron call without the secret is refused with 401", async () => {
  const [{ path }] = config.crons;
  const { response } = await invoke(new Request(new URL(path, base)));
  assert.equal(response.status, 401);
});

test("vercel.json sends every /api path to the function", () => {
  assert.deepEqual(config.rewrites, [{ source: "/api/(.*)", destination: "/api" }]);
});
