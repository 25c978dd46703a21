/**
 * `metrics()`: a known workload, then the exposition parsed by a strict Prometheus text
 * parser: counters equal the workload, gauges settle to zero, histogram buckets add up;
 * and `skiff worker --metrics-port` scraped over HTTP from a real process.
 *
 * @module
 */
import assert from "node:assert/strict";
import { actor } from "../src/actor.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import { Message } from "../src/message.ts";
import { metrics } from "../src/metrics/mod.ts";
import { exposition } from "../src/metrics/_exposition.ts";
import { cleanup, restClient, restEnv, testPrefix } from "./_env.ts";
import { silentLogger } from "./broker_conformance.ts";
import { spawnCli, writeTree } from "./fixtures/cli_process.ts";

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text format (0.0.4) strictly: every sample belongs to a family
 * declared by `# TYPE` before it, label values are unescaped, and anything else fails.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: ParsedSample[] } {
  assert.ok(text.endsWith("\n"), "the exposition ends with a line feed");
  const types = new Map<string, string>();
  const samples: ParsedSample[] = [];
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      if (comment[1] === "TYPE") {
        assert.match(comment[3], /^(counter|gauge|histogram|summary|untyped)$/, line);
        assert.ok(!types.has(comment[2]), `family declared twice: ${comment[2]}`);
        types.set(comment[2], comment[3]);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `not a sample line: ${line}`);
    const [, name, rawLabels = "", rawValue] = sample;
    const labels: Record<string, string> = {};
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
    while (labelPattern.lastIndex < rawLabels.length) {
      const at = labelPattern.lastIndex;
      const label = labelPattern.exec(rawLabels);
      assert.ok(label, `bad labels at ${at}: ${line}`);
      labels[label[1]] = label[2].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
    }
    const value = rawValue === "+Inf" ? Infinity : Number(rawValue);
    assert.ok(!Number.isNaN(value), `bad value: ${line}`);
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(family), `sample before its # TYPE: ${line}`);
    if (family !== name) assert.equal(types.get(family), "histogram", line);
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

/** The value of the sample with this name and these labels (exactly), or undefined. */
function valueOf(
  samples: ParsedSample[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) =>
    s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want
  )
    ?.value;
}

Deno.test("metrics: after a known workload the counters equal it, in-flight returns to 0, buckets add up", async () => {
  const namespace = testPrefix("metrics").slice(0, -1);
  const broker = new UpstashBroker({ redis: restClient(), namespace, logger: silentLogger });
  const queue = "work";
  const m = metrics({ broker, queues: [queue] });
  const id = crypto.randomUUID().slice(0, 8);
  const ok = actor(`ok-${id}`, () => {}, { broker, queue });
  let flakyRuns = 0;
  const flaky = actor(`flaky-${id}`, () => {
    if (flakyRuns++ === 0) throw new Error("first attempt fails");
  }, { broker, queue, minBackoff: 1, maxBackoff: 1 });
  const bad = actor(`bad-${id}`, () => {
    throw new Error("always fails");
  }, { broker, queue, maxRetries: 1, minBackoff: 1, maxBackoff: 1 });
  try {
    await ok.send();
    await ok.send();
    await ok.send();
    await flaky.send();
    await bad.send();
    await broker.join(queue, { failFast: false });

    const response = await m.fetch(new Request("http://localhost/metrics"));
    assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const { types, samples } = parseExposition(await response.text());
    assert.equal(types.get("skiff_messages_processed_total"), "counter");
    assert.equal(types.get("skiff_messages_in_flight"), "gauge");
    assert.equal(types.get("skiff_message_duration_seconds"), "histogram");
    const expected: [string, string, number][] = [
      ["enqueued", ok.name, 3],
      ["enqueued", flaky.name, 1],
      ["enqueued", bad.name, 1],
      ["processed", ok.name, 3],
      ["processed", flaky.name, 1],
      ["failed", flaky.name, 1],
      ["failed", bad.name, 2],
      ["retried", flaky.name, 1],
      ["retried", bad.name, 1],
      ["dead", bad.name, 1],
    ];
    for (const [counter, name, n] of expected) {
      assert.equal(
        valueOf(samples, `skiff_messages_${counter}_total`, { actor: name, queue }),
        n,
        `${counter} ${name}`,
      );
    }
    const counted = samples.filter((s) => s.name.endsWith("_total"));
    assert.equal(counted.length, expected.length, "no other counter sample");
    for (const name of [ok.name, flaky.name, bad.name]) {
      assert.equal(valueOf(samples, "skiff_messages_in_flight", { actor: name, queue }), 0);
    }
    for (const [name, attempts] of [[ok.name, 3], [flaky.name, 2], [bad.name, 2]] as const) {
      const labels = { actor: name, queue };
      assert.equal(valueOf(samples, "skiff_message_duration_seconds_count", labels), attempts);
      assert.equal(
        valueOf(samples, "skiff_message_duration_seconds_bucket", { ...labels, le: "+Inf" }),
        attempts,
      );
      const buckets = samples.filter((s) =>
        s.name === "skiff_message_duration_seconds_bucket" && s.labels.actor === name
      ).map((s) => s.value);
      assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), "cumulative buckets");
    }
    for (const [state, n] of [["ready", 0], ["delayed", 0], ["leased", 0], ["dead", 1]] as const) {
      assert.equal(valueOf(samples, "skiff_queue_messages", { queue, state }), n, state);
    }
    assert.equal((await m.fetch(new Request("http://x/", { method: "POST" }))).status, 405);
  } finally {
    await cleanup(restClient(), `${namespace}:`);
  }
});

