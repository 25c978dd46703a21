import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { actor } from "../src/actor.ts";
import { MemoryBroker } from "../src/brokers/memory.ts";
import { UpstashBroker } from "../src/brokers/upstash.ts";
import type { MessageContext } from "../src/context.ts";
import { OpenTelemetry } from "../src/otel/mod.ts";
import { cleanup, restClient, testPrefix } from "./_env.ts";
import { silentLogger } from "./broker_conformance.ts";

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;

/** The real SDK, spans kept in memory. */
function sdk() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { exporter, provider, spans: () => exporter.getFinishedSpans() };
}

const byKind = (spans: ReadableSpan[], kind: SpanKind) => spans.filter((s) => s.kind === kind);

Deno.test("otel: given a sent message, then a producer span and a consumer span, its child, with the message's attributes", async () => {
  const { provider, spans } = sdk();
  const broker = new MemoryBroker();
  broker.addMiddleware(new OpenTelemetry({ tracerProvider: provider }));
  const queue = unique("q");
  const name = unique("traced");
  const task = actor(name, (_secret: string) => {}, { broker, queue });
  const sent = await task.send("argument-never-recorded");
  await broker.join(queue);

  const [producer] = byKind(spans(), SpanKind.PRODUCER);
  const [consumer] = byKind(spans(), SpanKind.CONSUMER);
  assert.equal(spans().length, 2);
  assert.equal(producer.name, `send ${queue}`);
  assert.equal(consumer.name, `process ${queue}`);
  const { traceId, spanId } = producer.spanContext();
  assert.equal(sent.options.traceparent, `00-${traceId}-${spanId}-01`);
  assert.equal(consumer.spanContext().traceId, traceId);
  assert.equal(consumer.parentSpanContext?.spanId, spanId);
  const common = {
    "messaging.system": "skiff",
    "messaging.destination.name": queue,
    "messaging.message.id": sent.id,
    "skiff.actor": name,
  };
  assert.deepEqual(producer.attributes, common);
  assert.deepEqual(consumer.attributes, {
    ...common,
    "skiff.attempt": 1,
    "skiff.outcome": "acked",
  });
  assert.equal(consumer.status.code, SpanStatusCode.UNSET);
  assert(!JSON.stringify(spans().map((s) => [s.attributes, s.events])).includes("argument-never"));
});

Deno.test("otel: given an actor that fails then dies, then one consumer span per attempt, errors recorded", async () => {
  const { provider, spans } = sdk();
  const broker = new MemoryBroker({ logger: silentLogger });
  broker.addMiddleware(new OpenTelemetry({ tracerProvider: provider }));
  const queue = unique("q");
  const fails = actor(unique("fails"), function (this: MessageContext) {
    throw new RangeError(`attempt ${this.attempt}`);
  }, { broker, queue, maxRetries: 1, minBackoff: 0, maxBackoff: 0 });
  await fails.send();
  await broker.join(queue, { failFast: false });

  const [producer] = byKind(spans(), SpanKind.PRODUCER);
  const consumers = byKind(spans(), SpanKind.CONSUMER);
  assert.deepEqual(
    consumers.map((s) => [s.attributes["skiff.attempt"], s.attributes["skiff.outcome"]]),
    [[1, "retried"], [2, "dead"]],
  );
  for (const [i, span] of consumers.entries()) {
    // The retry keeps the message's traceparent: every attempt is a child of the send.
    assert.equal(span.parentSpanContext?.spanId, producer.spanContext().spanId);
    assert.deepEqual(span.status, { code: SpanStatusCode.ERROR, message: "RangeError" });
    const [event] = span.events;
    assert.equal(event.name, "exception");
    assert.equal(event.attributes?.["exception.type"], "RangeError");
    assert.equal(event.attributes?.["exception.message"], `attempt ${i + 1}`);
  }
});

Deno.test("otel: given the actor's own span parented with contextOf(this), then it is a child of the consumer span", async () => {
  const { provider, spans } = sdk();
  const broker = new MemoryBroker();
  const otel = new OpenTelemetry({ tracerProvider: provider });
  broker.addMiddleware(otel);
  const queue = unique("q");
  const task = actor(unique("inner"), function (this: MessageContext) {
    provider.getTracer("app").startSpan("inner", {}, otel.contextOf(this)).end();
  }, { broker, queue });
  await task.send();
  await broker.join(queue);
  const inner = spans().find((s) => s.name === "inner")!;
  const [consumer] = byKind(spans(), SpanKind.CONSUMER);
  assert.equal(inner.parentSpanContext?.spanId, consumer.spanContext().spanId);
});

Deno.test("otel: given a traced producer and an untraced worker on Redis, then the message runs (traceparent is a core option)", async () => {
  const redis = restClient();
  const namespace = testPrefix("otel").replace(/:$/, "");
  const { provider, spans } = sdk();
  try {
    const producer = new UpstashBroker({ redis, namespace });
    producer.addMiddleware(new OpenTelemetry({ tracerProvider: provider }));
    const worker = new UpstashBroker({ redis, namespace });
    const queue = unique("q");
    const seen: string[] = [];
    const task = actor(unique("plain"), function (this: MessageContext) {
      seen.push(String(this.message.options.traceparent));
    }, { broker: producer, queue });
    const sent = await task.send();
    assert.match(String(sent.options.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // The worker's broker has no tracing middleware, and did not load skiff/otel's options.
    await worker.join(queue);
    assert.deepEqual(seen, [sent.options.traceparent]);
    assert.deepEqual(await worker.stats(queue), { ready: 0, delayed: 0, leased: 0, dead: 0 });
    assert.equal(byKind(spans(), SpanKind.CONSUMER).length, 0);
  } finally {
    await cleanup(redis, namespace);
  }
});

Deno.test("otel: given no SDK registered, then messages carry no traceparent and run", async () => {
  const broker = new MemoryBroker();
  broker.addMiddleware(new OpenTelemetry());
  const queue = unique("q");
  let ran = false;
  const task = actor(unique("untraced"), () => {
    ran = true;
  }, { broker, queue });
  const sent = await task.send();
  await broker.join(queue);
  assert.equal(sent.options.traceparent, undefined);
  assert(ran);
});
