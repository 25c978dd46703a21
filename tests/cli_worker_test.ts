import assert from "node:assert/strict";
import { EXIT, main } from "../src/cli/mod.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { actor, Message } from "../mod.ts";
import { cleanup, restClient, restEnv, testPrefix } from "./_env.ts";
import { closedPort, spawnCli, writeTree } from "./fixtures/cli_process.ts";

// The fixture reads its queue when imported: one queue of its own for this file's run.
const queue = `fixture-${crypto.randomUUID().slice(0, 8)}`;
Deno.env.set("SKIFF_FIXTURE_QUEUE", queue);
const { slowRecord } = await import("./fixtures/worker_app.ts");

function capture() {
  const err: string[] = [];
  return { err, io: { out: () => {}, err: (line: string) => err.push(line) } };
}

Deno.test("cli worker: no module, a missing module or a broken one exits 2", async () => {
  for (
    const [args, pattern] of [
      [[], /name at least one module/],
      [
        ["tests/fixtures/does_not_exist.ts"],
        /Cannot find module 'tests\/fixtures\/does_not_exist.ts'/,
      ],
      [["tests/fixtures/broken_module.ts"], /broken on purpose/],
      [["tests/fixtures/worker_app.ts", "--concurrency", "0"], /'--concurrency' must be/],
      [
        ["tests/fixtures/worker_app.ts", "--log-format", "xml"],
        /'--log-format' must be text or json, received 'xml'/,
      ],
    ] as const
  ) {
    const { err, io } = capture();
    assert.equal(await main(["worker", ...args], io), EXIT.USAGE, args.join(" "));
    assert.match(err[0], pattern);
  }
});

