/**
 * The dashboard in a real headless Chromium, served by `skiff dashboard` as a real process
 * against the local server: the page loads and shows the seeded queues and a dead letter
 * with its reason, and each queue's throughput after a known workload (the seeding broker and
 * the dashboard's count it); its requeue button moves the message back to ready and its purge-all
 * button (once its box is ticked) empties the dead letters, both checked in Redis;
 * requests without credentials get 401. A screenshot is written to `SKIFF_ARTIFACTS`.
 *
 * Not a `*_test.ts` file: it needs Chromium and puppeteer-core, which
 * `scripts/browser_tests.sh` installs and passes in `SKIFF_CHROMIUM` and `SKIFF_PUPPETEER`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { UpstashBroker } from "../../src/brokers/upstash.ts";
import { Message } from "../../src/message.ts";
import { restClient, restEnv } from "../_env.ts";
import { silentLogger } from "../broker_conformance.ts";
import { spawnCli, writeTree } from "../fixtures/cli_process.ts";

/** The little of puppeteer-core this test uses. */
interface Puppeteer {
  launch(options: Record<string, unknown>): Promise<Browser>;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface HttpResponse {
  status(): number;
}
/** The little of the DOM the page functions touch (they run in the browser). */
interface Element {
  textContent: string | null;
  innerHTML: string;
  children: ArrayLike<Element> & Iterable<Element>;
  getAttribute(name: string): string | null;
  querySelector(selector: string): Element | null;
}
interface Page {
  waitForResponse(
    predicate: (response: HttpResponse) => boolean,
    options: { timeout: number },
  ): Promise<HttpResponse>;
  goto(url: string): Promise<HttpResponse | null>;
  authenticate(credentials: { username: string; password: string } | null): Promise<void>;
  $$eval<T>(selector: string, fn: (elements: Element[]) => T): Promise<T>;
  $eval<T>(selector: string, fn: (element: Element) => T): Promise<T>;
  click(selector: string): Promise<void>;
  waitForNavigation(): Promise<unknown>;
  screenshot(options: { path: string; fullPage: boolean }): Promise<unknown>;
  url(): string;
}

function required(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set: run this test with scripts/browser_tests.sh`);
  return value;
}

const PASSWORD = `browser-${crypto.randomUUID()}`;

Deno.test("dashboard in Chromium: shows queues and a dead letter's reason, requeue and purge change Redis, 401 without credentials", async () => {
  const entry =
    pathToFileURL(`${required("SKIFF_PUPPETEER")}/lib/puppeteer/puppeteer-core.js`).href;
  const puppeteer = (await import(entry)).default as Puppeteer;
  const artifacts = required("SKIFF_ARTIFACTS");
  await Deno.mkdir(artifacts, { recursive: true });

  // Seeds: "mail" with 1 ready, 1 leased and 2 dead letters; "reports" with 2 ready, after 3
  // acked. Processed in the last 15 minutes: 2 of "mail" (dead), 3 of "reports".
  const suffix = crypto.randomUUID().slice(0, 8);
  const mail = `browser-mail-${suffix}`;
  const reports = `browser-reports-${suffix}`;
  const broker = new UpstashBroker({ redis: restClient(), logger: silentLogger, throughput: true });
  const make = (queue: string, args: unknown[]) =>
    new Message({ queue, actor: "send-welcome", args });
  await broker.enqueue([make(reports, [-1]), make(reports, [-2]), make(reports, [-3])]);
  assert.deepEqual(await broker.ack(reports, await broker.claim(reports, { count: 3 })), [
    true,
    true,
    true,
  ]);
  await broker.enqueue([
    make(mail, ["ann@example.com"]),
    make(mail, ["bob@example.com"]),
    make(mail, ["cid@example.com"]),
  ]);
  const claims = await broker.claim(mail, { count: 3 });
  await broker.nack(mail, claims[0], { kind: "dead", reason: "SmtpError: mailbox unavailable" });
  await broker.nack(mail, claims[1], { kind: "dead", reason: "TimeoutError: no answer in 30 s" });
  await broker.enqueue([make(mail, ["dee@example.com"]), make(reports, [1]), make(reports, [2])]);
  const dir = await writeTree({
    "schedules.ts": `import { actor, Scheduler } from "{{skiff}}";
const report = actor("nightly-report", () => {}, { queue: "${reports}" });
export const scheduler = new Scheduler().schedule("nightly-${suffix}", "30 2 * * *", report.message());
`,
  });

  const { url, token } = restEnv();
  const server = spawnCli(
    ["dashboard", `${dir}/schedules.ts`, "--queues", `${mail},${reports}`, "--port", "0"],
    {
      env: {
        UPSTASH_REDIS_REST_URL: url,
        UPSTASH_REDIS_REST_TOKEN: token,
        SKIFF_DASHBOARD_PASSWORD: PASSWORD,
        SKIFF_THROUGHPUT: "1",
      },
    },
  );
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let started = "";
  while (!/listening on (\S+)\//.test(started)) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`skiff dashboard did not start: ${started}`);
    started += value;
  }
  const base = /listening on (\S+)\//.exec(started)![1];
  const browser = await puppeteer.launch({
    executablePath: required("SKIFF_CHROMIUM"),
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    // Without credentials: 401, from a plain request and from the browser.
    const plain = await fetch(`${base}/`);
    assert.equal(plain.status, 401);
    await plain.body?.cancel();
    const page = await browser.newPage();
    // Puppeteer emits a response once Chromium's network service has sent its raw headers too,
    // which can come after the navigation has already failed: wait for it.
    const challenge = page.waitForResponse(() => true, { timeout: 30_000 });
    // Chromium, given no credentials to answer the challenge with, ends the navigation.
    await assert.rejects(page.goto(`${base}/`), /ERR_INVALID_AUTH_CREDENTIALS/);
    assert.equal((await challenge).status(), 401);
    const post = await fetch(`${base}/requeue`, { method: "POST", body: new URLSearchParams() });
    assert.equal(post.status, 401);
    await post.body?.cancel();

    await page.authenticate({ username: "skiff", password: PASSWORD });
    assert.equal((await page.goto(`${base}/`))?.status(), 200);
    const counts = await page.$$eval(
      "#queues tr",
      (rows) => rows.slice(1).map((row) => [...row.children].map((cell) => cell.textContent)),
    );
    assert.deepEqual(counts, [
      [mail, "1", "0", "1", "2", "0.1/min (2 in 15 min)"],
      [reports, "2", "0", "0", "0", "0.2/min (3 in 15 min)"],
    ]);
    const bars = await page.$$eval(
      `#queues tr td.tp .spark`,
      (sparks) => sparks.map((spark) => spark.children.length),
    );
    assert.deepEqual(bars, [15, 15]);
    const dead = await page.$$eval(
      `#q-${mail} table.dead tr[data-id]`,
      (rows) =>
        rows.map((row) => [row.getAttribute("data-id"), row.querySelector(".reason")?.textContent]),
    );
    assert.deepEqual(dead, [
      [claims[0].id, "SmtpError: mailbox unavailable"],
      [claims[1].id, "TimeoutError: no answer in 30 s"],
    ]);
    const html = await page.$eval("body", (body) => body.innerHTML);
    assert.ok(!html.includes("ann@example.com"), "arguments are hidden by default");
    assert.ok(!html.includes(PASSWORD) && !html.includes(token), "a secret in the page");
    assert.match(html, new RegExp(`nightly-${suffix}`));
    await page.screenshot({ path: `${artifacts}/dashboard.png`, fullPage: true });

