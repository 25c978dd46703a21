/**
 * The checks every runtime smoke suite runs (node, bun, workerd), each against its own
 * import of skiff and its own `@upstash/redis` client. Web APIs only, so that it runs
 * inside workerd too; each check returns what it saw and throws on a mismatch.
 *
 * @module
 */

/**
 * Reads the local server's address from the environment.
 *
 * @param {Record<string, string | undefined>} env Where to look: `process.env` or a worker's env.
 * @returns {{ url: string, token: string }}
 */
export function upstashEnv(env) {
  const url = env.UPSTASH_REDIS_REST_URL;
  const token = env.UPSTASH_REDIS_REST_TOKEN;
  if (!url || !token) {
    throw new Error(
      "Cannot run the runtime smoke suite: UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN " +
        "must be set (start redis-server and `skiff local`, or run scripts/test.sh)",
    );
  }
  return { url, token };
}

/**
 * A key prefix of its own for each run, so that suites running at once never meet.
 *
 * @param {string} runtime
 * @returns {string}
 */
export function randomPrefix(runtime) {
  return `skiff-smoke:${runtime}:${crypto.randomUUID()}:`;
}

/**
 * The keys a run may create, for cleanup.
 *
 * @param {string} prefix
 * @returns {string[]}
 */
export function smokeKeys(prefix) {
  return [`${prefix}greeting`, `${prefix}counter`];
}

/**
 * Given a client, when a value is SET under the prefix, then GET returns it.
 *
 * @param {{ set: Function, get: Function }} redis
 * @param {string} prefix
 * @returns {Promise<{ value: unknown }>}
 */
export async function checkRoundTrip(redis, prefix) {
  const [key] = smokeKeys(prefix);
  const wanted = { hello: "world", n: 42 };
  await redis.set(key, wanted, { ex: 60 });
  const value = await redis.get(key);
  if (JSON.stringify(value) !== JSON.stringify(wanted)) {
    throw new Error(`GET returned ${JSON.stringify(value)}, expected ${JSON.stringify(wanted)}`);
  }
  return { value };
}

/**
 * Given a script Redis has never seen (its source names the prefix), when it runs twice,
 * then the first run falls back from EVALSHA to EVAL, the second is EVALSHA alone, both
 * return INCRBY's value, and the SHA-1 computed with WebCrypto is the one Redis knows.
 *
 * @param {{ Script: new (name: string, source: string) => any }} skiff
 * @param {{ eval: Function, evalsha: Function, scriptExists: Function }} redis
 * @param {string} prefix
 * @returns {Promise<{ first: unknown, second: unknown, calls: string[][] }>}
 */
export async function checkScript(skiff, redis, prefix) {
  const [, key] = smokeKeys(prefix);
  const script = new skiff.Script(
    "smoke-incr-by",
    `-- ${prefix}\nredis.call("EXPIRE", KEYS[1], 60)\n` +
      `return redis.call("INCRBY", KEYS[1], ARGV[1])`,
  );
  /** @type {string[]} */
  let calls = [];
  const spy = {
    evalsha: async (...args) => {
      try {
        const out = await redis.evalsha(...args);
        calls.push("evalsha");
        return out;
      } catch (error) {
        calls.push(String(error).includes("NOSCRIPT") ? "evalsha:NOSCRIPT" : "evalsha:error");
        throw error;
      }
    },
    eval: (...args) => {
      calls.push("eval");
      return redis.eval(...args);
    },
  };
  const first = await script.run(spy, [key], [5]);
  const firstCalls = calls;
  calls = [];
  const second = await script.run(spy, [key], [7]);
  const secondCalls = calls;
  const expect = (what, got, want) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(`${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  };
  expect("first run", [first, firstCalls], [5, ["evalsha:NOSCRIPT", "eval"]]);
  expect("second run", [second, secondCalls], [12, ["evalsha"]]);
  expect("SCRIPT EXISTS of the WebCrypto SHA-1", await redis.scriptExists(await script.sha()), [1]);
  return { first, second, calls: [firstCalls, secondCalls] };
}

/**
 * Deletes the keys of a run.
 *
 * @param {{ del: Function }} redis
 * @param {string} prefix
 * @returns {Promise<number>} How many keys there were.
 */
export function cleanup(redis, prefix) {
  return redis.del(...smokeKeys(prefix));
}

/**
 * Starts `skiff/local` in this runtime in front of the harness's private redis-server,
 * checks a command, a pipeline and an allow-key-locking script through it, then closes it.
 *
 * @param {{ startLocalServer: Function }} local The `skiff/local` module as this runtime loads it.
 * @param {Record<string, string | undefined>} env The environment (`SKIFF_TEST_REDIS_URL`).
 * @param {typeof import("@upstash/redis").Redis} Redis The client class.
 * @param {string} prefix This run's key prefix.
 */
export async function checkLocalServer(local, env, Redis, prefix) {
  const redisUrl = env.SKIFF_TEST_REDIS_URL;
  if (!redisUrl) throw new Error("SKIFF_TEST_REDIS_URL is not set: run scripts/test.sh");
  const server = await local.startLocalServer({
    redis: redisUrl,
    token: "runtime-smoke",
    port: 0,
    log: () => {},
  });
  try {
    const redis = new Redis({ url: server.url, token: "runtime-smoke", enableTelemetry: false });
    const set = await redis.set(`${prefix}local`, "served");
    const pipe = redis.pipeline();
    pipe.get(`${prefix}local`).incr(`${prefix}local:n`);
    const piped = await pipe.exec();
    const script = `#!lua flags=allow-key-locking\nreturn redis.call("INCR", KEYS[1])`;
    const scripted = await redis.eval(script, [`${prefix}local:n`], []);
    const seen = JSON.stringify([set, piped, scripted]);
    if (seen !== JSON.stringify(["OK", ["served", 1], 2])) {
      throw new Error(`skiff/local answered ${seen}, expected ["OK",["served",1],2]`);
    }
    await redis.del(`${prefix}local`, `${prefix}local:n`);
  } finally {
    await server.close();
  }
}

