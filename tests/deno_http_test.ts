/**
 * `skiff/deno`'s HTTP client: its Redis client against the local server (the same answers
 * and requests as `@upstash/redis`, a lost answer sent again without a second effect,
 * errors that name no payload or token), `denoFetch` carrying a `Push` to a `workerApp` on
 * `Deno.serve`, and the HTTP/1.1 it reads, against a raw socket server that answers as
 * told (chunked, closed, kept-alive then dropped) and over TLS.
 *
 * @module
 */
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { chooseBroker } from "../src/cli/_broker.ts";
import { createRedis, denoFetch } from "../src/deno/mod.ts";
import { type Connection, http1Client, requestStart, tls } from "../src/_socket_http.ts";
import { closeIdle } from "../src/deno/_http.ts";
import { workerApp } from "../src/hono/mod.ts";
import * as local from "../src/local/mod.ts";
import { Message } from "../src/message.ts";
import { Push } from "../src/push/push.ts";
import { restClient, restEnv } from "./_env.ts";
import { checkLostEnqueue } from "./runtime/smoke.mjs";

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const prefix = () => `deno-http-${crypto.randomUUID()}:`;

/** Runs `fn`, then closes the pooled connections it left, as a long-running process would not. */
function withPool(name: string, fn: () => Promise<void>): void {
  Deno.test(name, async () => {
    try {
      await fn();
    } finally {
      closeIdle();
    }
  });
}

/** This process's requests while `fn` runs: `fetch`'s and `skiff/deno`'s. */
async function requestsDuring(fn: () => Promise<unknown>): Promise<number> {
  let count = 0;
  const onRequest = () => count++;
  const original = globalThis.fetch;
  globalThis.fetch = (input, init) => (count++, original(input, init));
  diagnostics.subscribe(requestStart.name, onRequest);
  try {
    await fn();
  } finally {
    globalThis.fetch = original;
    diagnostics.unsubscribe(requestStart.name, onRequest);
  }
  return count;
}

withPool("createRedis answers SET, GET, pipelines and scripts as @upstash/redis does", async () => {
  const plain = restClient();
  const redis = createRedis(restEnv());
  const key = `${prefix()}value`;
  await redis.set(key, { hello: "wörld", n: 42 }, { ex: 60 });
  assert.deepEqual(await redis.get(key), { hello: "wörld", n: 42 });
  assert.deepEqual(await redis.get(key), await plain.get(key));
  const pipeline = redis.pipeline();
  pipeline.incr(`${key}:count`).get(`${key}:missing`).eval("return KEYS[1]", [key], []);
  assert.deepEqual(await pipeline.exec(), [1, null, key]);
  const answers = await redis.pipeline().incr(key).get(`${key}:count`).exec({ keepErrors: true });
  assert.match(String(answers[0].error), /not an integer/);
  assert.equal(answers[1].result, 1);
  await plain.del(key, `${key}:count`);
});

withPool("an error answer names the failure, never the command's data or the token", async () => {
  const key = `${prefix()}secret`;
  await restClient().set(key, "card-4242-4242", { ex: 60 });
  await assert.rejects(
    createRedis(restEnv()).eval("return redis.call('INCR', KEYS[1])", [key], ["card-4242-4242"]),
    (error: Error) => {
      assert.equal(error.name, "UpstashError");
      assert.match(error.message, /not an integer/);
      assert.doesNotMatch(error.message, /card-4242/);
      return true;
    },
  );
  const wrong = createRedis({ url: restEnv().url, token: "not-the-token-7f3a" });
  await assert.rejects(wrong.get(key), (error: Error) => {
    assert.match(error.message, /unauthori[sz]ed/i);
    assert.doesNotMatch(error.message, /not-the-token-7f3a/);
    return true;
  });
  assert.throws(() => createRedis({ url: "ftp://example.com", token: "t" }), /https:\/\/ or http:/);
  assert.throws(() => createRedis({ url: restEnv().url, token: "" }), /non-empty strings/);
});

withPool("a broker on createRedis sends in as many requests as on @upstash/redis", async () => {
  const counts: number[] = [];
  for (const redis of [restClient(), createRedis(restEnv())]) {
    const broker = new UpstashBroker({ redis, namespace: prefix(), logger: silent });
    const task = actor(`cost-${crypto.randomUUID()}`, () => {}, { broker, queue: "cost" });
    await task.send(); // scripts known, connections open
    counts.push(
      await requestsDuring(() => Promise.all(Array.from({ length: 20 }, () => task.send()))),
    );
    await broker.flush("cost");
  }
  assert.ok(counts[1] >= 1 && counts[1] <= 2, `20 sends at once took ${counts[1]} requests`);
  assert.equal(counts[1], counts[0]);
});

