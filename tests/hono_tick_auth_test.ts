/**
 * Ticks and pushes from cron services that cannot make a `Skiff-Signature`: Vercel Cron's
 * `GET` with `Authorization: Bearer $CRON_SECRET` (`cronSecret`) and QStash's
 * `Upstash-Signature` JWT (`qstash`), over real HTTP. Refusals cost no Redis command.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { SignJWT } from "jose";
import { Receiver } from "@upstash/qstash";
import { Redis } from "@upstash/redis";
import { actor } from "../src/actor.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { workerApp } from "../src/hono/app.ts";
import type { WorkerAppOptions } from "../src/hono/options.ts";
import { startLocalServer } from "../src/local/server.ts";
import { verifyQstash } from "../src/push/qstash.ts";
import { signPush } from "../src/push/signature.ts";
import { silentLogger } from "./broker_conformance.ts";
import { testPrefix, testRedisUrl } from "./_env.ts";
import { CommandCounter, total } from "./_monitor.ts";

const CRON_SECRET = "a-cron-secret-of-some-length";
const SKIFF_SECRET = "skiff-secret-0123456789";

/** A signing key as QStash's console shows one, generated here: `sig_` and random letters. */
function signingKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(21));
  return `sig_${btoa(String.fromCharCode(...bytes)).replace(/[^A-Za-z0-9]/g, "")}`;
}
const CURRENT = signingKey();
const NEXT = signingKey();
const FORGED = signingKey();

const encoder = new TextEncoder();

interface TokenOptions {
  url: string;
  body?: string;
  key?: string;
  now?: number;
  jti?: string;
  expiresIn?: number;
  iss?: string;
}

/**
 * A token as QStash signs one: an HS256 JWT over its documented claims (issuer, URL, times,
 * a `jwt_` id, and the body's SHA-256 in base64url, padded as in QStash's own example),
 * made with jose, the JWT library that @upstash/qstash's `Receiver` verifies with, the way
 * @upstash/qstash's own receiver tests sign theirs (the package itself ships no signer:
 * QStash signs on its servers).
 */
async function qstashToken(options: TokenOptions): Promise<string> {
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", encoder.encode(options.body ?? "")),
  );
  const body = btoa(String.fromCharCode(...digest)).replaceAll("+", "-").replaceAll("/", "_");
  return await new SignJWT({ body })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(options.iss ?? "Upstash")
    .setSubject(options.url)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (options.expiresIn ?? 300))
    .setJti(options.jti ?? `jwt_${crypto.randomUUID().replaceAll("-", "")}`)
    .sign(encoder.encode(options.key ?? CURRENT));
}

