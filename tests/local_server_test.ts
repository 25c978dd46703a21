import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { Ratelimit } from "@upstash/ratelimit";
import { type LocalServer, type LocalServerOptions, startLocalServer } from "../src/local/mod.ts";
import { RespError, RespReader, type RespValue } from "../src/local/resp.ts";
import { cleanup, testPrefix, testRedisUrl } from "./_env.ts";

const TOKEN = "local-test-token-7f3a";

interface Ctx {
  server: LocalServer;
  redis: Redis;
  prefix: string;
  logs: string[];
  call: (path: string, body: unknown, headers?: Record<string, string>) => Promise<Response>;
}

async function withServer(
  name: string,
  fn: (ctx: Ctx) => Promise<void>,
  options: Partial<LocalServerOptions> = {},
): Promise<void> {
  const logs: string[] = [];
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token: TOKEN,
    port: 0,
    log: (line) => logs.push(line),
    ...options,
  });
  const redis = new Redis({ url: server.url, token: TOKEN, enableTelemetry: false });
  const prefix = testPrefix(name);
  const call = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(server.url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  try {
    await fn({ server, redis, prefix, logs, call });
  } finally {
    server.faults = {};
    await cleanup(redis, prefix);
    await server.close();
  }
}

async function json(res: Response): Promise<unknown> {
  assert.equal(res.headers.get("content-type"), "application/json");
  return JSON.parse(await res.text());
}

Deno.test("local: @upstash/redis round-trips strings, hashes, sorted sets and nil", () =>
  withServer("roundtrip", async ({ redis, prefix }) => {
    assert.equal(await redis.set(`${prefix}s`, "héllo"), "OK");
    assert.equal(await redis.get(`${prefix}s`), "héllo");
    assert.equal(await redis.get(`${prefix}missing`), null);
    await redis.hset(`${prefix}h`, { a: "1", b: "two" });
    assert.deepEqual(await redis.hgetall(`${prefix}h`), { a: 1, b: "two" });
    await redis.zadd(`${prefix}z`, { score: 1.5, member: "m" });
    assert.deepEqual(await redis.zrange(`${prefix}z`, 0, -1, { withScores: true }), ["m", 1.5]);
  }));

Deno.test("local: replies keep RESP2 shapes: flat HGETALL, string scores, exact integers", () =>
  withServer("resp2", async ({ call, prefix }) => {
    await call("/", ["HSET", `${prefix}h`, "a", "1", "b", "2"]);
    assert.deepEqual(await json(await call("/", ["HGETALL", `${prefix}h`])), {
      result: ["a", "1", "b", "2"],
    });
    await call("/", ["ZADD", `${prefix}z`, 2.5, "m"]);
    assert.deepEqual(await json(await call("/", ["ZSCORE", `${prefix}z`, "m"])), {
      result: "2.5",
    });
    await call("/", ["SET", `${prefix}n`, "9223372036854775806"]);
    const res = await call("/", ["INCR", `${prefix}n`]);
    assert.equal(await res.text(), '{"result":9223372036854775807}');
    assert.deepEqual(await json(await call("/", ["GET", `${prefix}none`])), { result: null });
  }));

Deno.test("local: arguments may be strings, numbers and booleans, nothing else", () =>
  withServer("args", async ({ call, prefix }) => {
    assert.deepEqual(await json(await call("/", ["SET", `${prefix}a`, 12.5])), { result: "OK" });
    assert.deepEqual(await json(await call("/", ["GET", `${prefix}a`])), { result: "12.5" });
    await call("/", ["SET", `${prefix}b`, true]);
    assert.deepEqual(await json(await call("/", ["GET", `${prefix}b`])), { result: "true" });
    for (const bad of [{ x: 1 }, null, ["nested"]]) {
      const res = await call("/", ["SET", `${prefix}c`, bad]);
      assert.equal(res.status, 400);
      const body = await json(res) as { error: string };
      assert.match(body.error, /argument 3 .* must be a string, number or boolean/);
    }
    for (const bad of [[], {}, "text", [[]]]) {
      const res = await call("/", bad);
      assert.equal(res.status, 400);
      assert.ok((await json(res) as { error: string }).error);
    }
    assert.deepEqual(await json(await call("/", ["EXISTS", `${prefix}c`])), { result: 0 });
  }));

