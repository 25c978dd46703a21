/**
 * Flow control of a queue: how many of its messages may be leased at once (`parallelism`)
 * and how many may be claimed per period (`rate`), declared on the broker and enforced by
 * its claim transitions, so that every claimer (a pushed request, a pull worker, a tick)
 * keeps to them. See `docs/flow_control.md`, "Parallelism and rate".
 *
 * @module
 */
import * as v from "valibot";
import { describe, NAME_PATTERN } from "../_util.ts";

/** At most `limit` claims per `period` milliseconds (a fixed window). */
export interface RateLimit {
  /** How many messages may be claimed per window. */
  limit: number;
  /** The window, in milliseconds. */
  period: number;
}

/** The limits of one queue: see `docs/flow_control.md`, "Parallelism and rate". */
export interface QueueOptions {
  /**
   * At most this many messages of the queue leased at once, across every worker, push
   * and tick; the rest wait in ready (no retry is spent).
   */
  parallelism?: number;
  /** At most `limit` messages claimed per `period` milliseconds; the rest wait in ready. */
  rate?: RateLimit;
  /**
   * At most this many messages with the same `flowKey` leased at once; the rest of that
   * key wait (no retry is spent) without holding up other keys. Messages without a
   * `flowKey` are not limited by it. See `docs/flow_control.md`, "Per key".
   */
  keyParallelism?: number;
}

const POSITIVE = v.pipe(v.number(), v.integer(), v.minValue(1));

const QueueOptionsSchema = v.strictObject({
  parallelism: v.optional(POSITIVE),
  rate: v.optional(v.strictObject({ limit: POSITIVE, period: POSITIVE })),
  keyParallelism: v.optional(POSITIVE),
});

const QueuesSchema = v.record(v.pipe(v.string(), v.regex(NAME_PATTERN)), QueueOptionsSchema);

/**
 * Checks the `queues` option of a broker and freezes it.
 *
 * @param queues Limits by queue name, as given to the broker.
 * @returns The limits by queue name; queues with no limit are left out.
 * @throws {TypeError} When a queue name or a limit is not what is expected.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const queues = parseQueueOptions({ emails: { parallelism: 3 }, other: {} });
 * assert.deepEqual([...queues.keys()], ["emails"]);
 * assert.throws(() => parseQueueOptions({ emails: { parallelism: 0 } }), TypeError);
 * ```
 */
export function parseQueueOptions(queues: unknown): ReadonlyMap<string, Readonly<QueueOptions>> {
  const parsed = v.safeParse(QueuesSchema, queues ?? {});
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path ?? [];
    const what = "Cannot create broker";
    if (issue.type === "regex" || path.length === 0) {
      throw new TypeError(
        `${what}: 'queues' must be an object of limits keyed by queue names of A-Z a-z 0-9 _ . : @ / -`,
      );
    }
    const where = `'queues.${v.getDotPath(issue)}'`;
    const key = path.length === 1 ? "" : String(path.at(-1)?.key);
    if (!(key in EXPECTED)) {
      throw new TypeError(
        `${what}: ${where} is not a limit: the limits are 'parallelism', 'rate' and 'keyParallelism'`,
      );
    }
    throw new TypeError(
      `${what}: ${where} must be ${EXPECTED[key]}, received ${describe(issue.input)}`,
    );
  }
  const out = new Map<string, Readonly<QueueOptions>>();
  for (const [name, options] of Object.entries(parsed.output)) {
    if (
      options.parallelism === undefined && options.rate === undefined &&
      options.keyParallelism === undefined
    ) continue;
    out.set(name, Object.freeze({ ...options }));
  }
  return out;
}

const EXPECTED: Record<string, string> = {
  "": "an object with 'parallelism', 'rate' or 'keyParallelism'",
  parallelism: "a positive integer",
  keyParallelism: "a positive integer",
  rate: "an object { limit, period } of positive integers",
  limit: "a positive integer",
  period: "a positive integer number of milliseconds",
};

/**
 * The script arguments of a queue's limits: parallelism, rate limit and period, key
 * parallelism, 0 for none.
 *
 * @param options The queue's limits, if any.
 * @returns Four numbers.
 */
export function flowArgs(
  options: Readonly<QueueOptions> | undefined,
): [number, number, number, number] {
  return [
    options?.parallelism ?? 0,
    options?.rate?.limit ?? 0,
    options?.rate?.period ?? 0,
    options?.keyParallelism ?? 0,
  ];
}

/**
 * The flow key of an encoded message, read from its body: `undefined` when it has none
 * (or the body is not a JSON object).
 *
 * @param body The encoded envelope.
 * @returns Its `flowKey`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(flowKeyOf('{"v":1,"flowKey":"tenant-42"}'), "tenant-42");
 * assert.equal(flowKeyOf('{"v":1}'), undefined);
 * ```
 */
export function flowKeyOf(body: string): string | undefined {
  // Most bodies have none: skip the parse.
  if (!body.includes('"flowKey":')) return undefined;
  try {
    const key = (JSON.parse(body) as { flowKey?: unknown } | null)?.flowKey;
    return typeof key === "string" ? key : undefined;
  } catch {
    return undefined;
  }
}