/** Serves a worker app over HTTP on a free port, mounted under `/skiff` in a user's app. */
function serve(options: WorkerAppOptions) {
  const app = new Hono().route("/skiff", workerApp(options));
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}/skiff`;
  return { base, close: () => server.shutdown() };
}

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.json() };
}

Deno.test("workerApp: Vercel Cron's GET /tick with the bearer cronSecret ticks; a wrong or missing one is a 401", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const { base, close } = serve({ broker, cronSecret: CRON_SECRET });
  try {
    const ok = await call(`${base}/tick`, { headers: { authorization: `Bearer ${CRON_SECRET}` } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.exhausted, false);

    const post = await call(`${base}/tick`, {
      method: "POST",
      headers: { authorization: `Bearer ${CRON_SECRET}` },
    });
    assert.equal(post.status, 200);

    const wrong = await call(`${base}/tick`, { headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.error, /bearer secret does not match/);
    assert.doesNotMatch(JSON.stringify(wrong.body), /nope|a-cron-secret/);

    const none = await call(`${base}/tick`);
    assert.equal(none.status, 401);
    assert.match(none.body.error, /must carry an Authorization: Bearer secret/);

    // A bearer secret never admits a push.
    const push = await call(`${base}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${CRON_SECRET}`, "content-type": "application/json" },
      body: JSON.stringify({ queue: "default", ids: ["x"] }),
    });
    assert.equal(push.status, 500);
    assert.match(push.body.error, /no credentials are configured/);
  } finally {
    await close();
  }
});

Deno.test("workerApp: a QStash-signed tick is accepted once, with the current or the next key", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const { base, close } = serve({
    broker,
    qstash: { currentSigningKey: CURRENT, nextSigningKey: NEXT },
  });
  const tickWith = (token: string, body = "") =>
    call(`${base}/tick`, {
      method: "POST",
      headers: { "upstash-signature": token },
      body: body === "" ? undefined : body,
    });
  try {
    const url = `${base}/tick`;
    const token = await qstashToken({ url });
    assert.equal((await tickWith(token)).status, 200);

    const replayed = await tickWith(token);
    assert.equal(replayed.status, 401);
    assert.match(replayed.body.error, /used already/);

    assert.equal((await tickWith(await qstashToken({ url, key: NEXT }))).status, 200);

    const refusals: [string, RegExp][] = [
      [await qstashToken({ url, key: FORGED }), /signing keys/],
      [await qstashToken({ url, expiresIn: -120 }), /expired/],
      [await qstashToken({ url, iss: "Someone" }), /issued by Upstash/],
      [await qstashToken({ url: `${base}/messages` }), /another URL/],
      [await qstashToken({ url, body: "{}" }), /body/],
      ["a.b", /JWT/],
    ];
    for (const [bad, why] of refusals) {
      const res = await tickWith(bad);
      assert.equal(res.status, 401, String(why));
      assert.match(res.body.error, why);
    }
    // The body a token covers must be the body received.
    const withQueues = JSON.stringify({ queues: ["default"] });
    const tampered = await qstashToken({ url, body: withQueues });
    const res = await call(url, {
      method: "POST",
      headers: { "upstash-signature": tampered, "content-type": "application/json" },
      body: JSON.stringify({ queues: ["other"] }),
    });
    assert.equal(res.status, 401);
  } finally {
    await close();
  }
});

Deno.test("workerApp: with qstash.origin, a QStash token made for another origin at the same path is refused; without it, accepted", async () => {
  // As behind a proxy: QStash calls https://app.example.com, the request arrives at 127.0.0.1.
  const pinned = serve({
    broker: new MemoryBroker({ logger: silentLogger }),
    qstash: { currentSigningKey: CURRENT, origin: "https://APP.example.com" },
  });
  const open = serve({
    broker: new MemoryBroker({ logger: silentLogger }),
    qstash: { currentSigningKey: CURRENT },
  });
  const tickWith = async (base: string, origin: string) =>
    await call(`${base}/tick`, {
      method: "POST",
      headers: { "upstash-signature": await qstashToken({ url: `${origin}/skiff/tick` }) },
    });
  try {
    assert.equal((await tickWith(pinned.base, "https://app.example.com")).status, 200);
    const refused = await tickWith(pinned.base, "https://other-app.example");
    assert.equal(refused.status, 401);
    assert.match(refused.body.error, /was made for another origin/);
    assert.doesNotMatch(refused.body.error, /other-app/);
    // Without an origin only the path is compared: another app's token passes.
    assert.equal((await tickWith(open.base, "https://other-app.example")).status, 200);
  } finally {
    await pinned.close();
    await open.close();
  }
});

Deno.test("workerApp: QStash as the transport of pushes: a signed POST /messages runs the message once", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const runs: number[] = [];
  const job = actor(`job-${crypto.randomUUID()}`, (n: number) => void runs.push(n), { broker });
  const { base, close } = serve({ broker, qstash: { currentSigningKey: CURRENT } });
  try {
    const { id } = await job.send(7);
    const body = JSON.stringify({ queue: "default", ids: [id] });
    const url = `${base}/messages`;
    const headers = {
      "content-type": "application/json",
      "upstash-signature": await qstashToken({ url, body }),
    };
    const first = await call(url, { method: "POST", headers, body });
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.results, [{ id, status: "acked" }]);
    assert.equal((await call(url, { method: "POST", headers, body })).status, 401);
    assert.deepEqual(runs, [7]);
  } finally {
    await close();
  }
});

Deno.test("workerApp: every credential configured together; each request is judged by the one it carries", async () => {
  const broker = new MemoryBroker({ logger: silentLogger });
  const { base, close } = serve({
    broker,
    signingKeys: [SKIFF_SECRET],
    cronSecret: CRON_SECRET,
    qstash: { currentSigningKey: CURRENT },
  });
  try {
    const signature = await signPush(SKIFF_SECRET, {
      method: "POST",
      path: "/skiff/tick",
      body: "",
    });
    assert.equal(
      (await call(`${base}/tick`, { method: "POST", headers: { "skiff-signature": signature } }))
        .status,
      200,
    );
    assert.equal(
      (await call(`${base}/tick`, { headers: { authorization: `Bearer ${CRON_SECRET}` } })).status,
      200,
    );
    const token = await qstashToken({ url: `${base}/tick` });
    assert.equal(
      (await call(`${base}/tick`, { method: "POST", headers: { "upstash-signature": token } }))
        .status,
      200,
    );
    const none = await call(`${base}/tick`);
    assert.equal(none.status, 401);
    assert.match(none.body.error, /Skiff-Signature/);
  } finally {
    await close();
  }
});

Deno.test("workerApp: a cronSecret shorter than 16 characters or malformed qstash keys fail at creation, quoting neither", () => {
  assert.throws(() => workerApp({ cronSecret: "short" }), (error: Error) => {
    assert(error instanceof TypeError);
    assert.match(error.message, /'cronSecret' must be a string of at least 16 characters/);
    assert.doesNotMatch(error.message, /short/);
    return true;
  });
  assert.throws(
    () => workerApp({ qstash: { currentSigningKey: "" } }),
    /'qstash' must be \{ currentSigningKey, nextSigningKey\? \}/,
  );
  for (
    const origin of ["https://app.example.com/skiff", "ftp://app.example.com", "app.example.com", 1]
  ) {
    assert.throws(
      () => workerApp({ qstash: { currentSigningKey: CURRENT, origin: origin as string } }),
      /'qstash.origin' must be an http\(s\) origin such as https:\/\/app.example.com/,
      String(origin),
    );
  }
});

Deno.test("cost: every refused credential, on /tick (GET and POST) and /messages, costs no Redis command; a bearer tick costs one fewer than a signed one", async () => {
  const DB = 9;
  const url = new URL(testRedisUrl());
  url.pathname = `/${DB}`;
  const token = "tick-auth-token";
  const local = await startLocalServer({ redis: url, token, port: 0, log: () => {} });
  const redis = new Redis({ url: local.url, token, enableTelemetry: false });
  const counter = await CommandCounter.open(testRedisUrl(), DB);
  const namespace = testPrefix("tick-auth").slice(0, -1);
  const broker = new UpstashBroker({ redis, namespace, logger: silentLogger });
  const app = workerApp({
    broker,
    signingKeys: [SKIFF_SECRET],
    cronSecret: CRON_SECRET,
    qstash: { currentSigningKey: CURRENT, nextSigningKey: NEXT },
    tick: { queues: ["cron"] },
  });
  const cost = async (request: () => Response | Promise<Response>, status: number) =>
    total(
      await counter.count(async () => {
        const res = await request();
        assert.equal(res.status, status, await res.clone().text());
        await res.body?.cancel();
      }),
    );
  const tickUrl = "http://worker.example/tick";
  const messagesUrl = "http://worker.example/messages";
  const pushBody = JSON.stringify({ queue: "cron", ids: ["an-id"] });
  try {
    // Warm the scripts up.
    await app.request(tickUrl, { headers: { authorization: `Bearer ${CRON_SECRET}` } });

    const refused: [string, () => Promise<RequestInit & { url?: string }>][] = [
      ["no credential (Vercel's GET without its header)", () => Promise.resolve({})],
      [
        "a wrong bearer on GET",
        () => Promise.resolve({ headers: { authorization: "Bearer wrong" } }),
      ],
      [
        "a wrong bearer on POST",
        () => Promise.resolve({ method: "POST", headers: { authorization: "Bearer wrong" } }),
      ],
      [
        "a bearer without its scheme",
        () => Promise.resolve({ headers: { authorization: CRON_SECRET } }),
      ],
      ["a forged QStash token", async () => ({
        headers: { "upstash-signature": await qstashToken({ url: tickUrl, key: FORGED }) },
      })],
      ["an expired QStash token", async () => ({
        headers: {
          "upstash-signature": await qstashToken({ url: tickUrl, now: Date.now() - 10 * 60_000 }),
        },
      })],
      ["a QStash token for another URL", async () => ({
        headers: { "upstash-signature": await qstashToken({ url: messagesUrl }) },
      })],
      ["a QStash token for another body", async () => ({
        method: "POST",
        headers: {
          "upstash-signature": await qstashToken({ url: tickUrl, body: "{}" }),
          "content-type": "application/json",
        },
        body: JSON.stringify({ queues: ["cron"] }),
      })],
      [
        "a malformed QStash token",
        () => Promise.resolve({ headers: { "upstash-signature": "a.b.c" } }),
      ],
      ["a Skiff-Signature made with another key", async () => ({
        headers: {
          "skiff-signature": await signPush("another-secret-0123456789", {
            method: "GET",
            path: "/tick",
            body: "",
          }),
        },
      })],
      ["a forged QStash push", async () => ({
        url: messagesUrl,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "upstash-signature": await qstashToken({ url: messagesUrl, body: pushBody, key: FORGED }),
        },
        body: pushBody,
      })],
      ["a bearer push (a bearer is for /tick only)", () =>
        Promise.resolve({
          url: messagesUrl,
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${CRON_SECRET}` },
          body: pushBody,
        })],
    ];
    for (const [what, make] of refused) {
      const { url: target = tickUrl, ...init } = await make();
      assert.equal(await cost(() => app.request(target, init), 401), 0, what);
    }

    const bearer = await cost(
      () => app.request(tickUrl, { headers: { authorization: `Bearer ${CRON_SECRET}` } }),
      200,
    );
    const signature = await signPush(SKIFF_SECRET, { method: "GET", path: "/tick", body: "" });
    const signed = await cost(
      () => app.request(tickUrl, { headers: { "skiff-signature": signature } }),
      200,
    );
    const qstash = await qstashToken({ url: tickUrl });
    const viaQstash = await cost(
      () => app.request(tickUrl, { headers: { "upstash-signature": qstash } }),
      200,
    );
    assert(bearer > 0, "a tick reads the queue");
    assert.equal(signed, bearer + 1, "a signature is remembered once: one SET");
    assert.equal(viaQstash, bearer + 1, "a QStash token is remembered once: one SET");
    // A replayed token costs that SET only, and does not tick.
    assert.equal(
      await cost(() => app.request(tickUrl, { headers: { "upstash-signature": qstash } }), 401),
      1,
    );
  } finally {
    await counter.close();
    await local.close();
  }
});

