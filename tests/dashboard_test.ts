/**
 * `dashboardApp()` over real HTTP requests (Hono's `app.request`) on an `UpstashBroker`
 * behind the local server: credentials (401 before any Redis command), the CSRF check on
 * actions, requeue and purge checked in Redis, arguments hidden by default, escaping, and
 * no secret in the page. The page in a real browser: `tests/dashboard/browser.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { dashboardApp } from "../src/dashboard/mod.ts";
import { Message } from "../src/message.ts";
import { Scheduler } from "../src/scheduler/scheduler.ts";
import { actor } from "../src/actor.ts";
import { cleanup, restClient, restEnv, testPrefix } from "./_env.ts";
import { silentLogger } from "./broker_conformance.ts";

const PASSWORD = "dashboard-password-never-shown";
const AUTH = { basic: { username: "ops", password: PASSWORD } };
const BASIC = `Basic ${btoa(`ops:${PASSWORD}`)}`;
const ORIGIN = "http://dash.test";

async function setup(
  options: { showArguments?: boolean | ((args: readonly unknown[]) => unknown) } = {},
) {
  const namespace = testPrefix("dashboard").slice(0, -1);
  const broker = new UpstashBroker({ redis: restClient(), namespace, logger: silentLogger });
  const queue = "emails";
  const secret = `secret-argument-${crypto.randomUUID()}`;
  const make = (args: unknown[]) => new Message({ queue, actor: "send-mail", args });
  await broker.enqueue([make([secret, { to: "a@example.com" }]), make(["<b>x</b>"]), make(["c"])]);
  const claims = await broker.claim(queue, { count: 3 });
  await broker.nack(queue, claims[0], { kind: "dead", reason: "SmtpError: mailbox full" });
  await broker.nack(queue, claims[1], { kind: "dead", reason: "<script>alert(1)</script>" });
  const task = actor(`dash-${crypto.randomUUID()}`, () => {}, { queue, broker });
  const scheduler = new Scheduler({ broker }).schedule(
    `dash-nightly-${namespace}`,
    "0 2 * * *",
    task.message(),
  );
  const app = new Hono().route(
    "/ops",
    dashboardApp({ broker, auth: AUTH, queues: [queue, "other"], scheduler, ...options }),
  );
  const request = (path: string, init: RequestInit = {}) =>
    app.request(`${ORIGIN}${path}`, {
      ...init,
      headers: { authorization: BASIC, ...(init.headers as Record<string, string>) },
    });
  const post = (
    path: string,
    fields: Record<string, string>,
    headers: Record<string, string> = { origin: ORIGIN },
  ) =>
    request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  return {
    broker,
    queue,
    secret,
    dead: [claims[0].id, claims[1].id],
    leased: claims[2].id,
    app,
    request,
    post,
    done: () => cleanup(restClient(), `${namespace}:`),
  };
}

Deno.test("dashboard: refuses to be created without credentials, or with short secrets", () => {
  for (
    const auth of [
      undefined,
      {},
      { basic: { username: "ops", password: "short" } },
      { basic: { username: "o:ps", password: PASSWORD } },
      { bearer: "short" },
    ]
  ) {
    assert.throws(
      () => dashboardApp({ auth: auth as never }),
      /^TypeError: Cannot create dashboard: 'auth' must be/,
      JSON.stringify(auth),
    );
  }
  assert.throws(() => dashboardApp({ auth: AUTH, limit: 0 }), RangeError);
  assert.throws(
    () => dashboardApp({ auth: AUTH, throughputMinutes: 61 }),
    /'throughputMinutes' must be an integer from 1 to 60, received 61/,
  );
  assert.throws(() => dashboardApp({ auth: AUTH, queues: ["bad name"] }), TypeError);
});

Deno.test("dashboard: no or wrong credentials get 401 (basic asks the browser), bearer and verify work", async () => {
  const app = dashboardApp({
    auth: AUTH,
    queues: ["q"],
    broker: new UpstashBroker({ redis: restClient() }),
  });
  const none = await app.request("/");
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate") ?? "", /^Basic realm="skiff"/);
  const wrong = await app.request("/", {
    headers: { authorization: `Basic ${btoa("ops:wrong-password-16ch")}` },
  });
  assert.equal(wrong.status, 401);
  const post = await app.request("/requeue", { method: "POST" });
  assert.equal(post.status, 401);
  assert.ok(!(await wrong.text()).includes(PASSWORD));

  const token = "a-bearer-token-of-some-length";
  const bearer = dashboardApp({
    auth: { bearer: token },
    queues: ["q"],
    broker: new UpstashBroker({ redis: restClient() }),
  });
  assert.equal((await bearer.request("/")).status, 401);
  assert.equal(
    (await bearer.request("/", { headers: { authorization: `Bearer ${token}x` } })).status,
    401,
  );
  const ok = await bearer.request("/", { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.ok(!(await ok.text()).includes(token), "the token is in the page");

  const verify = dashboardApp({
    auth: { verify: (request) => request.headers.get("x-signed") === "yes" },
    queues: ["q"],
    broker: new UpstashBroker({ redis: restClient() }),
  });
  assert.equal((await verify.request("/")).status, 401);
  assert.equal((await verify.request("/", { headers: { "x-signed": "yes" } })).status, 200);
});

Deno.test("dashboard: the page shows counts, in-flight messages with attempt, dead letters with reason, schedules", async () => {
  const t = await setup();
  try {
    const res = await t.request("/ops");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const html = await res.text();
    assert.match(
      html,
      /<td><a href="#q-emails">emails<\/a><\/td><td class="n">0<\/td><td class="n">0<\/td><td class="n">1<\/td><td class="n bad">2<\/td>/,
    );
    assert.match(
      html,
      new RegExp(`<code>${t.leased}</code></td><td>send-mail</td><td class="n">1</td>`),
    );
    assert.match(html, /SmtpError: mailbox full/);
    assert.ok(html.includes("&#60;script&#62;alert(1)&#60;/script&#62;"), "the reason is escaped");
    assert.ok(!html.includes("<script>"), "a script in the page");
    assert.ok(!html.includes(t.secret), "arguments shown by default");
    assert.match(html, /2 hidden/);
    assert.match(html, /dash-nightly-.*<code>0 2 \* \* \*<\/code>/);
    assert.ok(html.includes('action="/ops/requeue"'), "actions below the mount point");
    for (const secret of [PASSWORD, restEnv().token]) assert.ok(!html.includes(secret));
    assert.equal((await t.request("/ops/")).status, 200, "the mount point with a slash");
    assert.equal((await t.request("/ops/elsewhere")).status, 404);
  } finally {
    await t.done();
  }
});

Deno.test("dashboard: showArguments true shows them, a function masks them", async () => {
  const shown = await setup({ showArguments: true });
  const masked = await setup({ showArguments: (args) => args.map(() => "***") });
  try {
    assert.ok((await (await shown.request("/ops/")).text()).includes(shown.secret));
    const html = await (await masked.request("/ops")).text();
    assert.ok(!html.includes(masked.secret));
    assert.ok(html.includes("[&#34;***&#34;,&#34;***&#34;]"));
  } finally {
    await shown.done();
    await masked.done();
  }
});

Deno.test("dashboard: actions from another origin or with none are refused (403), from the page they run", async () => {
  const t = await setup();
  try {
    const fields = { queue: t.queue, id: t.dead[0] };
    for (
      const headers of <Record<string, string>[]> [
        {},
        { origin: "https://evil.example" },
        { origin: ORIGIN, "sec-fetch-site": "cross-site" },
      ]
    ) {
      const res = await t.post("/ops/requeue", fields, headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
    }
    assert.deepEqual(await t.broker.state(t.queue, t.dead), ["dead", "dead"], "nothing changed");
    assert.equal((await t.post("/ops/requeue", { queue: "not-shown", id: "x" })).status, 400);
    assert.equal(
      (await t.post("/ops/purge", { queue: t.queue, all: "1" })).status,
      400,
      "no confirm",
    );

    const requeued = await t.post("/ops/requeue", fields, {
      origin: ORIGIN,
      "sec-fetch-site": "same-origin",
    });
    assert.equal(requeued.status, 303);
    assert.equal(
      requeued.headers.get("location"),
      "/ops/?note=Requeued%201%20dead%20letter%20of%20emails",
    );
    assert.deepEqual(await t.broker.state(t.queue, t.dead), ["ready", "dead"]);
    const note = await (await t.request(requeued.headers.get("location")!)).text();
    assert.match(note, /<p class="note" id="note">Requeued 1 dead letter of emails<\/p>/);
    const spoof = await (await t.request("/ops/?note=Call%20this%20number")).text();
    assert.ok(!spoof.includes("Call this number"), "a note the dashboard did not write");

    const purged = await t.post("/ops/purge", { queue: t.queue, all: "1", confirm: "1" });
    assert.equal(purged.status, 303);
    assert.deepEqual(await t.broker.state(t.queue, t.dead), ["ready", "missing"]);
  } finally {
    await t.done();
  }
});

Deno.test("dashboard: given a broker that counts throughput and a known workload, then each queue shows its processed per minute and a bar per minute; without the option, a hint", async () => {
  const namespace = testPrefix("dashboard-throughput").slice(0, -1);
  let time = 1_700_000_000_000;
  const options = { redis: restClient(), namespace, logger: silentLogger, now: () => time };
  const broker = new UpstashBroker({ ...options, throughput: true });
  const make = () => new Message({ queue: "busy", actor: "task", args: [] });
  try {
    // Two minutes ago 6 acked; a minute ago 2 acked, 1 retried, 1 dead; nothing since.
    await broker.enqueue(Array.from({ length: 10 }, make));
    const claims = await broker.claim("busy", { count: 10, leaseMs: 600_000 });
    time -= 120_000;
    await broker.ack("busy", claims.slice(0, 6));
    time += 60_000;
    await broker.ack("busy", claims.slice(6, 8));
    await broker.nack("busy", claims[8], { kind: "retry", at: time });
    await broker.nack("busy", claims[9], { kind: "dead", reason: "x" });
    time += 60_000;
    const page = async (b: UpstashBroker) => {
      const app = dashboardApp({ broker: b, auth: AUTH, queues: ["busy", "idle"] });
      const res = await app.request("/", { headers: { authorization: BASIC } });
      assert.equal(res.status, 200);
      return await res.text();
    };
    const counted = await page(broker);
    const row = (queue: string) =>
      new RegExp(`<a href="#q-${queue}">${queue}</a>.*?</tr>`).exec(counted)?.[0] ?? "";
    // 9 processed (8 acked, 1 dead) in 15 minutes: 0.6 per minute.
    assert.match(
      row("busy"),
      /<span class="rate">0\.6\/min<\/span> <span class="muted">\(9 in 15 min\)/,
    );
    const bars = [
      ...row("busy").matchAll(/<i( class="bad")? style="height:(\d+)%" title="([^"]*)"/g),
    ];
    assert.equal(bars.length, 15);
    assert.deepEqual(bars.slice(-3).map(([, bad, height]) => [Boolean(bad), Number(height)]), [
      [false, 100],
      [true, 50],
      [false, 0],
    ]);
    assert.match(bars[13][3], /: 2 acked, 1 dead, 1 retried$/);
    assert.match(
      row("idle"),
      /<span class="rate">0\/min<\/span> <span class="muted">\(0 in 15 min\)/,
    );
    const plain = await page(new UpstashBroker(options));
    assert.match(plain, /enable metrics to see throughput/);
    assert.doesNotMatch(plain, /class="spark"/);
  } finally {
    await cleanup(restClient(), `${namespace}:`);
  }
});
