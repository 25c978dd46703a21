/**
 * `skiff/node` under Node, from the BUILT package: its Redis client against the local
 * server (the same answers and the same requests as `@upstash/redis`, a lost answer sent
 * again without a second effect, errors that name no payload or token), and `nodeFetch`
 * carrying a `Push` to a `workerApp` served by `@hono/node-server`. Build first:
 *
 *   node scripts/build.mjs && node --test tests/runtime/node/
 *
 * @module
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import process from "node:process";
import { promisify } from "node:util";
import { serve } from "@hono/node-server";
import { Redis } from "@upstash/redis";
// @ts-types="../../../mod.ts"
import { actor, Message, Push, UpstashBroker } from "skiff";
// @ts-types="../../../src/hono/mod.ts"
import { workerApp } from "skiff/hono";
// @ts-types="../../../src/local/mod.ts"
import * as local from "skiff/local";
// @ts-types="../../../src/node/mod.ts"
import { createRedis, nodeFetch, redisFromEnv } from "skiff/node";
import { checkLostEnqueue, cleanup, randomPrefix, upstashEnv } from "../smoke.mjs";

const env = upstashEnv(process.env);
const prefix = randomPrefix("node-http");
const plain = new Redis({ ...env, enableTelemetry: false });
const silent = { debug() {}, info() {}, warn() {}, error() {} };
after(async () => {
  await cleanup(plain, prefix);
  const keys = await plain.keys(`${prefix}*`);
  if (keys.length) await plain.del(...keys);
});

/** The channel skiff's own HTTP client tells of each request on. */
const SKIFF_REQUEST_START = "skiff.http.request.start";

/** Counts this process's HTTP requests while `fn` runs: fetch's, node:http's and skiff/node's. */
async function requestsDuring(fn) {
  let count = 0;
  const onHttp = () => count++;
  const original = globalThis.fetch;
  globalThis.fetch = (input, init) => (count++, original(input, init));
  diagnostics.subscribe("http.client.request.start", onHttp);
  diagnostics.subscribe(SKIFF_REQUEST_START, onHttp);
  try {
    await fn();
  } finally {
    globalThis.fetch = original;
    diagnostics.unsubscribe("http.client.request.start", onHttp);
    diagnostics.unsubscribe(SKIFF_REQUEST_START, onHttp);
  }
  return count;
}

test("createRedis answers SET, GET, pipelines and scripts as @upstash/redis does", async () => {
  const redis = redisFromEnv();
  const key = `${prefix}value`;
  await redis.set(key, { hello: "wörld", n: 42 }, { ex: 60 });
  assert.deepEqual(await redis.get(key), { hello: "wörld", n: 42 });
  assert.deepEqual(await redis.get(key), await plain.get(key));
  const pipeline = redis.pipeline();
  pipeline.incr(`${prefix}count`).get(`${prefix}missing`).eval("return KEYS[1]", [key], []);
  assert.deepEqual(await pipeline.exec(), [1, null, key]);
  const failing = redis.pipeline().incr(key).get(`${prefix}count`);
  const answers = await failing.exec({ keepErrors: true });
  assert.match(answers[0].error, /not an integer/);
  assert.equal(answers[1].result, 1);
});

test("an error answer names the failure, never the command's data or the token", async () => {
  const key = `${prefix}secret`;
  await plain.set(key, "card-4242-4242");
  await assert.rejects(
    createRedis(env).eval("return redis.call('INCR', KEYS[1])", [key], ["card-4242-4242"]),
    (error) => {
      assert.equal(error.name, "UpstashError");
      assert.match(error.message, /not an integer/);
      assert.doesNotMatch(error.message, /card-4242/);
      return true;
    },
  );
  const wrong = createRedis({ url: env.url, token: "not-the-token-7f3a" });
  await assert.rejects(wrong.get(key), (error) => {
    assert.match(error.message, /unauthori[sz]ed/i);
    assert.doesNotMatch(error.message, /not-the-token-7f3a/);
    return true;
  });
  assert.throws(
    () => createRedis({ url: "ftp://example.com", token: "t" }),
    /https:\/\/ or http:\/\//,
  );
  assert.throws(() => redisFromEnv({}), /UPSTASH_REDIS_REST_URL is not set/);
});

