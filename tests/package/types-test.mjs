/**
 * Type-check matrix: a user's app, installed from the packed tarball with its own `hono`
 * and `@upstash/redis` at the oldest versions skiff's peer ranges allow and at the versions
 * this repository pins (the latest it is tested with), checked by tsc as an ES module and as
 * CommonJS (`nodenext`), and for a bundler (`bundler`). The app mounts `workerApp()` on its
 * own Hono app and passes its own `Redis` to every Upstash backend. The same app then runs
 * against the local server, so that the oldest versions are known to work, not only to
 * type-check.
 *
 *   node scripts/build.mjs && bash scripts/with_services.sh node --test tests/package/types-test.mjs
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { BIN, cleanEnv, oldest, PKG, project, run } from "./_project.mjs";

/** The app, valid as `.mts` (ESM), `.cts` (CommonJS) and `.ts` (bundler). */
const APP = `
import { Hono } from "hono";
import { Redis } from "@upstash/redis";
import { Redis as CloudflareRedis } from "@upstash/redis/cloudflare";
import {
  actor,
  RedisReplayStore,
  Scheduler,
  setBroker,
  UpstashBroker,
  UpstashRateLimiterBackend,
  UpstashResultBackend,
  UpstashScheduleStore,
  VERSION,
} from "skiff";
import { keepPushes, workerApp } from "skiff/hono";

type Bindings = { SKIFF_SIGNING_KEY: string };
// No @types/node: skiff's declarations must not need it (a Workers app has none).
declare const process: { env: Record<string, string | undefined> };

const redis = new Redis({
  url: process.env.UPSTASH_REDIS_REST_URL ?? "http://127.0.0.1:1",
  token: process.env.UPSTASH_REDIS_REST_TOKEN ?? "none",
  enableTelemetry: false,
});
const queue = process.env.CONSUMER_QUEUE ?? "emails";
export const broker = new UpstashBroker({ redis, namespace: process.env.CONSUMER_NAMESPACE });
setBroker(broker);
export const edge = new UpstashBroker({
  redis: new CloudflareRedis({ url: "http://127.0.0.1:1", token: "none" }),
});
export const results = new UpstashResultBackend({ redis });
export const limits = new UpstashRateLimiterBackend({ redis });
export const schedules = new UpstashScheduleStore({ redis });
export const replays = new RedisReplayStore({ redis });
export const version: string = VERSION;

export const add = actor("add", async (a: number, b: number): Promise<number> => {
  await redis.incrby(queue + ":sum", a + b);
  return a + b;
}, { queue });
export const double = actor("double", async (n: number): Promise<void> => {
  await redis.incrby(queue + ":sum", 2 * n);
}, { queue: queue + "-b" });
export function wrong(): void {
  // @ts-expect-error: add takes numbers.
  add.send("1", 2);
}

export const scheduler = new Scheduler();
scheduler.schedule("add-every-minute", "* * * * *", add.message(2, 3));

const app = new Hono<{ Bindings: Bindings }>();
app.use(keepPushes());
app.route("/skiff", workerApp<{ Bindings: Bindings }>({
  signingKeys: (c) => [c.env.SKIFF_SIGNING_KEY],
}));
export const plain = new Hono().route("/skiff", workerApp());

export async function smoke(): Promise<{ health: number; sum: number | null }> {
  const health = (await plain.request("/skiff/health")).status;
  // Two queues: one request, a pipeline whose answers are read with keepErrors.
  await broker.enqueue([add.message(1, 2), double.message(5)]);
  await broker.join(queue);
  await broker.join(queue + "-b");
  const sum = await redis.get<number>(queue + ":sum");
  await redis.del(queue + ":sum");
  return { health, sum };
}
export default app;
`;

/** Emitted too: the smoke runs both builds of the app, `import` and `require`. */
const NODENEXT = {
  compilerOptions: {
    module: "nodenext",
    moduleResolution: "nodenext",
    target: "es2022",
    strict: true,
    outDir: "out",
    skipLibCheck: true,
    types: [],
  },
  files: ["app.mts", "app.cts"],
};
const BUNDLER = {
  compilerOptions: {
    module: "esnext",
    moduleResolution: "bundler",
    target: "es2022",
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  },
  files: ["app.ts"],
};

const SETS = {
  oldest: {
    hono: oldest(PKG.peerDependencies.hono),
    "@upstash/redis": oldest(PKG.peerDependencies["@upstash/redis"]),
    valibot: oldest(PKG.dependencies.valibot),
    croner: oldest(PKG.dependencies.croner),
  },
  latest: {
    hono: PKG.devDependencies.hono,
    "@upstash/redis": PKG.devDependencies["@upstash/redis"],
  },
};

for (const [name, versions] of Object.entries(SETS)) {
  describe(`a consumer on ${name} versions (${JSON.stringify(versions)})`, () => {
    let consumer;
    before(async () => {
      consumer = await project(`types-${name}`, {
        dependencies: versions,
        files: {
          "app.mts": APP,
          "app.cts": APP,
          "app.ts": APP,
          "tsconfig.nodenext.json": JSON.stringify(NODENEXT),
          "tsconfig.bundler.json": JSON.stringify(BUNDLER),
        },
      });
    });
    after(() => consumer?.remove());

    const tsc = (config) =>
      run(join(BIN, "tsc"), ["-p", config], { cwd: consumer.dir, env: cleanEnv() });

    test("installs the versions asked for", async () => {
      const { stdout } = await run("npm", ["ls", "--json", ...Object.keys(versions)], {
        cwd: consumer.dir,
        env: cleanEnv(),
      });
      const installed = JSON.parse(stdout).dependencies;
      for (const [dep, version] of Object.entries(versions)) {
        assert.equal(installed[dep]?.version, version, dep);
      }
    });

    test("type-checks as an ES module and as CommonJS (nodenext)", async () => {
      const { code, stdout } = await tsc("tsconfig.nodenext.json");
      assert.equal(stdout, "");
      assert.equal(code, 0);
    });

    test("type-checks for a bundler (moduleResolution bundler)", async () => {
      const { code, stdout } = await tsc("tsconfig.bundler.json");
      assert.equal(stdout, "");
      assert.equal(code, 0);
    });

    for (const [kind, file] of [["an ES module", "app.mjs"], ["CommonJS", "app.cjs"]]) {
      test(`runs as ${kind}: the mounted app answers, its own Redis carries a message`, async () => {
        const queue = `types-${name}-${crypto.randomUUID().slice(0, 8)}`;
        const script = `import("./out/${file}").then(async (app) => {
          console.log(JSON.stringify(await (app.smoke ?? app.default.smoke)()));
        });`;
        const { code, stdout, stderr } = await run(process.execPath, ["-e", script], {
          cwd: consumer.dir,
          env: cleanEnv({ CONSUMER_QUEUE: queue, CONSUMER_NAMESPACE: queue }),
        });
        assert.equal(code, 0, stderr);
        assert.deepEqual(JSON.parse(stdout.trim().split("\n").at(-1)), { health: 200, sum: 13 });
      });
    }
  });
}