withPool(
  "given an enqueue whose answer is lost, the client sends it again and the message is stored once",
  () =>
    checkLostEnqueue({ UpstashBroker, Message }, createRedis, local, Deno.env.toObject(), prefix()),
);

withPool(
  "a Push over denoFetch reaches a workerApp on Deno.serve, which runs the message once",
  async () => {
    const namespace = prefix();
    const signingKey = "deno-http-signing-key-0123456789abcdef";
    const endpoint = new UpstashBroker({
      redis: createRedis(restEnv()),
      namespace,
      logger: silent,
    });
    const app = workerApp({ broker: endpoint, signingKeys: [signingKey] });
    const statuses: number[] = [];
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (request) => {
        const response = await app.fetch(request);
        statuses.push(response.status);
        return response;
      },
    );
    try {
      const sender = new UpstashBroker({
        redis: createRedis(restEnv()),
        namespace,
        logger: silent,
      });
      const url = `http://127.0.0.1:${server.addr.port}/messages`;
      const push = new Push({ url, signingKey, fetch: denoFetch });
      sender.addMiddleware(push);
      const ran: string[] = [];
      const task = actor(`deno-http-greet-${crypto.randomUUID()}`, (name: string) => {
        ran.push(name);
      }, { broker: sender, queue: "greetings" });
      const pushes = await requestsDuring(async () => {
        await task.send("ann");
        await push.flush();
      });
      assert.deepEqual(statuses, [200]);
      assert.deepEqual(ran, ["ann"]);
      assert.ok(pushes >= 2, `the send and the push went through skiff/deno: ${pushes} requests`);
      assert.deepEqual(await endpoint.stats("greetings"), {
        ready: 0,
        delayed: 0,
        leased: 0,
        dead: 0,
      });
    } finally {
      await server.shutdown();
    }
  },
);

/**
 * What the raw server does with a request: answer with these bytes, drop the connection
 * unanswered, or hold it open unanswered.
 */
type Reply = string | Uint8Array | "drop" | "hold";

/**
 * A raw HTTP/1.1 server on a socket: each request (head and `Content-Length` body) is
 * recorded with its connection's number and answered by `reply`.
 */