test("a broker on createRedis sends in as many requests as on @upstash/redis", async () => {
  const counts = [];
  for (const redis of [plain, createRedis(env)]) {
    const broker = new UpstashBroker({ redis, namespace: `${prefix}cost`, logger: silent });
    const task = actor(`cost-${counts.length}`, () => {}, { broker, queue: "cost" });
    await task.send(); // scripts known, sockets open
    counts.push(
      await requestsDuring(() => Promise.all(Array.from({ length: 20 }, () => task.send()))),
    );
  }
  assert.ok(counts[1] <= 2, `20 sends at once took ${counts[1]} requests`);
  assert.equal(counts[1], counts[0]);
});

test("given an enqueue whose answer is lost, the client sends it again and the message is stored once", async () => {
  await checkLostEnqueue(
    { UpstashBroker, Message },
    createRedis,
    local,
    process.env,
    `${prefix}lost`,
  );
});

test("a Push over nodeFetch reaches a workerApp on @hono/node-server, which runs the message once", async () => {
  const namespace = `${prefix}push`;
  const signingKey = "node-http-signing-key-0123456789abcdef";
  const endpoint = new UpstashBroker({ redis: createRedis(env), namespace, logger: silent });
  const app = workerApp({ broker: endpoint, signingKeys: [signingKey] });
  // nodeFetch as it is (Push calls it with the URL and init): the answers the app gave it.
  const statuses = [];
  const { server, url } = await new Promise((resolve) => {
    const fetch = async (request) => {
      const response = await app.fetch(request);
      statuses.push(response.status);
      return response;
    };
    const server = serve({ fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
      resolve({ server, url: `http://127.0.0.1:${info.port}` });
    });
  });
  try {
    const sender = new UpstashBroker({ redis: createRedis(env), namespace, logger: silent });
    const push = new Push({ url: `${url}/messages`, signingKey, fetch: nodeFetch });
    sender.addMiddleware(push);
    const ran = [];
    const task = actor("node-http-greet", (name) => void ran.push(name), {
      broker: sender,
      queue: "greetings",
    });
    await task.send("ann");
    await push.flush();
    assert.deepEqual(statuses, [200]);
    assert.deepEqual(ran, ["ann"]);
    assert.deepEqual(await endpoint.stats("greetings"), {
      ready: 0,
      delayed: 0,
      leased: 0,
      dead: 0,
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("nodeFetch sends a Request or a URL and init, and returns 3xx and 204 as they are", async () => {
  const seen = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => body += chunk);
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, type: req.headers["content-type"], body });
      if (req.url === "/moved") return res.writeHead(307, { location: "/elsewhere" }).end();
      if (req.url === "/empty") return res.writeHead(204).end();
      res.writeHead(201, { "content-type": "application/json", "x-twice": ["a", "b"] });
      res.end(JSON.stringify({ got: body }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const created = await nodeFetch(`${base}/items?x=1`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "héllo",
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get("x-twice"), "a, b");
    assert.deepEqual(await created.json(), { got: "héllo" });
    const fromRequest = await nodeFetch(
      new Request(`${base}/req`, { method: "PUT", body: new Uint8Array([104, 105]) }),
    );
    assert.deepEqual(await fromRequest.json(), { got: "hi" });
    const moved = await nodeFetch(`${base}/moved`);
    assert.equal(moved.status, 307);
    assert.equal(moved.headers.get("location"), "/elsewhere");
    const empty = await nodeFetch(`${base}/empty`, { method: "DELETE" });
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
    assert.deepEqual(seen.map((s) => [s.method, s.url, s.body]), [
      ["POST", "/items?x=1", "héllo"],
      ["PUT", "/req", "hi"],
      ["GET", "/moved", ""],
      ["DELETE", "/empty", ""],
    ]);
    await assert.rejects(
      nodeFetch(base, { method: "POST", body: new Blob(["x"]) }),
      /must be a string or bytes/,
    );
    await assert.rejects(nodeFetch("ftp://example.com/"), /only http:\/\/ and https:\/\//);
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(nodeFetch(base, { signal: aborted.signal }), { name: "AbortError" });
  } finally {
    server.close();
  }
});

test("given a kept-alive socket the server closed, nodeFetch sends once more on a new one", async () => {
  // The server answers the first request of each connection and drops the second unanswered,
  // as a server does whose keep-alive timeout ends as the request goes out.
  const seen = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const socket = req.socket;
    socket.served = (socket.served ?? 0) + 1;
    seen.push([socket.id, socket.served]);
    if (socket.served === 2) return socket.destroy();
    res.end("ok");
  });
  server.on("connection", (socket) => socket.id = ++connections);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  try {
    assert.equal(await (await nodeFetch(url, { method: "POST", body: "1" })).text(), "ok");
    assert.equal(await (await nodeFetch(url, { method: "POST", body: "2" })).text(), "ok");
    assert.deepEqual(seen, [[1, 1], [1, 2], [2, 1]]);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test("createRedis gives up on a try without answer after timeoutMs, closes its socket, and tries again within retries", async () => {
  // A server that reads each request and never answers.
  const held = [];
  let closed = 0;
  const server = createServer((req) => {
    held.push(req.socket);
    req.socket.on("close", () => closed++);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const token = "a-token-never-shown-0123";
  try {
    const redis = createRedis({
      url: `http://127.0.0.1:${server.address().port}`,
      token,
      timeoutMs: 100,
      retries: 1,
    });
    await assert.rejects(redis.get("k"), (error) => {
      assert.equal(error.name, "TimeoutError");
      assert.match(error.message, /no answer within 100 ms/);
      assert(!error.message.includes(token));
      return true;
    });
    assert.equal(held.length, 2);
    assert.notEqual(held[0], held[1]);
    while (closed < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test("a script that used createRedis ends on its own: idle sockets keep no process alive", async () => {
  const script = `import { createRedis } from "skiff/node";
const redis = createRedis({ url: process.env.UPSTASH_REDIS_REST_URL, token: process.env.UPSTASH_REDIS_REST_TOKEN });
console.log(await redis.ping());`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--input-type=module", "-e", script],
    { timeout: 30_000, env: process.env },
  );
  assert.equal(stdout.trim(), "PONG");
});

test("npx skiff uses skiff/node's sockets on Node, and fetch when NODE_USE_ENV_PROXY asks Node's fetch to honour a proxy", async () => {
  // A preloaded module tells of each request on skiff's own channel; fetch's are not on it.
  const tell = "data:text/javascript," + encodeURIComponent(
    `import d from "node:diagnostics_channel";
d.subscribe("${SKIFF_REQUEST_START}", () => process.stderr.write("skiff-socket\\n"));`,
  );
  const stats = async (extra) => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", tell, "dist/cli.js", "stats", "--queues", `${prefix}-proxy`],
      { timeout: 30_000, env: { ...process.env, SKIFF_NAMESPACE: prefix, ...extra } },
    );
    assert.match(stdout, new RegExp(`${prefix}-proxy`));
    return /skiff-socket/.test(stderr);
  };
  assert.equal(await stats({}), true, "skiff/node's sockets sent");
  assert.equal(await stats({ NODE_USE_ENV_PROXY: "1" }), false, "fetch, not skiff/node's sockets");
  assert.equal(await stats({ NODE_USE_ENV_PROXY: "0" }), true);
});

test("nodeFetch speaks HTTPS, checking the server's certificate against Node's CAs", async () => {
  // A process of its own, which trusts the fixture's self-signed certificate through
  // NODE_EXTRA_CA_CERTS as a user's would trust their CA; the same request without it fails.
  const script = `import { createServer } from "node:https";
import { readFileSync } from "node:fs";
import { nodeFetch } from "skiff/node";
const server = createServer({
  key: readFileSync("tests/fixtures/tls_key.pem"),
  cert: readFileSync("tests/fixtures/tls_cert.pem"),
}, (req, res) => {
  let body = "";
  req.on("data", (chunk) => body += chunk);
  req.on("end", () => res.end(JSON.stringify({ method: req.method, body })));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
try {
  const answer = await nodeFetch("https://localhost:" + server.address().port + "/", {
    method: "POST",
    body: "sécure",
  });
  console.log(await answer.text());
} catch (error) {
  console.log("refused: " + error.code);
} finally {
  server.close();
  server.closeAllConnections();
}`;
  const run = async (env) =>
    (await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      timeout: 30_000,
      env: { ...process.env, ...env },
    })).stdout.trim();
  assert.equal(
    await run({ NODE_EXTRA_CA_CERTS: "tests/fixtures/tls_cert.pem" }),
    JSON.stringify({ method: "POST", body: "sécure" }),
  );
  assert.match(await run({}), /^refused: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/);
});