Deno.test("metrics: label values are escaped as the format requires", () => {
  const text = exposition([{
    name: "x_total",
    help: "a help text",
    type: "counter",
    samples: [{ labels: { path: 'a"b\\c\nd' }, value: 2 }],
  }]);
  assert.equal(
    text,
    '# HELP x_total a help text\n# TYPE x_total counter\nx_total{path="a\\"b\\\\c\\nd"} 2\n',
  );
  assert.deepEqual(parseExposition(text).samples, [{
    name: "x_total",
    labels: { path: 'a"b\\c\nd' },
    value: 2,
  }]);
});

Deno.test("metrics: skiff worker --metrics-port serves them; a scrape after a workload counts it", async () => {
  const queue = `metrics-cli-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await writeTree({
    "tasks.ts": `import { actor } from "{{skiff}}";
actor("metrics.ok", () => {}, { queue: "${queue}" });
actor("metrics.bad", () => { throw new Error("no"); }, { queue: "${queue}", maxRetries: 0 });
`,
  });
  const { url, token } = restEnv();
  const worker = spawnCli(["worker", `${dir}/tasks.ts`, "--metrics-port", "0"], {
    env: { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token },
  });
  const lines = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const broker = new UpstashBroker({ redis: restClient(), logger: silentLogger });
  try {
    while (!/consuming/.test(out)) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`skiff worker did not start: ${out}`);
      out += value;
    }
    const endpoint = /metrics on (\S+)/.exec(out)![1];
    assert.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const make = (name: string) => new Message({ queue, actor: name, args: [] });
    await broker.enqueue([make("metrics.ok"), make("metrics.ok"), make("metrics.bad")]);
    // Waits for the worker to finish them (no time is asserted).
    while (true) {
      const stats = await broker.stats(queue);
      if (stats.ready + stats.delayed + stats.leased === 0 && stats.dead === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    let samples: ParsedSample[] = [];
    // The ack that moved the last message may be answered just before its hook counts it.
    for (let i = 0; i < 100; i++) {
      samples = parseExposition(await (await fetch(endpoint)).text()).samples;
      if (
        valueOf(samples, "skiff_messages_processed_total", { actor: "metrics.ok", queue }) === 2
      ) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(
      valueOf(samples, "skiff_messages_processed_total", { actor: "metrics.ok", queue }),
      2,
    );
    assert.equal(
      valueOf(samples, "skiff_messages_failed_total", { actor: "metrics.bad", queue }),
      1,
    );
    assert.equal(valueOf(samples, "skiff_messages_dead_total", { actor: "metrics.bad", queue }), 1);
    assert.equal(valueOf(samples, "skiff_queue_messages", { queue, state: "dead" }), 1);
    assert.equal(await (await fetch(endpoint.replace("/metrics", "/other"))).text(), "Not Found");
  } finally {
    worker.kill("SIGTERM");
    await worker.status;
    await lines.cancel();
    await worker.stderr.cancel();
    await broker.purgeDead(queue);
    await Deno.remove(dir, { recursive: true });
  }
});
