/**
 * The `OpenTelemetry` middleware: a producer span per enqueued message, a consumer span
 * per attempt, joined by a W3C `traceparent` carried in the message's options.
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  context as contexts,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { VERSION } from "../version.ts";
import type { Broker, NackOutcome } from "../broker.ts";
import type { MessageContext } from "../context.ts";
import type { Message } from "../message.ts";
import { Middleware } from "../middleware/middleware.ts";
import type { ProcessOutcome } from "../middleware/middleware.ts";

/** Options of {@linkcode OpenTelemetry}. */
export interface OpenTelemetryOptions {
  /** The tracer provider (default: the global one, looked up at each span). */
  tracerProvider?: TracerProvider;
}

/** Producer spans left open for longer than this many enqueues are ended (a failed send). */
const MAX_OPEN_SENDS = 10_000;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Traces messages with `@opentelemetry/api` (an optional peer dependency: install it, and
 * an SDK to export the spans). Each enqueued message gets a `send <queue>` span (kind
 * producer) whose context travels in the message's `traceparent` option; each attempt gets
 * a `process <queue>` span (kind consumer), its child, ended once the message is acked,
 * retried or dead-lettered. Attributes: `messaging.system` (`skiff`),
 * `messaging.destination.name` (the queue), `messaging.message.id`, `skiff.actor`,
 * `skiff.attempt` and `skiff.outcome` (`acked`, `skipped`, `retried`, `dead`). A failed
 * attempt records its error and an error status. Arguments are never recorded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { actor, MemoryBroker } from "@skiff/skiff";
 * import { OpenTelemetry } from "@skiff/skiff/otel";
 *
 * const broker = new MemoryBroker();
 * broker.addMiddleware(new OpenTelemetry()); // spans go to the registered SDK, if any
 * const task = actor("traced-task", () => {}, { broker });
 * const sent = await task.send();
 * assert.match(String(sent.options.traceparent ?? "none"), /^(00-[0-9a-f-]+|none)$/);
 * await broker.join("default");
 * ```
 */
export class OpenTelemetry extends Middleware {
  readonly #provider: TracerProvider | undefined;
  readonly #sends = new Map<string, Span>();
  readonly #spans = new WeakMap<MessageContext, { span: Span; skipped: boolean }>();

  /**
   * Creates the middleware; add it to the broker of producers and of consumers.
   *
   * @param options The tracer provider.
   */
  constructor(options: OpenTelemetryOptions = {}) {
    super();
    this.#provider = options.tracerProvider;
  }

  /**
   * The trace context of a running message's span, to parent the actor's own spans.
   *
   * @param context The message's context (`this` in the actor).
   * @returns The context holding its consumer span, or the active one when it has none.
   */
  contextOf(context: MessageContext): Context {
    const held = this.#spans.get(context);
    return held ? trace.setSpan(contexts.active(), held.span) : contexts.active();
  }

  /** Starts the send span, and writes its context into the message's `traceparent`. */
  override beforeEnqueue(_broker: Broker, message: Message): Message {
    const span = this.#tracer().startSpan(`send ${message.queue}`, {
      kind: SpanKind.PRODUCER,
      attributes: attributes(message),
    }, contexts.active());
    this.#remember(message.id, span);
    // No SDK registered: a no-op span, with nothing to propagate.
    if (!isSpanContextValid(span.spanContext())) return message;
    const { traceId, spanId, traceFlags } = span.spanContext();
    const traceparent = `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, "0")}`;
    return message.copy({ options: { ...message.options, traceparent } });
  }

  /** Ends the send span. */
  override afterEnqueue(_broker: Broker, message: Message): void {
    this.#sends.get(message.id)?.end();
    this.#sends.delete(message.id);
  }

  /** Starts the attempt's span, a child of the message's `traceparent`. */
  override beforeProcessMessage(context: MessageContext): void {
    const { message, attempt } = context;
    const span = this.#tracer().startSpan(`process ${message.queue}`, {
      kind: SpanKind.CONSUMER,
      attributes: { ...attributes(message), "skiff.attempt": attempt },
    }, parentOf(message));
    this.#spans.set(context, { span, skipped: false });
  }

  /** Records a failed attempt's error. */
  override afterProcessMessage(context: MessageContext, outcome: ProcessOutcome): void {
    const span = this.#spans.get(context)?.span;
    if (!span || !outcome.failed) return;
    const error = outcome.error;
    if (error instanceof Error) span.recordException(error);
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.name : "a thrown value",
    });
  }

  /** Notes the skip, for the outcome. */
  override afterSkipMessage(context: MessageContext): void {
    const held = this.#spans.get(context);
    if (held) held.skipped = true;
  }

  /** Ends the attempt's span: `acked`, or `skipped`. */
  override afterAck(context: MessageContext): void {
    this.#end(context, this.#spans.get(context)?.skipped ? "skipped" : "acked");
  }

  /** Ends the attempt's span: `retried`, or `dead`. */
  override afterNack(context: MessageContext, outcome: NackOutcome): void {
    this.#end(context, outcome.kind === "retry" ? "retried" : "dead");
  }

  #end(context: MessageContext, outcome: string): void {
    const held = this.#spans.get(context);
    if (!held) return;
    this.#spans.delete(context);
    held.span.setAttribute("skiff.outcome", outcome);
    held.span.end();
  }

  #remember(id: string, span: Span): void {
    if (this.#sends.size >= MAX_OPEN_SENDS) {
      // A send that failed never reaches afterEnqueue: end the oldest open span.
      const [oldest, open] = this.#sends.entries().next().value!;
      open.end();
      this.#sends.delete(oldest);
    }
    this.#sends.set(id, span);
  }

  #tracer(): Tracer {
    return (this.#provider ?? trace.getTracerProvider()).getTracer("skiff", VERSION);
  }
}

function attributes(message: Message): Attributes {
  return {
    "messaging.system": "skiff",
    "messaging.destination.name": message.queue,
    "messaging.message.id": message.id,
    "skiff.actor": message.actor,
  };
}

/** The remote parent a message's `traceparent` names, else the active context. */
function parentOf(message: Message): Context {
  const match = TRACEPARENT.exec(String(message.options.traceparent ?? ""));
  if (!match) return contexts.active();
  const [, traceId, spanId, flags] = match;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16),
    isRemote: true,
  });
}