Deno.test("QStash tokens as this suite makes them are what @upstash/qstash's Receiver accepts, and skiff agrees with it on each", async () => {
  const receiver = new Receiver({ currentSigningKey: CURRENT, nextSigningKey: NEXT });
  const url = "https://worker.example/skiff/tick";
  const body = JSON.stringify({ queues: ["default"] });
  const check = (token: string, sent = body) =>
    verifyQstash(token, {
      keys: { currentSigningKey: CURRENT, nextSigningKey: NEXT },
      url,
      body: new TextEncoder().encode(sent),
      now: Date.now(),
    });
  for (const key of [CURRENT, NEXT]) {
    const token = await qstashToken({ url, body, key });
    assert.equal(await receiver.verify({ signature: token, body, url }), true);
    assert.equal((await check(token)).ok, true);
  }
  // What the Receiver refuses, skiff refuses.
  const refused: [string, string][] = [
    [await qstashToken({ url, body, key: FORGED }), /signing keys/.source],
    [await qstashToken({ url, body: "{}" }), /body/.source],
    [await qstashToken({ url, body, now: Date.now() - 10 * 60_000 }), /expired/.source],
    [await qstashToken({ url: "https://worker.example/skiff/messages", body }), /URL/.source],
    [await qstashToken({ url, body, iss: "Someone" }), /Upstash/.source],
  ];
  for (const [token, why] of refused) {
    await assert.rejects(() => receiver.verify({ signature: token, body, url }), why);
    const result = await check(token);
    assert(!result.ok && new RegExp(why).test(result.message), why);
  }
});