function rawServer(reply: (request: { head: string; body: string; connection: number }) => Reply) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: { head: string; body: string; connection: number }[] = [];
  const connections = new Set<Deno.Conn>();
  // Latin-1: one character per byte, so that lengths count bytes.
  const decoder = new TextDecoder("latin1");
  const utf8 = (latin1: string) =>
    new TextDecoder().decode(Uint8Array.from(latin1, (c) => c.charCodeAt(0)));
  const serve = async (conn: Deno.Conn, number: number) => {
    connections.add(conn);
    let text = "";
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const end = text.indexOf("\r\n\r\n");
        const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
        if (end >= 0 && text.length >= end + 4 + length) {
          const request = {
            head: text.slice(0, end),
            body: utf8(text.slice(end + 4, end + 4 + length)),
            connection: number,
          };
          text = text.slice(end + 4 + length);
          seen.push(request);
          const answer = reply(request);
          if (answer === "drop") return;
          if (answer === "hold") continue;
          await conn.write(typeof answer === "string" ? new TextEncoder().encode(answer) : answer);
          if (typeof answer === "string" && /\r\nconnection: close\r\n/i.test(answer)) return;
          continue;
        }
        const n = await conn.read(buffer);
        if (n === null) return;
        text += decoder.decode(buffer.subarray(0, n));
      }
    } catch {
      // Closed under it.
    } finally {
      connections.delete(conn);
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
  };
  const accepting = (async () => {
    let count = 0;
    try {
      for await (const conn of listener) void serve(conn, ++count);
    } catch {
      // Closed.
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    seen,
    open: () => connections.size,
    async close() {
      listener.close();
      for (const conn of connections) conn.close();
      await accepting;
    },
  };
}

/** A test against a fresh {@linkcode rawServer}, closed after it. */
function withRawServer(
  name: string,
  reply: Parameters<typeof rawServer>[0],
  fn: (server: ReturnType<typeof rawServer>) => Promise<void>,
): void {
  withPool(name, async () => {
    const server = rawServer(reply);
    try {
      await fn(server);
    } finally {
      await server.close();
    }
  });
}

/** Waits until `check()` holds, looking every 5 ms. */
async function eventually(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

withRawServer(
  "denoFetch sends a Request or a URL and init, reads chunked, interim and closed answers, and returns 3xx and 204 as they are",
  ({ head }) => {
    const path = head.split(" ")[1];
    if (path === "/moved") {
      return "HTTP/1.1 307 Temporary Redirect\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n";
    }
    if (path === "/empty") return "HTTP/1.1 204 No Content\r\n\r\n";
    if (path === "/chunked") {
      return "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nhél\r\n3;x=1\r\nlo!\r\n0\r\ntrailer: t\r\n\r\n";
    }
    if (path === "/hinted") {
      return "HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi";
    }
    if (path === "/closed") return "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end";
    const body = JSON.stringify({ got: head.split("\r\n")[0] });
    return `HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nx-twice: a\r\nX-Twice: b\r\ncontent-length: ${
      new TextEncoder().encode(body).length
    }\r\n\r\n${body}`;
  },
  async (server) => {
    const created = await denoFetch(`${server.url}/items?x=1`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "héllo",
    });
    assert.equal(created.status, 201);
    assert.equal(created.statusText, "Created");
    assert.equal(created.headers.get("x-twice"), "a, b");
    assert.deepEqual(await created.json(), { got: "POST /items?x=1 HTTP/1.1" });
    const fromRequest = await denoFetch(
      new Request(`${server.url}/req`, { method: "PUT", body: new Uint8Array([104, 105]) }),
    );
    assert.equal(fromRequest.status, 201);
    await fromRequest.body?.cancel();
    const moved = await denoFetch(`${server.url}/moved`);
    assert.equal(moved.status, 307);
    assert.equal(moved.headers.get("location"), "/elsewhere");
    const empty = await denoFetch(`${server.url}/empty`, { method: "DELETE" });
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
    assert.equal(await (await denoFetch(`${server.url}/chunked`)).text(), "héllo!");
    const hinted = await denoFetch(`${server.url}/hinted`);
    assert.equal(hinted.status, 200);
    assert.equal(hinted.headers.get("link"), null);
    assert.equal(await hinted.text(), "hi");
    assert.equal(await (await denoFetch(`${server.url}/closed`)).text(), "until the end");
    const [first, ...rest] = server.seen;
    assert.match(first.head, /^POST \/items\?x=1 HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    assert.match(first.head, /\r\ncontent-type: text\/plain\r\ncontent-length: 6$/);
    assert.equal(first.body, "héllo");
    assert.deepEqual(rest.map((r) => [r.head.split(" ").slice(0, 2).join(" "), r.body]), [
      ["PUT /req", "hi"],
      ["GET /moved", ""],
      ["DELETE /empty", ""],
      ["GET /chunked", ""],
      ["GET /hinted", ""],
      ["GET /closed", ""],
    ]);
    // Kept alive: one connection for all of them (the last closes it).
    assert.deepEqual(new Set(server.seen.map((r) => r.connection)), new Set([1]));
    await assert.rejects(
      denoFetch(server.url, { method: "POST", body: new Blob(["x"]) }),
      /must be a string or bytes/,
    );
    await assert.rejects(denoFetch("ftp://example.com/"), /only http:\/\/ and https:\/\//);
    await assert.rejects(
      denoFetch(server.url, { headers: { "x-bad": "a\r\nb" } }),
      /a header holds a line break/,
    );
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(denoFetch(server.url, { signal: aborted.signal }), {
      name: "AbortError",
    });
  },
);

withPool(
  "given a kept-alive connection the server closed, denoFetch sends once more on a new one",
  async () => {
    // The server answers the first request of each connection and drops the second unanswered,
    // as a server does whose keep-alive timeout ends as the request goes out.
    const served = new Map<number, number>();
    const server = rawServer(({ connection }) => {
      served.set(connection, (served.get(connection) ?? 0) + 1);
      return served.get(connection) === 2
        ? "drop"
        : "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    });
    try {
      assert.equal(await (await denoFetch(server.url, { method: "POST", body: "1" })).text(), "ok");
      assert.equal(await (await denoFetch(server.url, { method: "POST", body: "2" })).text(), "ok");
      assert.deepEqual(server.seen.map((r) => [r.connection, r.body]), [[1, "1"], [1, "2"], [
        2,
        "2",
      ]]);
    } finally {
      await server.close();
    }
  },
);

withRawServer(
  "a request aborted while it waits for its answer rejects with the signal's reason and closes its connection",
  () => "hold",
  async (server) => {
    const abort = new AbortController();
    const pending = denoFetch(server.url, { signal: abort.signal });
    await eventually(() => server.seen.length > 0);
    abort.abort();
    await assert.rejects(pending, { name: "AbortError" });
    // Its connection closed: the server sees the end of it.
    await eventually(() => server.open() === 0);
  },
);

withRawServer(
  "createRedis gives up on a try without answer after timeoutMs, closes its connection, and tries again within retries",
  () => "hold",
  async (server) => {
    const token = "a-token-never-shown-0123";
    const redis = createRedis({ url: server.url, token, timeoutMs: 100, retries: 1 });
    await assert.rejects(redis.get("k"), (error: Error) => {
      assert.equal(error.name, "TimeoutError");
      assert.match(error.message, /no answer within 100 ms/);
      assert(!error.message.includes(token));
      return true;
    });
    // The first try and one more, each on a connection of its own, both closed.
    assert.deepEqual(server.seen.map((r) => r.connection), [1, 2]);
    await eventually(() => server.open() === 0);
  },
);

Deno.test("createRedis refuses retries or timeoutMs out of range, naming the option, never the token", () => {
  const token = "a-token-never-shown-0123";
  for (const bad of [{ retries: -1 }, { retries: 1.5 }, { timeoutMs: 0 }, { timeoutMs: NaN }]) {
    assert.throws(
      () => createRedis({ url: "http://127.0.0.1:1", token, ...bad }),
      (error: Error) => {
        assert(error instanceof RangeError);
        assert.match(error.message, new RegExp(`'${Object.keys(bad)[0]}'`));
        assert(!error.message.includes(token));
        return true;
      },
    );
  }
});

Deno.test("a request aborted while its connection opens rejects at once; the connection, when it comes, is closed", async () => {
  let arrive!: (connection: Connection) => void;
  const client = http1Client(() => new Promise((resolve) => arrive = resolve));
  const abort = new AbortController();
  const url = new URL("http://127.0.0.1:1/");
  const pending = client.send({ url, method: "GET", headers: {}, signal: abort.signal });
  abort.abort(new DOMException("given up", "TimeoutError"));
  await assert.rejects(pending, { name: "TimeoutError", message: "given up" });
  let closed = false;
  arrive({
    read: () => Promise.resolve(null),
    write: (bytes) => Promise.resolve(bytes.length),
    close: () => void (closed = true),
  });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert(closed);
});

withPool("a new connection that gets no answer rejects, and is not sent again", async () => {
  const server = rawServer(() => "drop");
  try {
    await assert.rejects(denoFetch(server.url, { method: "POST", body: "once" }));
    assert.equal(server.seen.length, 1);
  } finally {
    await server.close();
  }
  const { port } = (() => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const addr = listener.addr as Deno.NetAddr;
    listener.close();
    return addr;
  })();
  await assert.rejects(denoFetch(`http://127.0.0.1:${port}/`), { name: "ConnectionRefused" });
});

withPool("denoFetch speaks HTTPS, checking the server's certificate", async () => {
  const cert = await Deno.readTextFile(new URL("./fixtures/tls_cert.pem", import.meta.url));
  const key = await Deno.readTextFile(new URL("./fixtures/tls_key.pem", import.meta.url));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
    async (request) => Response.json({ method: request.method, body: await request.text() }),
  );
  const url = `https://localhost:${server.addr.port}/`;
  try {
    // Not trusted: the certificate is self-signed.
    await assert.rejects(denoFetch(url));
    tls.caCerts = [cert];
    const answer = await denoFetch(url, { method: "POST", body: "sécure" });
    assert.deepEqual(await answer.json(), { method: "POST", body: "sécure" });
  } finally {
    delete tls.caCerts;
    closeIdle();
    await server.shutdown();
  }
});

Deno.test("a script that used createRedis ends on its own: idle connections keep no process alive", async () => {
  const module = new URL("../src/deno/mod.ts", import.meta.url).href;
  const { url, token } = restEnv();
  const script = `import { createRedis } from "${module}";
const redis = createRedis({ url: ${JSON.stringify(url)}, token: ${JSON.stringify(token)} });
console.log(await redis.ping());`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.equal(new TextDecoder().decode(output.stdout).trim(), "PONG");
});

withPool(
  "the CLI's broker sends with skiff/deno on Deno, and with fetch when a proxy is set",
  async () => {
    const { url, token } = restEnv();
    const names = ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "HTTPS_PROXY"];
    const before = names.map((name) => Deno.env.get(name));
    const through = async (proxy?: string) => {
      Deno.env.set("UPSTASH_REDIS_REST_URL", url);
      Deno.env.set("UPSTASH_REDIS_REST_TOKEN", token);
      if (proxy) Deno.env.set("HTTPS_PROXY", proxy);
      else Deno.env.delete("HTTPS_PROXY");
      const { broker } = chooseBroker();
      let sockets = 0;
      const onRequest = () => sockets++;
      diagnostics.subscribe(requestStart.name, onRequest);
      try {
        await broker.stats("cli-client");
      } finally {
        diagnostics.unsubscribe(requestStart.name, onRequest);
      }
      return sockets;
    };
    try {
      assert.ok((await through()) >= 1, "skiff/deno's sockets sent the stats");
      // The proxy is not reached: the local server is on 127.0.0.1, which Deno sends to directly.
      assert.equal(await through("http://127.0.0.1:9"), 0, "fetch sent them");
    } finally {
      names.forEach((name, i) =>
        before[i] === undefined ? Deno.env.delete(name) : Deno.env.set(name, before[i]!)
      );
    }
  },
);