    // Requeue the first dead letter with its button.
    await Promise.all([
      page.waitForNavigation(),
      page.click(`tr[data-id="${claims[0].id}"] form[action$="/requeue"] button`),
    ]);
    assert.match(
      await page.$eval("#note", (note) => note.textContent ?? ""),
      /^Requeued 1 dead letter of /,
    );
    assert.deepEqual(await broker.state(mail, [claims[0].id, claims[1].id]), ["ready", "dead"]);

    // Purge all: the browser does not submit until the box is ticked.
    const purgeAll = `#q-${mail} form[action$="/purge"]:has(input[name="all"])`;
    await page.click(`${purgeAll} button`);
    assert.equal((await broker.stats(mail)).dead, 1, "purged without the box ticked");
    await page.click(`${purgeAll} input[name="confirm"]`);
    await Promise.all([page.waitForNavigation(), page.click(`${purgeAll} button`)]);
    assert.deepEqual(await broker.state(mail, [claims[0].id, claims[1].id]), ["ready", "missing"]);
    assert.deepEqual(await broker.stats(mail), { ready: 2, delayed: 0, leased: 1, dead: 0 });
    await page.screenshot({ path: `${artifacts}/dashboard-after.png`, fullPage: true });
  } finally {
    await browser.close();
    server.kill("SIGTERM");
    await server.status;
    await lines.cancel();
    await server.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});