Deno.test("local: arguments in any UTF-8 reach Redis whole, with lengths in bytes", () =>
  withServer("utf8", async ({ call, prefix }) => {
    // Given accents, a 3-byte sign, a 4-byte emoji and a lone surrogate (sent as U+FFFD)
    const values = ["héllo", "✓", "😀 x", "a\ud800b", "", "plain"];
    // When each is set in one pipeline, then read back
    const set = await json(
      await call("/pipeline", values.map((v, i) => ["SET", `${prefix}${i}`, v])),
    );
    assert.deepEqual(set, values.map(() => ({ result: "OK" })));
    const lengths = await json(
      await call("/pipeline", values.map((_, i) => ["STRLEN", `${prefix}${i}`])),
    );
    // Then Redis holds exactly their UTF-8 bytes
    const encoder = new TextEncoder();
    assert.deepEqual(lengths, values.map((v) => ({ result: encoder.encode(v).length })));
    assert.deepEqual(await json(await call("/", ["GET", `${prefix}2`])), { result: "😀 x" });
    assert.deepEqual(await json(await call("/", ["GET", `${prefix}3`])), { result: "a\ufffdb" });
  }));

Deno.test("local: requests without the bearer token get 401 JSON", () =>
  withServer("auth", async ({ server, call }) => {
    for (
      const headers of [{}, { authorization: "Bearer wrong" }, { authorization: TOKEN }] as Record<
        string,
        string
      >[]
    ) {
      const res = await fetch(server.url, {
        method: "POST",
        headers,
        body: JSON.stringify(["PING"]),
      });
      assert.equal(res.status, 401);
      assert.deepEqual(await json(res), { error: "Unauthorized" });
    }
    const bad = new Redis({ url: server.url, token: "wrong", enableTelemetry: false });
    await assert.rejects(bad.ping(), /Unauthorized/);
    assert.equal((await call("/", ["PING"])).status, 200);
    // Once the token was accepted, near misses are still refused, and the scheme's case is free.
    for (
      const authorization of [
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(0, -1)}`,
        `Bearer  ${TOKEN}`,
      ]
    ) {
      const res = await fetch(server.url, {
        method: "POST",
        headers: { authorization },
        body: '["PING"]',
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    }
    assert.equal((await call("/", ["PING"], { authorization: `bearer ${TOKEN}` })).status, 200);
  }));

Deno.test("local: base64 encoding covers every string at every depth, never errors", () =>
  withServer("base64", async ({ call, prefix, redis }) => {
    const b64 = { "upstash-encoding": "base64" };
    const enc = (s: string) => btoa(s);
    assert.deepEqual(await json(await call("/", ["SET", `${prefix}k`, "v"], b64)), {
      result: "OK",
    });
    assert.deepEqual(await json(await call("/", ["TYPE", `${prefix}k`], b64)), {
      result: enc("string"),
    });
    const nested = await call("/", [
      "EVAL",
      "return {'a', {'b', 7}, redis.status_reply('FINE')}",
      0,
    ], b64);
    assert.deepEqual(await json(nested), { result: [enc("a"), [enc("b"), 7], enc("FINE")] });
    const piped = await call(
      "/pipeline",
      [["GET", `${prefix}k`], ["PING"], ["INCR", `${prefix}k`]],
      b64,
    );
    assert.deepEqual(await json(piped), [
      { result: enc("v") },
      { result: enc("PONG") },
      { error: "ERR value is not an integer or out of range" },
    ]);
    const failed = await call("/", ["INCR", `${prefix}k`], b64);
    assert.equal(failed.status, 400);
    assert.deepEqual(await json(failed), { error: "ERR value is not an integer or out of range" });
    // And the client, which asks for base64 by default, reads non-ASCII text back intact.
    await redis.set(`${prefix}u`, "żółw 🐢");
    assert.equal(await redis.get(`${prefix}u`), "żółw 🐢");
  }));

Deno.test("local: a failing command is 400; pipeline items fail one by one with 200", () =>
  withServer("errors", async ({ call, redis, prefix }) => {
    await call("/", ["SET", `${prefix}s`, "x"]);
    const single = await call("/", ["LPUSH", `${prefix}s`, "y"]);
    assert.equal(single.status, 400);
    assert.match((await json(single) as { error: string }).error, /^WRONGTYPE/);
    await assert.rejects(redis.lpush(`${prefix}s`, "y"), /WRONGTYPE/);

    const res = await call("/pipeline", [["INCR", `${prefix}n`], ["LPUSH", `${prefix}s`, "y"], [
      "INCR",
      `${prefix}n`,
    ]]);
    assert.equal(res.status, 200);
    const items = await json(res) as { result?: unknown; error?: string }[];
    assert.deepEqual(items[0], { result: 1 });
    assert.match(items[1].error!, /^WRONGTYPE/);
    assert.deepEqual(items[2], { result: 2 });

    const p = redis.pipeline();
    p.set(`${prefix}p`, "1").incr(`${prefix}p`).get(`${prefix}p`);
    assert.deepEqual(await p.exec(), ["OK", 2, 2]);
  }));

Deno.test("local: /multi-exec runs atomically and a rejected transaction applies nothing", () =>
  withServer("multi", async ({ call, redis, prefix }) => {
    const tx = redis.multi();
    tx.set(`${prefix}a`, 1).incr(`${prefix}a`).get(`${prefix}a`);
    assert.deepEqual(await tx.exec(), ["OK", 2, 2]);

    const runtime = await call("/multi-exec", [["SET", `${prefix}b`, "x"], ["INCR", `${prefix}b`], [
      "GET",
      `${prefix}b`,
    ]]);
    assert.equal(runtime.status, 200);
    const items = await json(runtime) as { result?: unknown; error?: string }[];
    assert.deepEqual([items[0], items[2]], [{ result: "OK" }, { result: "x" }]);
    assert.match(items[1].error!, /not an integer/);

    const rejected = await call("/multi-exec", [["SET", `${prefix}c`, "1"], ["NOSUCHCOMMAND"]]);
    assert.ok(rejected.status >= 400);
    assert.match((await json(rejected) as { error: string }).error, /^EXECABORT/);
    assert.equal(await redis.exists(`${prefix}c`), 0);

    // Concurrent transactions never interleave on a shared connection.
    const results = await Promise.all(
      Array.from(
        { length: 40 },
        () => call("/multi-exec", [["INCR", `${prefix}t`], ["INCR", `${prefix}t`]]).then(json),
      ),
    ) as { result: number }[][];
    for (const [first, second] of results) assert.equal(second.result, first.result + 1);
  }, { poolSize: 3 }));

Deno.test("local: every response carries a fresh upstash-sync-token", () =>
  withServer("sync", async ({ call, server }) => {
    const tokens = new Set<string>();
    for (
      const res of [await call("/", ["PING"]), await call("/", ["PING"]), await call("/", "x")]
    ) {
      await res.body?.cancel();
      tokens.add(res.headers.get("upstash-sync-token") ?? "");
    }
    const denied = await fetch(server.url, { method: "POST", body: "[]" });
    await denied.body?.cancel();
    tokens.add(denied.headers.get("upstash-sync-token") ?? "");
    assert.equal(tokens.size, 4);
    assert.ok(![...tokens].includes(""));
  }));

const REFUSED = [
  ["BLPOP", "k", "0"],
  ["BRPOP", "k", "0"],
  ["BRPOPLPUSH", "a", "b", "0"],
  ["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
  ["BLMPOP", "0", "1", "k", "LEFT"],
  ["BZPOPMIN", "k", "0"],
  ["BZPOPMAX", "k", "0"],
  ["BZMPOP", "0", "1", "k", "MIN"],
  ["XREAD", "BLOCK", "0", "STREAMS", "k", "$"],
  ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "k", ">"],
  ["WATCH", "k"],
  ["UNWATCH"],
  ["DISCARD"],
  ["MULTI"],
  ["EXEC"],
  ["SUBSCRIBE", "c"],
  ["PSUBSCRIBE", "c*"],
  ["UNSUBSCRIBE"],
  ["SELECT", "1"],
  ["AUTH", "x"],
  ["HELLO", "3"],
  ["CLIENT", "LIST"],
  ["QUIT"],
  ["RESET"],
  ["MONITOR"],
  ["WAIT", "0", "0"],
];

Deno.test("local: commands Upstash REST refuses are refused with 400, alone or in a batch", () =>
  withServer("refused", async ({ call, prefix }) => {
    for (const command of REFUSED) {
      const res = await call("/", command);
      assert.equal(res.status, 400, command[0]);
      assert.match((await json(res) as { error: string }).error, /not available over REST/);
    }
    const batch = await call("/pipeline", [["SET", `${prefix}a`, "1"], ["BLPOP", "k", "0"]]);
    assert.equal(batch.status, 400);
    await batch.body?.cancel();
    const multi = await call("/multi-exec", [["SET", `${prefix}a`, "1"], ["WATCH", "k"]]);
    assert.equal(multi.status, 400);
    await multi.body?.cancel();
    assert.deepEqual(await json(await call("/", ["EXISTS", `${prefix}a`])), { result: 0 });
    // XREAD without BLOCK is an ordinary read.
    await call("/", ["XADD", `${prefix}x`, "*", "f", "v"]);
    const read = await call("/", ["XREAD", "COUNT", "1", "STREAMS", `${prefix}x`, "0"]);
    assert.equal(read.status, 200);
    await read.body?.cancel();
  }));

const LOCKING = `#!lua flags=allow-key-locking
return redis.call("INCRBY", KEYS[1], ARGV[1])`;

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("local: allow-key-locking scripts run, and keep the SHA the client computed", () =>
  withServer("lua", async ({ call, redis, prefix }) => {
    const sha = await sha1(LOCKING);
    const unknown = await call("/", ["EVALSHA", sha, 1, `${prefix}n`, 1]);
    assert.equal(unknown.status, 400);
    assert.deepEqual(await json(unknown), {
      error: "NOSCRIPT No matching script. Please use EVAL.",
    });
    assert.equal(await redis.eval(LOCKING, [`${prefix}n`], [2]), 2);
    assert.equal(await redis.evalsha(sha, [`${prefix}n`], [3]), 5);
    assert.equal(await redis.scriptLoad(LOCKING), sha);
    assert.deepEqual(await redis.scriptExists(sha, "0".repeat(40)), [1, 0]);
    // A flag list keeps its other flags, and read-only scripts map their SHA too.
    const readOnly = `#!lua flags=allow-key-locking,no-writes\nreturn redis.call("GET", KEYS[1])`;
    assert.equal(await redis.evalRo(readOnly, [`${prefix}n`], []), 5);
    assert.equal(await redis.evalshaRo(await sha1(readOnly), [`${prefix}n`], []), 5);
    const writes = await call("/", ["EVAL", readOnly.replace('"GET"', '"DEL"'), 1, `${prefix}n`]);
    assert.match((await json(writes) as { error: string }).error, /Write commands are not allowed/);
  }));

Deno.test("local: @upstash/ratelimit works through it", () =>
  withServer("ratelimit", async ({ redis, prefix }) => {
    const limiter = new Ratelimit({
      redis,
      limiter: Ratelimit.slidingWindow(2, "60 s"),
      prefix: `${prefix}rl`,
      analytics: false,
    });
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push((await limiter.limit("user")).success);
    assert.deepEqual(outcomes, [true, true, false]);
  }));

Deno.test("local: a body over the limit is 400 JSON, and the socket survives", () =>
  withServer("size", async ({ call, redis, prefix, logs }) => {
    const big = "x".repeat(2048);
    const res = await call("/", ["SET", `${prefix}big`, big]);
    assert.equal(res.status, 400);
    assert.match((await json(res) as { error: string }).error, /max request size exceeded/);
    // The client sees the server's answer at once, not a dropped socket it retries.
    await assert.rejects(redis.set(`${prefix}big`, big), /max request size exceeded/);
    assert.equal(logs.filter((line) => line.includes("max request size")).length, 2);
    assert.equal(await redis.exists(`${prefix}big`), 0);
    assert.equal((await call("/", ["PING"])).status, 200);
  }, { maxBodyBytes: 1024 }));

Deno.test("local: a pool of two connections serves many concurrent requests", () =>
  withServer("pool", async ({ redis, prefix }) => {
    const replies = await Promise.all(
      Array.from({ length: 100 }, () => redis.incr(`${prefix}n`)),
    );
    assert.deepEqual(
      replies.toSorted((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
  }, { poolSize: 2 }));

Deno.test("local: close() lets a request in flight finish, then refuses connections", async () => {
  const server = await startLocalServer({
    redis: testRedisUrl(),
    token: TOKEN,
    port: 0,
    faults: { latencyMs: 100 },
    log: () => {},
  });
  const redis = new Redis({ url: server.url, token: TOKEN, retry: false, enableTelemetry: false });
  const pending = redis.echo("still here");
  await new Promise((r) => setTimeout(r, 20));
  await server.close();
  assert.equal(await pending, "still here");
  await assert.rejects(fetch(server.url, { method: "POST", body: "[]" }));
});

Deno.test("local: log lines never hold the token or a payload", () =>
  withServer("logs", async ({ server, call, prefix, logs }) => {
    const secretPayload = "payload-4b1d-do-not-log";
    await call("/", ["SET", `${prefix}s`, secretPayload]);
    await (await call("/", ["LPUSH", `${prefix}s`, secretPayload])).body?.cancel();
    await (await call("/", ["NOSUCH", secretPayload])).body?.cancel();
    await (await call("/multi-exec", [["NOSUCH", secretPayload]])).body?.cancel();
    await (await call("/", ["SET", secretPayload, { secretPayload }])).body?.cancel();
    await (await fetch(server.url, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}x` },
      body: "[]",
    })).body?.cancel();
    assert.ok(logs.length >= 5, "each error is logged");
    for (const line of logs) {
      assert.ok(!line.includes(TOKEN) && !line.includes(secretPayload), line);
    }
  }));

Deno.test("local: fault mode answers a share of requests with 503 without running them", () =>
  withServer("fault503", async ({ server, redis, call, prefix }) => {
    server.faults = { errorRate: 1 };
    const res = await call("/", ["INCR", `${prefix}n`]);
    assert.equal(res.status, 503);
    assert.ok((await json(res) as { error: string }).error);
    server.faults = {};
    assert.equal(await redis.get(`${prefix}n`), null);
  }));

Deno.test("local: fault mode drops a response after the command ran; the client's retry runs it twice", () =>
  withServer("faultdrop", async ({ server, redis, prefix }) => {
    const draws = [0, 1];
    server.faults = { dropRate: 0.5, random: () => draws.shift() ?? 1 };
    // The first INCR runs, its response is lost, the client retries: Redis counted twice.
    assert.equal(await redis.incr(`${prefix}n`), 2);
    server.faults = {};
    assert.equal(await redis.get(`${prefix}n`), 2);
  }, { faults: { dropRate: 0 } }));

Deno.test("local: a server started without a dropRate refuses one later, with the reason", () =>
  withServer("nodrop", async ({ server, redis, prefix }) => {
    assert.throws(
      () => server.faults = { dropRate: 0.5 },
      (error) =>
        error instanceof TypeError &&
        /Cannot drop responses: start the server with 'faults\.dropRate'/.test(error.message),
    );
    server.faults = { errorRate: 0 };
    assert.equal(await redis.incr(`${prefix}n`), 1);
  }));

Deno.test("local: a dropRate changed in place on a server that cannot drop answers 500 and says why", () =>
  withServer("nodropinplace", async ({ server, call, prefix, logs }) => {
    server.faults.dropRate = 1;
    const res = await call("/", ["INCR", `${prefix}n`]);
    assert.equal(res.status, 500);
    assert.match((await json(res) as { error: string }).error, /cannot drop a response/);
    assert.ok(logs.some((line) => line.includes("cannot drop a response")));
  }));

Deno.test("local: fault mode adds latency", () =>
  withServer("latency", async ({ server, call }) => {
    server.faults = { latencyMs: 60 };
    const started = performance.now();
    await (await call("/", ["PING"])).body?.cancel();
    assert.ok(performance.now() - started >= 55);
  }));

Deno.test("local: the default body limit is 10 MiB, as Upstash's", () =>
  withServer("size10", async ({ call, prefix }) => {
    const MiB = 1024 * 1024;
    const under = await call("/", ["SET", `${prefix}a`, "x".repeat(9 * MiB)]);
    assert.deepEqual(await json(under), { result: "OK" });
    const over = await call("/", ["SET", `${prefix}b`, "x".repeat(10 * MiB)]);
    assert.equal(over.status, 400);
    assert.match((await json(over) as { error: string }).error, /max request size exceeded/);
    assert.deepEqual(await json(await call("/", ["EXISTS", `${prefix}b`])), { result: 0 });
  }));

/** The RESP2 bytes of an MGET reply: one bulk string per value, nil where missing. */
function mgetReply(values: (string | null)[]): Uint8Array {
  const parts = [`*${values.length}\r\n`];
  for (const v of values) parts.push(v === null ? "$-1\r\n" : `$${v.length}\r\n${v}\r\n`);
  return new TextEncoder().encode(parts.join(""));
}

Deno.test("local: the RESP reader is linear: a reply of 100k items in 64 KiB chunks costs what it costs whole", () => {
  const values = Array.from({ length: 100_000 }, (_, i) => i % 7 === 0 ? null : `value-${i}`);
  const bytes = mgetReply(values);
  const whole = new RespReader();
  whole.push(bytes);
  const direct = whole.next() as (Uint8Array | null)[];
  assert.equal(direct.length, 100_000);
  assert.equal(whole.next(), undefined);
  for (const size of [65_536, 1_000, 7]) {
    const reader = new RespReader();
    let reply: RespValue | undefined;
    let chunks = 0;
    for (let at = 0; at < bytes.length; at += size) {
      assert.equal(reply, undefined);
      reader.push(bytes.subarray(at, at + size));
      chunks++;
      reply = reader.next();
    }
    assert.deepEqual(reply, direct);
    // Each element is parsed once, plus at most one header parsed again per chunk.
    assert.ok(reader.stats.steps <= whole.stats.steps + chunks, `${size}: ${reader.stats.steps}`);
    // Each byte is copied in once, plus moves that double the buffer or follow what was read.
    assert.ok(reader.stats.copied <= 3 * bytes.length, `${size}: ${reader.stats.copied}`);
  }
});

Deno.test("local: the RESP reader resumes nested arrays and large bulk strings cut anywhere", () => {
  const big = "x".repeat(300_000);
  const text =
    `*2\r\n*3\r\n:1\r\n+OK\r\n$-1\r\n*2\r\n$${big.length}\r\n${big}\r\n-ERR no\r\n:7\r\n`;
  const bytes = new TextEncoder().encode(text);
  const reader = new RespReader();
  const replies: RespValue[] = [];
  for (let at = 0; at < bytes.length; at += 4_093) {
    reader.push(bytes.subarray(at, at + 4_093));
    for (let r = reader.next(); r !== undefined; r = reader.next()) replies.push(r);
  }
  assert.equal(replies.length, 2);
  const [[inner, [bulk, error]], seven] = replies as [[RespValue[], RespValue[]], bigint];
  assert.deepEqual(inner, [1n, "OK", null]);
  assert.equal((bulk as Uint8Array).length, big.length);
  assert.deepEqual(error, new RespError("ERR no"));
  assert.equal(seven, 7n);
  assert.ok(reader.stats.copied <= 3 * bytes.length, String(reader.stats.copied));
});

Deno.test("local: an MGET of 30k keys comes back whole through the server", () =>
  withServer("mget", async ({ redis, prefix }) => {
    const keys = Array.from({ length: 30_000 }, (_, i) => `${prefix}${i}`);
    for (let i = 0; i < keys.length; i += 5_000) {
      await redis.mset(
        Object.fromEntries(keys.slice(i, i + 5_000).map((k, j) => [k, `v${i + j}`])),
      );
    }
    const values = await redis.mget<string[]>(...keys);
    assert.equal(values.length, 30_000);
    assert.equal(values[29_999], "v29999");
    assert.ok(values.every((v, i) => v === `v${i}`));
  }));