function spawnWorker(env: Record<string, string>, ...args: string[]): Deno.ChildProcess {
  return spawnCli(["worker", "tests/fixtures/worker_app.ts", ...args], { env });
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

Deno.test("cli worker: exits 3 with one line when Redis cannot be reached", async () => {
  const child = spawnWorker({
    UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${closedPort()}`,
    UPSTASH_REDIS_REST_TOKEN: "secret-token-never-printed",
  });
  const [status, out, err] = await Promise.all([
    child.status,
    text(child.stdout),
    text(child.stderr),
  ]);
  assert.equal(status.code, EXIT.UNREACHABLE);
  assert.equal(out, "");
  const lines = err.trim().split("\n");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^skiff worker: Cannot connect to Redis at 127\.0\.0\.1:\d+: /);
  assert.ok(!err.includes("secret-token-never-printed"));
});

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await check()); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

Deno.test("cli worker: SIGTERM lets the message in flight finish, then exits 0", async () => {
  const redis = restClient();
  const prefix = testPrefix("cli-worker");
  const child = spawnWorker(
    { ...fixtureEnv(), SKIFF_FIXTURE_PREFIX: prefix, SKIFF_FIXTURE_QUEUE: queue },
    "--shutdown-timeout",
    "10000",
    "--prefetch",
    "8",
  );
  const output = text(child.stdout);
  try {
    const broker = new UpstashBroker({ redis });
    await broker.enqueue([slowRecord.message("a", 400)]);
    await until(async () => (await redis.llen(`${prefix}started`)) === 1);
    child.kill("SIGTERM");
    assert.equal((await child.status).code, EXIT.OK);
    assert.deepEqual(await redis.lrange(`${prefix}finished`, 0, -1), ["a"]);
    assert.match(
      await output,
      /consuming fixture-\w+ \(1 actor\(s\)\) with concurrency 8 \(Redis at [\w.:]+\)[\s\S]*stopped/,
    );
    assert.deepEqual(await broker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
  } finally {
    await child.stderr.cancel();
    await cleanup(redis, prefix);
    await cleanup(redis, `skiff:{${queue}}`);
  }
});

Deno.test("cli worker: --log-format json writes every line as a JSON object with fields, never the arguments", async () => {
  const redis = restClient();
  const prefix = testPrefix("cli-worker-json");
  const child = spawnWorker(
    { ...fixtureEnv(), SKIFF_FIXTURE_PREFIX: prefix, SKIFF_FIXTURE_QUEUE: queue },
    "--log-format",
    "json",
  );
  const output = text(child.stdout);
  try {
    // Given a message of an actor no module declares, holding a secret argument
    const broker = new UpstashBroker({ redis });
    const stray = new Message({ queue, actor: "nobody-declared-this", args: ["secret-arg-42"] });
    await broker.enqueue([stray, slowRecord.message("j", 0)]);
    await until(async () =>
      (await redis.llen(`${prefix}finished`)) === 1 && (await broker.stats(queue)).dead === 1
    );
    child.kill("SIGTERM");
    assert.equal((await child.status).code, EXIT.OK);
    // Then every line is JSON; the dead letter's carries its fields
    const lines = (await output).trim().split("\n").map((line) => JSON.parse(line));
    assert.match(lines[0].msg, /^consuming fixture-\w+ \(1 actor\(s\)\)/);
    assert.equal(lines[0].level, "info");
    const dead = lines.find((line) => line.outcome === "dead");
    assert.deepEqual(
      {
        level: dead.level,
        id: dead.id,
        actor: dead.actor,
        queue: dead.queue,
        attempt: dead.attempt,
      },
      { level: "error", id: stray.id, actor: "nobody-declared-this", queue, attempt: 1 },
    );
    assert.equal(lines.at(-1).msg, "stopped");
    assert(!(await output).includes("secret-arg-42"));
  } finally {
    await child.stderr.cancel();
    await cleanup(redis, prefix);
    await cleanup(redis, `skiff:{${queue}}`);
  }
});

Deno.test("cli worker: one Ctrl-C delivered twice at once stops gracefully, exit 0", async () => {
  const redis = restClient();
  const prefix = testPrefix("cli-worker-dup");
  const child = spawnWorker({
    ...fixtureEnv(),
    SKIFF_FIXTURE_PREFIX: prefix,
    SKIFF_FIXTURE_QUEUE: queue,
  });
  try {
    const broker = new UpstashBroker({ redis });
    await broker.enqueue([slowRecord.message("dup", 1_000)]);
    await until(async () => (await redis.llen(`${prefix}started`)) === 1);
    // As `bun run` forwards the SIGINT the terminal also sent to the process group.
    child.kill("SIGINT");
    child.kill("SIGINT");
    assert.equal((await child.status).code, EXIT.OK);
    assert.deepEqual(await redis.lrange(`${prefix}finished`, 0, -1), ["dup"]);
  } finally {
    await child.stdout.cancel();
    await child.stderr.cancel();
    await cleanup(redis, prefix);
    await cleanup(redis, `skiff:{${queue}}`);
  }
});

Deno.test("cli worker: the ./cli export runs a module that sets its broker, on its own queue", async () => {
  // Given a module that declares an actor on a non-default queue and calls setBroker(),
  // and a worker process whose environment names no Redis
  const { url, token } = restEnv();
  const redis = restClient();
  const prefix = testPrefix("cli-worker-own");
  const emails = `emails-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await writeTree({
    "actors.ts": `import { Redis } from "@upstash/redis";
import { actor, setBroker, UpstashBroker } from "{{skiff}}";
const redis = new Redis({ url: "${url}", token: "${token}", enableTelemetry: false });
setBroker(new UpstashBroker({ redis }));
export const add = actor("cli-own-add", async (a: number, b: number) => {
  await redis.rpush("${prefix}sums", a + b);
}, { queue: "${emails}" });
`,
  });
  const child = spawnCli(["worker", "actors.ts"], { cwd: dir });
  const output = text(child.stdout);
  try {
    // When another process sends a message to it
    const add = actor("cli-own-add", (_a: number, _b: number) => {}, { queue: emails });
    await new UpstashBroker({ redis }).enqueue([add.message(2, 3)]);
    await until(async () => (await redis.llen(`${prefix}sums`)) === 1);
    child.kill("SIGINT");
    // Then the worker ran it once on the module's broker, and stops cleanly
    assert.equal((await child.status).code, EXIT.OK);
    assert.deepEqual(await redis.lrange(`${prefix}sums`, 0, -1), [5]);
    assert.match(
      await output,
      new RegExp(
        `consuming ${emails} \\(1 actor\\(s\\)\\) with concurrency 8 \\(UpstashBroker set by a module\\)`,
      ),
    );
  } finally {
    await child.stderr.cancel();
    await cleanup(redis, prefix);
    await cleanup(redis, `skiff:{${emails}}`);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli worker: a dead letter's log line carries its reason: an unknown actor, invalid arguments", async () => {
  // Given a worker on a module whose actor checks its arguments
  const { url, token } = restEnv();
  const redis = restClient();
  const jobs = `dead-reason-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await writeTree({
    "actors.ts": `import * as v from "valibot";
import { actor } from "{{skiff}}";
actor("strict", (_n: number) => {}, { queue: "${jobs}", args: v.tuple([v.number()]) });
`,
  });
  const child = spawnCli(["worker", "actors.ts", "--log-format", "json"], {
    cwd: dir,
    env: { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token },
  });
  const output = text(child.stdout);
  try {
    // When another process sends a message to an actor nobody declared, and one whose
    // argument is not a number
    const broker = new UpstashBroker({ redis });
    await broker.enqueue([
      new Message({ queue: jobs, actor: "nobody", args: [] }),
      new Message({ queue: jobs, actor: "strict", args: ["one"] }),
    ]);
    await until(async () => (await broker.stats(jobs)).dead === 2);
    child.kill("SIGTERM");
    assert.equal((await child.status).code, EXIT.OK);
    // Then each dead letter's line names the actor and says why, as the stored reason does
    const dead = (await output).trim().split("\n").map((line) => JSON.parse(line))
      .filter((line) => line.outcome === "dead");
    assert.deepEqual(dead.map((line) => [line.level, line.actor]).sort(), [
      ["error", "nobody"],
      ["error", "strict"],
    ]);
    const message = (actor: string) => dead.find((line) => line.actor === actor).msg;
    assert.match(message("nobody"), /no actor named 'nobody' is declared/);
    assert.match(message("strict"), /argument/i);
    const reasons = (await broker.deadLetters(jobs)).map((d) => d.reason);
    for (const reason of reasons) {
      assert.ok(dead.some((line) => line.msg.includes(reason)), `${reason} is not logged`);
    }
    assert.ok(!(await output).includes('"one"'), "the arguments are logged");
  } finally {
    await child.stderr.cancel();
    await cleanup(redis, `skiff:{${jobs}}`);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli worker: a second signal exits at once with 130", async () => {
  const redis = restClient();
  const prefix = testPrefix("cli-worker2");
  const child = spawnWorker({
    ...fixtureEnv(),
    SKIFF_FIXTURE_PREFIX: prefix,
    SKIFF_FIXTURE_QUEUE: queue,
  });
  try {
    const broker = new UpstashBroker({ redis });
    await broker.enqueue([slowRecord.message("slow", 60_000)]);
    await until(async () => (await redis.llen(`${prefix}started`)) === 1);
    child.kill("SIGTERM");
    // A signal within 250 ms of the first is the same keypress: wait past that window.
    await new Promise((resolve) => setTimeout(resolve, 400));
    child.kill("SIGTERM");
    assert.equal((await child.status).code, EXIT.INTERRUPTED);
    assert.equal(await redis.llen(`${prefix}finished`), 0);
  } finally {
    await child.stdout.cancel();
    await child.stderr.cancel();
    await cleanup(redis, prefix);
    await cleanup(redis, `skiff:{${queue}}`);
    await cleanup(redis, `skiff:{${queue}}`);
  }
});

function fixtureEnv(): Record<string, string> {
  const { url, token } = restEnv();
  return { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token };
}
