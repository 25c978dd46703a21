/**
 * The operations commands (`skiff stats`, `skiff dead`, `skiff schedules`) from real
 * processes against the local server: counts, dead letters with their reason, requeue and
 * purge checked in Redis, schedules' last and next slots, help and exit codes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { EXIT } from "../src/cli/mod.ts";
import { Message } from "../src/message.ts";
import { Scheduler } from "../src/scheduler/scheduler.ts";
import { actor } from "../src/actor.ts";
import { restClient, restEnv } from "./_env.ts";
import { silentLogger } from "./broker_conformance.ts";
import { closedPort, runCli, writeTree } from "./fixtures/cli_process.ts";

const env = () => {
  const { url, token } = restEnv();
  return { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token };
};

/** A broker on the local server, in the namespace the CLI uses (the default). */
const broker = () => new UpstashBroker({ redis: restClient(), logger: silentLogger });

/** A queue of its own: ready 2, delayed 1, leased 1, dead 2 (reasons known). */
async function seed(queue: string): Promise<{ dead: string[]; secret: string }> {
  const b = broker();
  const secret = `secret-argument-${crypto.randomUUID()}`;
  const make = (args: unknown[], options: { delay?: number } = {}) =>
    new Message({ queue, actor: "ops.send-mail", args, ...options });
  await b.enqueue([make([secret]), make([secret]), make(["c"])]);
  const claims = await b.claim(queue, { count: 3 });
  await b.enqueue([make(["a"]), make(["b"])]);
  await b.nack(queue, claims[0], { kind: "dead", reason: "TypeError: mailbox full" });
  await b.nack(queue, claims[1], { kind: "dead", reason: "Error: no such user" });
  await b.enqueue([make(["later"], { delay: 3_600_000 })]);
  return { dead: [claims[0].id, claims[1].id], secret };
}

Deno.test("cli ops: stats counts each queue's messages by state, as a table and as JSON", async () => {
  const queue = `ops-stats-${crypto.randomUUID().slice(0, 8)}`;
  const empty = `ops-empty-${crypto.randomUUID().slice(0, 8)}`;
  await seed(queue);
  const json = await runCli(["stats", "--queues", `${queue},${empty}`, "--json"], { env: env() });
  assert.equal(json.code, EXIT.OK, json.err);
  assert.deepEqual(JSON.parse(json.out), [
    { queue, ready: 2, delayed: 1, leased: 1, dead: 2 },
    { queue: empty, ready: 0, delayed: 0, leased: 0, dead: 0 },
  ]);
  const text = await runCli(["stats", "--queues", queue], { env: env() });
  assert.equal(text.code, EXIT.OK, text.err);
  const lines = text.out.trim().split("\n");
  assert.match(lines[0], /^queue\s+ready\s+delayed\s+leased\s+dead$/);
  assert.match(lines[1], new RegExp(`^${queue}\\s+2\\s+1\\s+1\\s+2$`));
});

Deno.test("cli ops: SKIFF_NAMESPACE sets the key prefix of the broker made from the environment", async () => {
  const queue = `ops-ns-${crypto.randomUUID().slice(0, 8)}`;
  const namespace = `tenant-${crypto.randomUUID().slice(0, 8)}`;
  const own = new UpstashBroker({ redis: restClient(), namespace, logger: silentLogger });
  await own.enqueue([new Message({ queue, actor: "ops.ns", args: [] })]);
  const counts = async (extra: Record<string, string>) => {
    const result = await runCli(["stats", "--queues", queue, "--json"], {
      env: { ...env(), ...extra },
    });
    assert.equal(result.code, EXIT.OK, result.err);
    return JSON.parse(result.out)[0].ready;
  };
  assert.equal(await counts({ SKIFF_NAMESPACE: namespace }), 1);
  assert.equal(await counts({}), 0, "the default prefix is another keyspace");
  const bad = await runCli(["stats", "--queues", queue], {
    env: { ...env(), SKIFF_NAMESPACE: "has space" },
  });
  assert.equal(bad.code, EXIT.USAGE);
  assert.match(bad.err, /SKIFF_NAMESPACE: 'namespace' must be/);
});

