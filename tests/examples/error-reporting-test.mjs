/**
 * examples/error-reporting: a pull worker started with its `worker` script (Sentry's Node
 * SDK loaded first, the Sentry middleware on the broker), whose DSN points at an HTTP
 * server of this suite standing in for Sentry's ingest. A failing actor's attempt arrives
 * as an envelope carrying the exception and the message's tags, and none of its arguments.
 *
 *   SKIFF_EXAMPLES_WORK=... node --test tests/examples/error-reporting-test.mjs
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import {
  exampleDir,
  importSkiff,
  readmeScript,
  restEnv,
  start,
  waitFor,
  writeEnv,
} from "./_work.mjs";

const dir = exampleDir("error-reporting");
const CARD_TOKEN = `tok_${crypto.randomUUID()}`;
const envelopes = [];
let rest;
let ingest;
let worker;

/** The events of the envelopes received so far. */
function events() {
  return envelopes.flatMap((raw) => {
    const [, ...items] = raw.split("\n").filter(Boolean).map((line) => JSON.parse(line));
    const found = [];
    for (let i = 0; i < items.length; i += 2) {
      if (items[i].type === "event") found.push(items[i + 1]);
    }
    return found;
  });
}

before(async () => {
  rest = restEnv();
  ingest = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    let body = Buffer.concat(chunks);
    if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
    if (req.method === "POST" && req.url.startsWith("/api/1/envelope/")) {
      envelopes.push(body.toString("utf8"));
    }
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  await new Promise((resolve) => ingest.listen(0, "127.0.0.1", resolve));
  writeEnv(dir, rest, {
    SENTRY_DSN: `http://0123456789abcdef@127.0.0.1:${ingest.address().port}/1`,
  });
  const [program, ...args] = readmeScript(dir, "npm run worker").split(" ");
  assert.equal(program, "node");
  const { PATH, HOME } = process.env;
  worker = start(process.execPath, args, { cwd: dir, env: { PATH, HOME } });
  await waitFor(
    () =>
      worker.lines.some((l) => l.startsWith("skiff worker: consuming")) ||
      worker.child.exitCode !== null,
    "the worker to start",
  );
  assert.equal(worker.child.exitCode, null, worker.lines.join("\n"));
});

after(async () => {
  await worker?.stop();
  await new Promise((resolve) => ingest?.close(resolve));
});

test("a failed attempt reaches Sentry with the exception and the message's tags, no argument", async () => {
  const { UpstashBroker } = await importSkiff(dir);
  const { Redis } = await import(
    pathToFileURL(join(dir, "node_modules", "@upstash", "redis", "nodejs.mjs")).href
  );
  const { chargeCard } = await import(pathToFileURL(join(dir, "tasks.js")).href);
  const broker = new UpstashBroker({ redis: new Redis({ ...rest, enableTelemetry: false }) });
  const [message] = await broker.enqueue([chargeCard.message(42, CARD_TOKEN)]);

  // Both attempts fail; Sentry's Dedupe integration drops the second, identical error.
  await waitFor(() => worker.lines.some((l) => /dead-lettered/i.test(l)), "the retry");
  await waitFor(() => events().length >= 1, "the event of the first attempt");
  const [event] = events();
  const [exception] = event.exception.values;
  assert.equal(exception.type, "Error");
  assert.equal(exception.value, "card declined by the payment gateway");
  assert.deepEqual(event.tags, {
    "skiff.message_id": message.id,
    "skiff.actor": "payments.charge-card",
    "skiff.queue": "payments",
    "skiff.attempt": 1,
  });
  const raw = envelopes.join("\n");
  assert.ok(!raw.includes(CARD_TOKEN), "an argument value reached Sentry");
  assert.ok(!raw.includes(rest.token), "the Redis token reached Sentry");
  assert.ok(!worker.lines.join("\n").includes(CARD_TOKEN));
});
