/** The handlers of `POST /messages` and `POST /tick`; private to skiff. */
import type { Context, Env } from "hono";
import * as v from "valibot";
import { errorName, NAME_PATTERN } from "../_util.ts";
import type { Broker } from "../broker.ts";
import { getBroker } from "../global_broker.ts";
import { deliver, type DeliveryResult, PushReplayed } from "../push/deliver.ts";
import { replayStoreFor } from "../push/replay.ts";
import { tick } from "../tick.ts";
import {
  checkCronSecret,
  checkKeys,
  checkQstash,
  resolve,
  type ResolvedOptions,
} from "./_options.ts";
import {
  authenticate,
  type Credentials,
  parseJson,
  readBody,
  Refusal,
  SIGNATURE_MEMORY_MS,
} from "./_request.ts";
import { keepPushesAlive, platformWaitUntil } from "./_wait_until.ts";

/**
 * Resolves the credentials and the broker, reads the body and authenticates the request:
 * every refusal here costs no Redis command but the replay check's one `SET`. A bearer
 * secret is accepted on `/tick` only.
 */
async function admit<E extends Env>(
  c: Context<E>,
  options: ResolvedOptions<E>,
  route: "messages" | "tick",
): Promise<{ broker: Broker; body: Uint8Array; mac?: string }> {
  const credentials = await credentialsFor(c, options, route);
  const broker = options.broker === undefined ? getBroker() : await resolve(options.broker, c);
  const body = await readBody(c, options.maxBodyBytes, route === "tick");
  const { replayStore } = options;
  const replay = () =>
    typeof replayStore === "function"
      ? replayStore(broker, c)
      : replayStore ?? replayStoreFor(broker);
  // Without a replay store of the user's, a push's signature is remembered by the claim
  // itself (one request fewer); a tick's, and a QStash token, by the replay store.
  const deferSignature = route === "messages" && replayStore === undefined;
  const { mac } = await authenticate(c, body, credentials, broker.now(), replay, deferSignature);
  return { broker, body, mac };
}

/** The credentials configured for this request, checked. */
async function credentialsFor<E extends Env>(
  c: Context<E>,
  options: ResolvedOptions<E>,
  route: "messages" | "tick",
): Promise<Credentials> {
  const signingKeys = checkKeys(
    options.signingKeys === undefined ? [] : await resolve(options.signingKeys, c),
    "Cannot accept push",
  );
  const cronSecret = route === "tick" && options.cronSecret !== undefined
    ? checkCronSecret(await resolve(options.cronSecret, c), "Cannot accept push")
    : undefined;
  const qstash = options.qstash === undefined
    ? undefined
    : checkQstash(await resolve(options.qstash, c), "Cannot accept push");
  if (signingKeys.length === 0 && cronSecret === undefined && qstash === undefined) {
    throw new Refusal(
      500,
      "Cannot accept push: no credentials are configured; set 'signingKeys', 'cronSecret' or 'qstash'",
    );
  }
  return { signingKeys, cronSecret, qstash };
}

/**
 * The status of a push's answer: 503 if any id must be retried, 202 if any is elsewhere or
 * waits (`busy`: it runs when a slot of its queue frees, with no retry spent).
 */
function statusOf(results: readonly DeliveryResult[]): 200 | 202 | 503 {
  if (results.some((r) => r.status === "error")) return 503;
  if (results.some((r) => ["leased", "deferred", "busy"].includes(r.status))) return 202;
  return 200;
}

/** `POST /messages`: a signed push of `{ queue, ids }`. */
export function messagesRoute<E extends Env>(
  options: ResolvedOptions<E>,
): (c: Context<E>) => Promise<Response> {
  const { maxIds, leaseMs, budgetMs, concurrency } = options;
  const PushBody = v.strictObject({
    queue: v.pipe(v.string(), v.regex(NAME_PATTERN)),
    ids: v.pipe(
      v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(100))),
      v.minLength(1),
      v.maxLength(maxIds),
    ),
  });
  return async (c) => {
    const { broker, body, mac } = await admit(c, options, "messages");
    const parsed = v.safeParse(PushBody, parseJson(body));
    if (!parsed.success) {
      const field = v.getDotPath(parsed.issues[0])?.split(".")[0];
      throw new Refusal(
        400,
        field === "queue"
          ? "Cannot accept push: 'queue' must be 1 to 200 of A-Z a-z 0-9 _ . : @ / -"
          : field === "ids"
          ? `Cannot accept push: 'ids' must be an array of 1 to ${maxIds} ids of 1 to 100 characters`
          : "Cannot accept push: the body must be an object with 'queue' and 'ids' only",
      );
    }
    const { queue, ids } = parsed.output;
    let results: DeliveryResult[];
    const once = mac === undefined ? undefined : { key: mac, ttlMs: SIGNATURE_MEMORY_MS };
    try {
      results = await deliver(broker, queue, ids, { leaseMs, budgetMs, concurrency, once });
    } catch (error) {
      if (error instanceof PushReplayed) {
        throw new Refusal(401, "Cannot accept push: this signature was used already");
      }
      broker.logger.error(`Cannot claim pushed messages of '${queue}': ${errorName(error)}`, {
        queue,
        error,
      });
      throw new Refusal(503, "Cannot process push now: the broker is unreachable; retry later");
    } finally {
      keepPushesAlive(c, broker);
    }
    return c.json({ queue, results }, statusOf(results));
  };
}

const TickBody = v.strictObject({
  queues: v.optional(v.pipe(v.array(v.pipe(v.string(), v.regex(NAME_PATTERN))), v.minLength(1))),
});

/** `GET` or `POST /tick`: an authenticated tick, body empty or `{ queues?: [...] }`. */
export function tickRoute<E extends Env>(
  options: ResolvedOptions<E>,
): (c: Context<E>) => Promise<Response> {
  return async (c) => {
    const { broker, body } = await admit(c, options, "tick");
    const parsed = v.safeParse(TickBody, body.byteLength === 0 ? {} : parseJson(body));
    if (!parsed.success) {
      throw new Refusal(
        400,
        "Cannot tick: the body must be empty or an object with an optional 'queues' array of queue names",
      );
    }
    const { push, ...rest } = options.tick ?? {};
    try {
      const report = await tick(broker, {
        ...rest,
        budgetMs: rest.budgetMs ?? options.budgetMs,
        leaseMs: options.leaseMs,
        queues: parsed.output.queues ?? rest.queues,
        push: push === undefined ? undefined : await resolve(push, c),
        waitUntil: platformWaitUntil(c),
        scheduler: options.scheduler,
      });
      return c.json(report, 200);
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) throw error;
      broker.logger.error(`Cannot tick: ${errorName(error)}`, { error });
      throw new Refusal(503, "Cannot tick now: the broker is unreachable; retry later");
    } finally {
      keepPushesAlive(c, broker);
    }
  };
}