/**
 * Given a broker, when an actor that reads its context (`this`) is sent two messages and a
 * worker-less `broker.join()` runs them, then each ran once with its arguments, its first
 * attempt, an unaborted signal and its own message id; and a first attempt that asks for a
 * retry runs again with the attempt count the context reports.
 *
 * @param {any} skiff The skiff module as this runtime loads it.
 * @param {any} broker A broker from that module.
 * @param {string} prefix This run's prefix, for unique actor names.
 * @returns {Promise<{ runs: unknown[] }>}
 */
export async function checkActors(skiff, broker, prefix) {
  const runs = [];
  const name = `${prefix}double`.replace(/[^a-zA-Z0-9_.:-]/g, "-");
  const double = skiff.actor(
    name,
    function (n) {
      // Retry at once: join() leaves delays that are not yet due alone.
      if (n === 3 && this.attempt === 1) throw new skiff.Retry({ delay: 0 });
      runs.push({
        n: n * 2,
        attempt: this.attempt,
        aborted: this.signal.aborted,
        id: this.message.id,
      });
    },
    { broker, queue: "smoke" },
  );
  const sent = [await double.send(1), await double.send(3)];
  await broker.join("smoke", { failFast: false, timeout: 10_000 });
  runs.sort((a, b) => a.n - b.n);
  const seen = JSON.stringify(runs.map(({ n, attempt, aborted }) => [n, attempt, aborted]));
  if (seen !== JSON.stringify([[2, 1, false], [6, 2, false]])) {
    throw new Error(`actor runs were ${seen}, expected [[2,1,false],[6,2,false]]`);
  }
  if (runs[0].id !== sent[0].id || runs[1].id !== sent[1].id) {
    throw new Error("the context's message ids are not the sent messages' ids");
  }
  return { runs };
}

/**
 * Given a broker on a client of skiff's own (`createRedis` of `skiff/node` or `skiff/deno`)
 * in front of a local server that loses the first answer of an enqueue, then the client sends
 * it again and the message is stored once: one ready, claimed and acked once.
 *
 * @param {{ UpstashBroker: any, Message: any }} skiff The skiff module as this runtime loads it.
 * @param {(options: { url: string, token: string }) => any} createRedis The client to check.
 * @param {{ startLocalServer: Function }} local The `skiff/local` module.
 * @param {Record<string, string | undefined>} env The environment (`SKIFF_TEST_REDIS_URL`).
 * @param {string} namespace A namespace of this check's own.
 */
export async function checkLostEnqueue(skiff, createRedis, local, env, namespace) {
  const redisUrl = env.SKIFF_TEST_REDIS_URL;
  if (!redisUrl) throw new Error("SKIFF_TEST_REDIS_URL is not set: run scripts/test.sh");
  const token = "lost-enqueue-token";
  const dropped = [];
  const server = await local.startLocalServer({
    redis: redisUrl,
    token,
    port: 0,
    log: (line) => line.includes("dropped") && dropped.push(line),
    faults: { dropRate: 0 },
  });
  try {
    const redis = createRedis({ url: server.url, token });
    const silent = { debug() {}, info() {}, warn() {}, error() {} };
    const broker = new skiff.UpstashBroker({ redis, namespace, logger: silent });
    await broker.stats("q"); // the scripts are known: the lost answer is a real run's
    const draws = [0];
    server.faults = { dropRate: 0.5, random: () => draws.shift() ?? 1 };
    const [sent] = await broker.enqueue([new skiff.Message({ queue: "q", actor: "a", args: [1] })]);
    server.faults = {};
    const stats = JSON.stringify(await broker.stats("q"));
    const claims = await broker.claim("q", { count: 5 });
    const acked = await broker.ack("q", claims);
    const seen = JSON.stringify([dropped.length, stats, claims.map((c) => c.id), acked]);
    const expected = JSON.stringify([
      1,
      JSON.stringify({ ready: 1, delayed: 0, leased: 0, dead: 0 }),
      [sent.id],
      [true],
    ]);
    if (seen !== expected) throw new Error(`a lost enqueue gave ${seen}, expected ${expected}`);
  } finally {
    await server.close();
  }
}
