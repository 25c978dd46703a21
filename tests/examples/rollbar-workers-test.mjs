/**
 * examples/rollbar-workers: the Worker bundled as wrangler bundles it and run in Miniflare
 * against the local server (see `_wrangler.mjs`), with Rollbar's endpoint pointed at an HTTP
 * server of this suite standing in for Rollbar's API. The README's curl command sends a
 * message that fails; each attempt (the first from the push, the retry from a cron event)
 * arrives as an item carrying the exception and the message's id, actor, queue and attempt,
 * and none of its arguments.
 *
 *   SKIFF_EXAMPLES_WORK=... node --test tests/examples/rollbar-workers-test.mjs
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import {
  exampleDir,
  queueStats,
  randomNamespace,
  restEnv,
  runReadmeCurl,
  waitFor,
} from "./_work.mjs";
import { startWorker } from "./_wrangler.mjs";

const dir = exampleDir("rollbar-workers");
const namespace = randomNamespace("rollbar");
const signingKey = `rb-${crypto.randomUUID()}`;
const accessToken = `rb${crypto.randomUUID().replaceAll("-", "")}`;
/** The argument value of the README's curl command that must not reach Rollbar. */
const CARD_TOKEN = "tok_visa_4242";
const out = [];
/** What Rollbar's stand-in received: each request's access token header and body. */
const posts = [];
let rest;
let api;
let mf;
let base;
let config;

/** The items received so far (their `data`). */
function items() {
  return posts.map(({ body }) => JSON.parse(body).data);
}

before(async () => {
  rest = restEnv();
  api = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    if (req.method === "POST") {
      posts.push({
        path: req.url,
        token: req.headers["x-rollbar-access-token"],
        body: Buffer.concat(chunks).toString("utf8"),
      });
    }
    res.writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ err: 0, result: { uuid: crypto.randomUUID() } }));
  });
  await new Promise((resolve) => api.listen(0, "127.0.0.1", resolve));
  ({ mf, origin: base, config } = await startWorker(dir, {
    UPSTASH_REDIS_REST_URL: rest.url,
    UPSTASH_REDIS_REST_TOKEN: rest.token,
    SKIFF_SIGNING_KEY: signingKey,
    SKIFF_NAMESPACE: namespace,
    ROLLBAR_ACCESS_TOKEN: accessToken,
    ROLLBAR_ENVIRONMENT: "test",
    ROLLBAR_ENDPOINT: `http://127.0.0.1:${api.address().port}/api/1/item/`,
  }, out));
});

after(async () => {
  await mf?.dispose();
  await new Promise((resolve) => api?.close(resolve));
});

test("each failed attempt reaches Rollbar with the exception and the message's data, no argument", async () => {
  const { queued } = JSON.parse(await runReadmeCurl(dir, "/api/charge", base));

  // The first attempt runs in the push's invocation, which waits for Rollbar's answer.
  await waitFor(() => posts.length >= 1, "the item of the first attempt");
  // The retry (due 100 ms later) runs in a tick: the cron trigger's.
  const [cron] = config.triggers.crons;
  const worker = await mf.getWorker();
  await waitFor(async () => {
    assert.equal((await worker.scheduled({ cron })).outcome, "ok");
    return posts.length >= 2;
  }, "the item of the retry");
  // Two attempts (maxRetries: 1), then the dead letter: nothing more to report.
  await waitFor(async () => {
    const stats = await queueStats(namespace, "payments");
    return stats.dead === 1 && stats.ready + stats.delayed + stats.leased === 0;
  }, "the message to be dead-lettered");
  assert.equal(posts.length, 2);
  for (const post of posts) {
    assert.equal(post.path, "/api/1/item/");
    assert.equal(post.token, accessToken);
  }
  assert.deepEqual(
    items().map((item) => ({
      environment: item.environment,
      level: item.level,
      exception: item.body.trace.exception,
      custom: item.custom,
    })),
    [1, 2].map((attempt) => ({
      environment: "test",
      level: "error",
      exception: { class: "Error", message: "card declined by the payment gateway" },
      custom: {
        "skiff.message_id": queued,
        "skiff.actor": "payments.charge-card",
        "skiff.queue": "payments",
        "skiff.attempt": attempt,
      },
    })),
  );
  const raw = posts.map((p) => p.body).join("\n");
  assert.ok(!raw.includes(CARD_TOKEN), "an argument value reached Rollbar");
  assert.ok(!raw.includes(rest.token), "the Redis token reached Rollbar");
  assert.ok(!raw.includes(signingKey), "the signing key reached Rollbar");
});

test("the README's curl command carries the card token the items must not", () => {
  // Otherwise the leak check above would look for a value that was never sent.
  const body = JSON.stringify({ orderId: 42, cardToken: CARD_TOKEN });
  assert.ok(readFileSync(join(dir, "README.md"), "utf8").includes(`-d '${body}'`));
});

test("no secret reaches the Worker's output", () => {
  const text = out.join("\n");
  for (const secret of [rest.token, signingKey, accessToken, CARD_TOKEN]) {
    assert.ok(!text.includes(secret));
  }
});