Deno.test("cli ops: stats reads the queues from the modules given", async () => {
  const queue = `ops-mod-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await writeTree({
    "tasks.ts":
      `import { actor } from "{{skiff}}";\nactor("ops.mod", () => {}, { queue: "${queue}" });\n`,
  });
  await broker().enqueue([new Message({ queue, actor: "ops.mod", args: [] })]);
  const result = await runCli(["stats", `${dir}/tasks.ts`, "--json"], { env: env() });
  assert.equal(result.code, EXIT.OK, result.err);
  assert.deepEqual(JSON.parse(result.out), [{ queue, ready: 1, delayed: 0, leased: 0, dead: 0 }]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli ops: dead list and show give the stored reason; arguments stay hidden unless asked", async () => {
  const queue = `ops-dead-${crypto.randomUUID().slice(0, 8)}`;
  const { dead, secret } = await seed(queue);
  const list = await runCli(["dead", "list", "--queues", queue], { env: env() });
  assert.equal(list.code, EXIT.OK, list.err);
  const lines = list.out.trim().split("\n");
  assert.equal(lines.length, 3, list.out);
  assert.match(
    lines[1],
    new RegExp(`${dead[0]}\\s+ops\\.send-mail\\s+\\S+Z\\s+TypeError: mailbox full$`),
  );
  assert.match(lines[2], /Error: no such user$/);
  assert.ok(!list.out.includes(secret), "list prints arguments");

  const json = JSON.parse(
    (await runCli(["dead", "list", "--queues", queue, "--json"], { env: env() })).out,
  );
  assert.deepEqual(json.map((l: { id: string; reason: string }) => [l.id, l.reason]), [
    [dead[0], "TypeError: mailbox full"],
    [dead[1], "Error: no such user"],
  ]);

  const show = await runCli(["dead", "show", "--id", dead[1], "--queues", queue], { env: env() });
  assert.equal(show.code, EXIT.OK, show.err);
  assert.match(show.out, /^reason: Error: no such user$/m);
  assert.match(show.out, /^arguments: 1 \(hidden\)$/m);
  assert.ok(!show.out.includes(secret), "show prints arguments without --arguments");
  const shown = await runCli(
    ["dead", "show", "--id", dead[1], "--queues", queue, "--arguments", "--json"],
    { env: env() },
  );
  assert.deepEqual(JSON.parse(shown.out).arguments, [secret]);

  const unknown = await runCli(["dead", "show", "--id", "nope", "--queues", queue], { env: env() });
  assert.equal(unknown.code, EXIT.USAGE);
  assert.match(unknown.err, /^skiff dead: 'nope' is not a dead letter of ops-dead-/);
});

Deno.test("cli ops: dead requeue by id moves it back to ready; --all needs --yes; purge --all deletes", async () => {
  const queue = `ops-requeue-${crypto.randomUUID().slice(0, 8)}`;
  const { dead } = await seed(queue);
  const b = broker();
  const one = await runCli(["dead", "requeue", "--id", dead[0], "--queues", queue], { env: env() });
  assert.equal(one.code, EXIT.OK, one.err);
  assert.match(
    one.out,
    new RegExp(`^skiff dead: requeued 1 dead letter\\(s\\) \\(${queue}: 1\\)$`, "m"),
  );
  assert.deepEqual(await b.state(queue, dead), ["ready", "dead"]);

  const again = await runCli(["dead", "requeue", "--id", dead[0], "--queues", queue], {
    env: env(),
  });
  assert.equal(again.code, EXIT.USAGE, "an id that is no longer dead");
  assert.match(again.err.trim(), new RegExp(`not a dead letter of ${queue}: ${dead[0]}$`));

  for (const action of ["requeue", "purge"]) {
    const unconfirmed = await runCli(["dead", action, "--all", "--queues", queue], { env: env() });
    assert.equal(unconfirmed.code, EXIT.USAGE, action);
    assert.match(unconfirmed.err.trim(), /'--all' .* add --yes to confirm$/);
  }
  assert.equal((await b.stats(queue)).dead, 1, "nothing changed without --yes");

  const purged = await runCli(["dead", "purge", "--all", "--yes", "--queues", queue, "--json"], {
    env: env(),
  });
  assert.equal(purged.code, EXIT.OK, purged.err);
  assert.deepEqual(JSON.parse(purged.out), { purged: { [queue]: 1 }, missing: [] });
  assert.deepEqual(await b.state(queue, dead), ["ready", "missing"]);
});

Deno.test("cli ops: dead requeue --all --yes requeues every dead letter", async () => {
  const queue = `ops-all-${crypto.randomUUID().slice(0, 8)}`;
  const { dead } = await seed(queue);
  const result = await runCli(["dead", "requeue", "--all", "--yes", "--queues", queue], {
    env: env(),
  });
  assert.equal(result.code, EXIT.OK, result.err);
  assert.deepEqual(await broker().state(queue, dead), ["ready", "ready"]);
  assert.deepEqual(await broker().stats(queue), { ready: 4, delayed: 1, leased: 1, dead: 0 });
});

Deno.test("cli ops: schedules shows each schedule's last slot from Redis and its next", async () => {
  const name = `ops-nightly-${crypto.randomUUID().slice(0, 8)}`;
  const never = `ops-never-${crypto.randomUUID().slice(0, 8)}`;
  const queue = `ops-sched-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await writeTree({
    "schedules.ts": `import { actor, Scheduler } from "{{skiff}}";
const report = actor("ops.report", () => {}, { queue: "${queue}" });
export const scheduler = new Scheduler()
  .schedule("${name}", "0 2 * * *", report.message())
  .schedule("${never}", "0 3 * * *", report.message(), { timezone: "Europe/Berlin" });
`,
  });
  // A tick of the same schedule, as a deployed scheduler makes it, just after a slot.
  const report = actor(`ops.report-${crypto.randomUUID()}`, () => {}, { queue });
  const slot = Date.now() - (Date.now() % 86_400_000) - 86_400_000 + 2 * 3_600_000;
  const tick = new Scheduler({ broker: broker() }).schedule(name, "0 2 * * *", report.message());
  const fired = await tick.tick(slot + 1_000);
  assert.equal(fired.fired.length, 1);

  const result = await runCli(["schedules", `${dir}/schedules.ts`, "--json"], { env: env() });
  assert.equal(result.code, EXIT.OK, result.err);
  const rows = JSON.parse(result.out);
  assert.equal(rows.length, 2);
  assert.deepEqual(
    { ...rows[0], next: undefined },
    {
      name,
      cron: "0 2 * * *",
      timezone: "UTC",
      actor: "ops.report",
      queue,
      last: slot,
      lastId: fired.fired[0].id,
      next: undefined,
    },
  );
  assert.ok(rows[0].next > Date.now() && rows[0].next % 86_400_000 === 2 * 3_600_000);
  assert.equal(rows[1].last, null);
  assert.equal(rows[1].timezone, "Europe/Berlin");

  const text = await runCli(["schedules", `${dir}/schedules.ts`], { env: env() });
  const lines = text.out.trim().split("\n");
  assert.match(lines[0], /^schedule\s+cron\s+zone\s+actor@queue\s+last\s+next$/);
  assert.ok(lines[1].includes(new Date(slot).toISOString()), lines[1]);
  assert.match(lines[2], /Europe\/Berlin\s+ops\.report@\S+\s+-\s+\d{4}-/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli ops: --help for each command, bad arguments exit 2, an unreachable Redis exits 3", async () => {
  for (
    const [args, pattern] of [
      [["stats", "--help"], /^skiff stats: [\s\S]*--queues[\s\S]*--json/],
      [["dead", "--help"], /^skiff dead: [\s\S]*requeue[\s\S]*--yes/],
      [["dead", "requeue", "-h"], /^skiff dead: /],
      [["help", "schedules"], /^skiff schedules: [\s\S]*last/],
      [["dashboard", "--help"], /^skiff dashboard: [\s\S]*SKIFF_DASHBOARD_PASSWORD/],
      [["worker", "--help"], /--metrics-port/],
      [["--help"], /stats \[module\.\.\.\][\s\S]*dead <action>[\s\S]*schedules <module/],
    ] as const
  ) {
    const result = await runCli([...args]);
    assert.equal(result.code, EXIT.OK, args.join(" "));
    assert.match(result.out, pattern, args.join(" "));
  }
  const usage: [string[], RegExp][] = [
    [["stats"], /^skiff stats: No queue to look at: name them with --queues/],
    [["stats", "--queues", "bad name"], /invalid queue name 'bad name'/],
    [["stats", "--bogus"], /^skiff stats: Unknown option '--bogus'/],
    [["dead"], /^skiff dead: name an action: list, show, requeue, purge/],
    [["dead", "frob"], /^skiff dead: unknown action 'frob'/],
    [["dead", "show", "--queues", "q"], /needs exactly one --id/],
    [["dead", "purge", "--queues", "q"], /needs --id <id> \(repeatable\) or --all, not both/],
    [["dead", "list", "--queues", "q", "--limit", "0"], /'--limit' must be an integer/],
    [["schedules"], /^skiff schedules: name at least one module/],
    [
      ["dashboard", "--queues", "q"],
      /^skiff dashboard: set SKIFF_DASHBOARD_PASSWORD to a password/,
    ],
  ];
  for (const [args, pattern] of usage) {
    const result = await runCli(args, { env: env() });
    assert.equal(result.code, EXIT.USAGE, `${args.join(" ")}: ${result.err}`);
    assert.match(result.err.trim(), pattern, args.join(" "));
  }
  const noBroker = await runCli(["stats", "--queues", "q"]);
  assert.equal(noBroker.code, EXIT.USAGE);
  assert.match(noBroker.err, /No broker configured/);
  const down = await runCli(["dead", "list", "--queues", "q"], {
    env: {
      UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${closedPort()}`,
      UPSTASH_REDIS_REST_TOKEN: "t",
    },
  });
  assert.equal(down.code, EXIT.UNREACHABLE, down.err);
  assert.match(down.err, /^skiff dead: Cannot connect to Redis at 127\.0\.0\.1:\d+/);
});

Deno.test("cli ops: flush needs --yes, then deletes ready, delayed and dead, leaves the leased one, and prints the counts", async () => {
  const queue = `ops-flush-${crypto.randomUUID().slice(0, 8)}`;
  await seed(queue);
  const refused = await runCli(["flush", "--queues", queue], { env: env() });
  assert.equal(refused.code, EXIT.USAGE);
  assert.match(refused.err, /add --yes to confirm/);
  assert.deepEqual(await broker().stats(queue), { ready: 2, delayed: 1, leased: 1, dead: 2 });

  const done = await runCli(["flush", "--queues", queue, "--yes", "--json"], { env: env() });
  assert.equal(done.code, EXIT.OK, done.err);
  assert.deepEqual(JSON.parse(done.out), [{ queue, ready: 2, delayed: 1, dead: 2 }]);
  assert.deepEqual(await broker().stats(queue), { ready: 0, delayed: 0, leased: 1, dead: 0 });

  const text = await runCli(["flush", "--queues", queue, "--yes"], { env: env() });
  assert.equal(text.code, EXIT.OK, text.err);
  assert.match(text.out.trim().split("\n")[1], new RegExp(`^${queue}\\s+0\\s+0\\s+0$`));
  const help = await runCli(["flush", "--help"], { env: env() });
  assert.equal(help.code, EXIT.OK);
  assert.match(help.out, /Usage: skiff flush/);
});
