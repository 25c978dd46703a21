/**
 * The Redis broker: messages live in Redis, reached through the Upstash REST protocol
 * (`@upstash/redis`), one Lua script per transition. Key layout and scripts:
 * `src/brokers/upstash/`.
 *
 * @module
 */
import type { RedisCommands } from "../redis/client.ts";
import {
  Broker,
  type BrokerOptions,
  type CancelStored,
  type Claim,
  type ClaimByIdOptions,
  type ClaimByIdResult,
  type ClaimOptions,
  type DeadLetter,
  type EncodedMessage,
  type FlushCounts,
  type GroupStart,
  type Lease,
  type LeaseOptions,
  type Logger,
  type MessageState,
  type NackOutcome,
  type PlanMember,
  type PlanResult,
  planResultIds,
  type PlanStart,
  type QueueStats,
  type SettleOutcome,
  type SettleResult,
  THROTTLED,
  type ThroughputMinute,
} from "../broker.ts";
import { minuteOf, THROUGHPUT_KINDS, type ThroughputKind, throughputRow } from "./_throughput.ts";
import { COMPLETED_GROUP_TTL } from "./_template.ts";
import { newCallId, type Script, type ScriptArg } from "../redis/script.ts";
import {
  fromJson,
  MAX_BATCH,
  toClaimById,
  toClaims,
  toDeadLetters,
  toStates,
  writeRequests,
} from "./upstash/_codec.ts";
import { Coalescer } from "./upstash/_batch.ts";
import { MAX_CLAIM_BYTES } from "./_budget.ts";
import {
  hasEffects,
  planEntryJson,
  settleRequest,
  templateJson,
  toSettled,
} from "./upstash/_effects.ts";
import { flowArgs } from "./flow.ts";
import {
  callKey,
  callKeys,
  flowKeys,
  groupKey,
  NAMESPACE_PATTERN,
  onceKey,
  planKey,
  progressKey,
  queueKeys,
  rateKey,
  readProgress,
  throughputKey,
} from "./upstash/_keys.ts";
import { retryTransient } from "./upstash/_retry.ts";
import { type PipelineClient, redisError, runPipelined, type ScriptRun } from "./upstash/_run.ts";
import { CLAIM, CLAIM_BY_ID } from "./upstash/claim.ts";
import { DEAD_LETTERS, PURGE_DEAD, REQUEUE } from "./upstash/dead_letters.ts";
import { ACK, EXTEND_LEASE, RELEASE } from "./upstash/lease.ts";
import { NACK } from "./upstash/nack.ts";
import { PLAN_RESULTS } from "./upstash/plan.ts";
import { SETTLE } from "./upstash/settle.ts";
import { STATE } from "./upstash/state.ts";
import { dedupRun, WRITE, WRITE_DEDUP } from "./upstash/write.ts";
import { CANCEL, FLUSH } from "./upstash/cancel.ts";
import { type CancelGroups, cancelGroups, toCancelled } from "./upstash/_cancel.ts";
import { debounceRun, throttleRun, WRITE_DEBOUNCE } from "./upstash/debounce.ts";

/** What the broker needs of a client: any `@upstash/redis` instance fits. */
export type UpstashBrokerClient = Pick<RedisCommands, "eval" | "evalsha" | "pipeline">;

/** Options of {@linkcode UpstashBroker}. */
export interface UpstashBrokerOptions extends BrokerOptions {
  /** The client, e.g. `Redis.fromEnv()`. */
  redis: UpstashBrokerClient;
  /** The prefix of every key (default `"skiff"`); no braces. */
  namespace?: string;
}

/**
 * How long a quiet batch of acks waits for its queue's next claim (milliseconds), while the
 * queue's claims come this close together on average: a push endpoint at 500 pushes a second
 * sends 2.9 HTTP requests per message instead of 3.8. Claims further apart (sparse traffic,
 * the first pushes after a pause) would not come in time: their acks go at once.
 */
const ACK_LINGER_MS = 3;

/**
 * The longest time between two claims that counts in their average (milliseconds): a pause
 * weighs as much as this, so that a few close claims after it make the stream dense again.
 */
const CLAIM_GAP_CAP_MS = 4 * ACK_LINGER_MS;

/** How long after a queue's last claim its acks may still linger (milliseconds). */
const LINGER_AFTER_CLAIM_MS = 1_000;

/**
 * How many shared `WRITE` calls of one queue's sends may travel at once; sends made while
 * that many are in flight gather into the next. More than the acks' 2, so that a request
 * that hangs holds up only the sends that went in it (until this many hang).
 */
const SEND_BATCHES_IN_FLIGHT = 8;

/**
 * Keeps queues in Redis: `<namespace>:{<queue>}:ready` and four other keys per queue,
 * changed by Lua scripts, each one round trip and safe to repeat with the same outcome:
 * every call that changes state carries a call id of its own, and a retry of it (the
 * client retries a request whose response was lost) answers what the first run did and
 * changes nothing more. Acks and nacks retry transient failures (5xx, network) for up to
 * 15 s with the same call id.
 *
 * @example Send, then drain inline
 * ```ts ignore
 * import { Redis } from "@upstash/redis";
 * import { actor, UpstashBroker } from "@skiff/skiff";
 *
 * const broker = new UpstashBroker({ redis: Redis.fromEnv() });
 * const add = actor("add", (x: number, y: number) => x + y, { broker });
 * await add.send(1, 2);
 * await broker.join("default");
 * ```
 */
export class UpstashBroker extends Broker {
  /** The prefix of every key. */
  readonly namespace: string;
  /** The client, for parts that share the broker's Redis (push replay protection, say). */
  readonly redis: UpstashBrokerClient;
  /**
   * Acks of one turn of the event loop, one script call per queue. While the queue's claims
   * come close together, a quiet batch lingers {@linkcode ACK_LINGER_MS} for the next one to
   * take it along in one request (a push endpoint's next push, a worker's next round) before
   * it goes alone.
   */
  readonly #acks = new Coalescer<Lease, boolean>(
    (queue, leases) => this.#leases(ACK, "acknowledge messages", queue, leases, true),
    { lingerMs: (queue) => this.#dense(queue) ? ACK_LINGER_MS : 0 },
  );

  /** Each queue's last claim, and the moving average of the time between its claims. */
  readonly #claims = new Map<string, { last: number; gap: number }>();

  /**
   * Plain sends of one queue made together (concurrent `send()`s: no dedup key, debounce,
   * throttle, group, plan or call id) share one `WRITE`: 3 to 5 commands for them all,
   * where each alone costs 3, and one script call for Redis and the REST server to run.
   * Up to {@linkcode SEND_BATCHES_IN_FLIGHT} such calls of a queue travel at once.
   */
  readonly #sends = new Coalescer<EncodedMessage, never>(async (_queue, records) => {
    for (const runs of writeRequests(this.namespace, records, this.#now())) {
      await this.#runWrites(runs);
    }
    return [];
  }, { limit: SEND_BATCHES_IN_FLIGHT });

  /**
   * Creates an UpstashBroker; it sends nothing to Redis until used.
   *
   * @param options The client, the namespace, and what every broker takes.
   * @throws {TypeError} When `redis` is missing or `namespace` is invalid.
   * @throws {RangeError} When a limit is not a positive number.
   */
  constructor(options: UpstashBrokerOptions) {
    super(options);
    if (typeof options?.redis?.evalsha !== "function") {
      throw new TypeError("Cannot create broker: 'redis' must be an @upstash/redis client");
    }
    const namespace = options.namespace ?? "skiff";
    if (typeof namespace !== "string" || !NAMESPACE_PATTERN.test(namespace)) {
      throw new TypeError("Cannot create broker: 'namespace' must be 1-100 of A-Z a-z 0-9 _.:@/-");
    }
    this.namespace = namespace;
    this.redis = options.redis;
  }

  /**
   * Stores messages as ready or delayed: one request (a pipeline when several queues),
   * more only for batches over 4 MiB. Plain messages of one queue sent without a call id
   * share a `WRITE` with the other sends of that queue made at the same time. The state of
   * tracked groups goes first, in the first request: `HSETNX left`, `HSET` of its
   * templates, `PEXPIRE` (3 commands each).
   * Messages with a dedup key go in one more request, one `WRITE_DEDUP` each (a send of
   * one such message is that one script call alone). A pipeline's plan goes first too:
   * `HSET` of its steps (one per 1000) and `PEXPIRE`.
   *
   * @param records The encoded messages.
   * @param groups Groups whose state to create; a state that exists keeps its count.
   * @param plans Pipeline plans to store.
   * @param callId The caller's id of this call: each script call's record is derived from
   *   it (`<callId>:<n>` for the n-th WRITE, `<callId>:c<n>` for the n-th record with a
   *   dedup key, a debounce or a throttle), so the same call made again stores nothing twice.
   * @returns The id each record stands for: its own, or the first one's when deduplicated.
   * @throws {Error} When Redis fails.
   */
  protected async write(
    records: readonly EncodedMessage[],
    groups: readonly GroupStart[] = [],
    plans: readonly PlanStart[] = [],
    callId?: string,
  ): Promise<readonly string[]> {
    const queues = new Set([
      ...records.map((r) => r.queue),
      ...groups.map((g) => g.home),
      ...plans.map((p) => p.home),
    ]);
    for (const queue of queues) this.#keys("send messages", queue);
    const special = (r: EncodedMessage) =>
      r.dedupKey !== undefined || r.debounce !== undefined || r.throttle !== undefined;
    const starts = groups.length > 0 || plans.length > 0;
    const fail = (error: unknown) =>
      redisError(
        "send messages",
        records[0]?.queue ?? groups[0]?.home ?? plans[0]?.home ?? "",
        error,
      );
    if (callId === undefined && !starts && queues.size === 1 && !records.some(special)) {
      try {
        await this.#sends.add(records[0].queue, records);
      } catch (error) {
        throw fail(error);
      }
      return records.map((r) => r.id);
    }
    const now = this.#now();
    const plain = records.filter((r) => !special(r));
    const deduped = records.filter(special);
    const requests = writeRequests(this.namespace, plain, now, callId);
    if (requests.length === 0 && (deduped.length === 0 || starts)) requests.push([]);
    let prelude = starts ? this.#start(groups, plans) : undefined;
    for (const runs of requests) {
      try {
        await this.#runWrites(runs, prelude);
      } catch (error) {
        throw fail(error);
      }
      prelude = undefined;
    }
    if (deduped.length === 0) return records.map((r) => r.id);
    // One script call per message with a dedup key, a debounce or a throttle: those of one
    // script in one request.
    const first = new Map<EncodedMessage, string>();
    for (const [script, list] of this.#bySendScript(deduped, callId)) {
      const runs = list.map(([, run]) => run);
      let answers: string[];
      try {
        answers = runs.length === 1
          ? [await script.run(this.redis, runs[0].keys, runs[0].args)]
          : await runPipelined(this.redis, script, runs);
      } catch (error) {
        throw fail(error);
      }
      list.forEach(([record], i) => {
        const id = String(answers[i]);
        // A throttled send names no message: the dedup script answered the one stored.
        first.set(record, record.throttle && id !== record.id ? THROTTLED : id);
      });
    }
    return records.map((r) => first.get(r) ?? r.id);
  }

  /**
   * Notes a claim of the queue, for {@linkcode UpstashBroker.#dense}: the time since the
   * last one (at most {@linkcode CLAIM_GAP_CAP_MS}) joins the average with weight 1/4, so
   * one late claim in a steady stream does not stop the acks from waiting.
   */
  #claimed(queue: string, now: number): void {
    const claims = this.#claims.get(queue);
    if (!claims) {
      this.#claims.set(queue, { last: now, gap: CLAIM_GAP_CAP_MS });
      return;
    }
    const gap = Math.min(Math.max(now - claims.last, 0), CLAIM_GAP_CAP_MS);
    claims.gap = 0.75 * claims.gap + 0.25 * gap;
    claims.last = now;
  }

  /**
   * Whether the queue's claims come close enough together for an ack to wait for the next
   * one: on average within {@linkcode ACK_LINGER_MS} of each other, the last one recent.
   */
  #dense(queue: string): boolean {
    const claims = this.#claims.get(queue);
    return claims !== undefined && claims.gap <= ACK_LINGER_MS &&
      this.#now() - claims.last <= LINGER_AFTER_CLAIM_MS;
  }

  /** One request of `WRITE` runs, after the prelude's commands when there is one. */
  async #runWrites(
    runs: readonly ScriptRun[],
    prelude?: (pipeline: ReturnType<PipelineClient["pipeline"]>) => void,
  ): Promise<void> {
    if (runs.length === 1 && !prelude) await WRITE.run(this.redis, runs[0].keys, runs[0].args);
    else await runPipelined(this.redis, WRITE, runs, prelude);
  }

  /** The script call of each controlled record, grouped by script. */
  #bySendScript(
    records: readonly EncodedMessage[],
    callId?: string,
  ): Map<Script<string>, [EncodedMessage, ScriptRun][]> {
    const now = this.#now();
    const groups = new Map<Script<string>, [EncodedMessage, ScriptRun][]>();
    for (const [n, record] of records.entries()) {
      const id = callId === undefined ? undefined : `${callId}:c${n}`;
      const [script, run] = record.debounce
        ? [WRITE_DEBOUNCE, debounceRun(this.namespace, record, now, id)]
        : record.throttle
        ? [WRITE_DEDUP, throttleRun(this.namespace, record, now, id)]
        : [WRITE_DEDUP, dedupRun(this.namespace, record, now, id)];
      const list = groups.get(script) ?? [];
      list.push([record, run]);
      groups.set(script, list);
    }
    return groups;
  }

  #start(
    groups: readonly GroupStart[],
    plans: readonly PlanStart[],
  ): (pipeline: ReturnType<PipelineClient["pipeline"]>) => void {
    return (pipeline) => {
      for (const plan of plans) {
        const key = planKey(this.namespace, plan.home, plan.id);
        const fields: Record<string, string> = { results: JSON.stringify(plan.results) };
        if (plan.open !== undefined) fields.open = String(plan.open);
        for (const [at, entry] of plan.steps) fields[at] = planEntryJson(entry);
        const entries = Object.entries(fields);
        for (let i = 0; i < entries.length; i += MAX_BATCH) {
          pipeline.hset(key, Object.fromEntries(entries.slice(i, i + MAX_BATCH)));
        }
        pipeline.pexpire(key, plan.ttl);
      }
      for (const group of groups) {
        const key = groupKey(this.namespace, group.home, group.id);
        pipeline.hsetnx(key, "left", String(group.size));
        pipeline.hset(key, {
          done: templateJson(group.onCompletion),
          fail: templateJson(group.onFailure),
        });
        pipeline.pexpire(key, group.ttl);
      }
    };
  }

  /**
   * Acks or nacks a message and writes its effects in one SETTLE script, if its token
   * matches; without effects, the ACK or NACK script (the same cost as `ack()`, `nack()`).
   *
   * @param queue The queue.
   * @param lease The lease.
   * @param outcome Ack, retry or dead, with the effects.
   * @returns Whether it was done, and what its effects enqueued.
   * @throws {TypeError} On an invalid queue name.
   * @throws {RangeError} On a retry time that is not a finite number.
   * @throws {Error} When Redis fails.
   */
  async settle(queue: string, lease: Lease, outcome: SettleOutcome): Promise<SettleResult> {
    if (!hasEffects(outcome)) {
      if (outcome.kind === "ack") {
        const [done] = await this.ack(queue, [lease]);
        return { done, enqueued: [] };
      }
      return { done: await this.nack(queue, lease, outcome), enqueued: [] };
    }
    const action = outcome.kind === "ack" ? "acknowledge a message" : "nack a message";
    this.#keys(action, queue);
    if (outcome.kind === "retry" && !Number.isFinite(outcome.at)) {
      throw new RangeError(
        `Cannot retry a message: 'at' must be a finite number of milliseconds, received ${outcome.at}`,
      );
    }
    for (const name of outcome.effects?.member?.queues ?? []) this.#keys(action, name);
    for (const record of outcome.effects?.messages ?? []) this.#keys(action, record.queue);
    const { keys, args } = settleRequest(queue, lease, outcome, {
      namespace: this.namespace,
      now: this.#now(),
      deadLetterTtl: this.deadLetterTtl,
      completedTtl: COMPLETED_GROUP_TTL,
      flow: this.#flowKeys(queue),
      counter: this.#counter(queue, outcome.kind === "ack" ? "acked" : finishedAs(outcome)),
    });
    let answer: unknown;
    try {
      answer = await retryTransient(
        () => SETTLE.run(this.redis, keys, args),
        this.#retry(action, queue),
      );
    } catch (error) {
      throw redisError(action, queue, error);
    }
    const { done, enqueued, lost, planLost } = toSettled(answer);
    const member = outcome.effects?.member;
    if (lost && member) {
      this.logger.error(
        `Cannot report message ${lease.id} to group ${member.group}: the group is unknown or expired`,
        { id: lease.id, queue, group: member.group },
      );
    }
    if (planLost) {
      this.logger.error(
        `Cannot continue message ${lease.id}: the plan of its pipeline is unknown or expired`,
      );
    }
    return { done, enqueued };
  }

  /**
   * Reads a pipeline's plan: the ids of its messages at position `from` or later that store
   * results (given a member pipeline's step, that member's from the step on, and those
   * after its group). One read-only script (`HGET`).
   *
   * @param home The queue whose hash tag holds the plan.
   * @param id The plan id.
   * @param from The first position.
   * @param member A member pipeline's step.
   * @returns The ids; none when the plan is gone.
   * @throws {Error} When Redis fails.
   */
  async planResults(
    home: string,
    id: string,
    from: number,
    member?: PlanMember,
  ): Promise<string[]> {
    this.#keys("read a pipeline's plan", home);
    const keys = [planKey(this.namespace, home, id)];
    const answer = await this.#run(PLAN_RESULTS, "read a pipeline's plan", home, [], { keys });
    return planResultIds(fromJson(answer) as PlanResult[], from, member);
  }

  /**
   * Promotes due delays, recovers expired leases, then leases up to `count` (at most 1000)
   * ready messages, lowest score first, and no more bodies than fit in 1 MiB (always one),
   * nor more than the queue's `parallelism` and `rate` allow: a claim may answer fewer than
   * `count` while more are ready.
   *
   * @param queue The queue.
   * @param options How many, and for how long.
   * @returns The claims, in the order they should run.
   * @throws {TypeError} On an invalid queue name.
   * @throws {RangeError} On a `count` or `leaseMs` that is not a positive integer.
   * @throws {Error} When Redis fails.
   */
  async claim(queue: string, options: ClaimOptions = {}): Promise<Claim[]> {
    const { count, leaseMs } = this.checkArgs("claim messages", queue, options);
    const now = this.#now();
    const leaseUntil = now + leaseMs;
    // The claim token is the call id: its leases carry it, so a retry finds them.
    const token = newCallId();
    const args = [now, Math.min(count, MAX_BATCH), leaseUntil, token, MAX_CLAIM_BYTES];
    const keys = [...queueKeys(this.namespace, queue), callKey(this.namespace, queue, token)];
    const flow = this.queueOptions(queue);
    if (flow) {
      args.push(...flowArgs(flow));
      if (flow.rate || flow.keyParallelism) keys.push(rateKey(this.namespace, queue));
      if (flow.keyParallelism) keys.push(...flowKeys(this.namespace, queue));
    }
    // Acks of the queue waiting to be sent go first, in the same request.
    this.#claimed(queue, now);
    this.#acks.flush(queue);
    return toClaims(await this.#run(CLAIM, "claim messages", queue, args, { keys }), leaseUntil);
  }

  /**
   * Leases the given messages if ready, due or lease-expired. Each script call reads at
   * most 1 MiB of bodies (always one message): more ids take more calls. Ready ones beyond
   * the queue's `parallelism` and `rate` stay ready and are answered `busy`.
   *
   * @param queue The queue.
   * @param ids The message ids (at most 1000).
   * @param options For how long.
   * @returns The claims, and the state of each message not claimed.
   * @throws {TypeError} On an invalid queue name.
   * @throws {RangeError} On a `leaseMs` that is not a positive integer, or over 1000 ids.
   * @throws {Error} When Redis fails.
   */
  async claimById(
    queue: string,
    ids: readonly string[],
    options: ClaimByIdOptions = {},
  ): Promise<ClaimByIdResult> {
    const { leaseMs } = this.checkArgs("claim messages by id", queue, options);
    const { once } = options;
    if (ids.length > MAX_BATCH) {
      throw new RangeError(
        `Cannot claim messages by id: at most ${MAX_BATCH} ids, received ${ids.length}`,
      );
    }
    if (ids.length === 0) return { claimed: [], unclaimed: [] };
    const now = this.#now();
    const leaseUntil = now + leaseMs;
    const result: ClaimByIdResult = { claimed: [], unclaimed: [] };
    const flow = this.queueOptions(queue);
    const keys = queueKeys(this.namespace, queue);
    if (flow?.rate || flow?.keyParallelism || once) keys.push(rateKey(this.namespace, queue));
    if (flow?.keyParallelism) keys.push(...flowKeys(this.namespace, queue));
    let rest: readonly string[] = ids;
    // Only the first call carries the once key: later ones (ids over the byte budget) are
    // the same claim, continued.
    let onceTtl = 0;
    if (once) {
      keys.push(onceKey(this.namespace, queue, once.key));
      onceTtl = Math.max(1, Math.ceil(once.ttlMs));
    }
    // The queue's waiting acks ride in this request.
    this.#claimed(queue, now);
    this.#acks.flush(queue);
    while (rest.length > 0) {
      const args = [
        now,
        leaseUntil,
        newCallId(),
        MAX_CLAIM_BYTES,
        ...flowArgs(flow),
        onceTtl,
        ...rest,
      ];
      const answer = await this.#run(CLAIM_BY_ID, "claim messages by id", queue, args, { keys });
      const { claimed, unclaimed, deferred, replayed } = toClaimById(answer, leaseUntil);
      if (replayed) return { claimed: [], unclaimed: [], replayed };
      if (onceTtl > 0) {
        keys.pop();
        onceTtl = 0;
      }
      result.claimed.push(...claimed);
      result.unclaimed.push(...unclaimed);
      rest = deferred;
    }
    return result;
  }

  /**
   * Deletes finished messages whose token still matches. Acks of one queue that arrive in
   * the same turn of the event loop (messages finishing together) share one script call:
   * one lease costs 4 commands, a batch 5 however large. A transient failure (5xx, network)
   * is retried for up to 15 s with the same call id, so an ack whose first attempt landed
   * (its answer lost) reports `true`, not a stale token.
   *
   * @param queue The queue.
   * @param leases The leases.
   * @returns For each lease, whether it was acknowledged.
   * @throws {TypeError} On an invalid queue name.
   * @throws {Error} When Redis fails.
   */
  async ack(queue: string, leases: readonly Lease[]): Promise<boolean[]> {
    this.#keys("acknowledge messages", queue);
    if (leases.length === 0) return [];
    return await this.#acks.add(queue, leases);
  }

  /**
   * Retries a failed message later, or moves it to the dead letters. A transient failure is
   * retried as an ack's is.
   *
   * @param queue The queue.
   * @param lease The lease.
   * @param outcome Retry at a time, or dead with a reason; with an optional new body.
   * @returns Whether it was done (`false`: stale token).
   * @throws {TypeError} On an invalid queue name.
   * @throws {RangeError} On a retry time that is not a finite number.
   * @throws {Error} When Redis fails.
   */
  async nack(queue: string, lease: Lease, outcome: NackOutcome): Promise<boolean> {
    const now = this.#now();
    const retry = outcome.kind === "retry";
    const action = retry ? "retry a message" : "dead-letter a message";
    if (retry && !Number.isFinite(outcome.at)) {
      throw new RangeError(
        `Cannot ${action}: 'at' must be a finite number of milliseconds, received ${outcome.at}`,
      );
    }
    const args: ScriptArg[] = [
      lease.id,
      lease.token,
      retry ? "r" : "d",
      retry ? Math.ceil(outcome.at) : now,
      retry ? "" : outcome.reason,
      now - this.deadLetterTtl,
    ];
    if (outcome.body !== undefined) args.push(outcome.body);
    const keys = this.#endKeys(queue);
    const count = finishedAs(outcome);
    return await this.#run(NACK, action, queue, args, { keys, retry: true, count }) === 1;
  }

  /**
   * Hands leased messages back to ready, with their old place, without counting a retry.
   *
   * @param queue The queue.
   * @param leases The leases.
   * @returns For each lease, whether it was released.
   * @throws {TypeError} On an invalid queue name.
   * @throws {Error} When Redis fails.
   */
  release(queue: string, leases: readonly Lease[]): Promise<boolean[]> {
    return this.#leases(RELEASE, "release messages", queue, leases, false);
  }

  /**
   * Extends a lease to now + `leaseMs` if its token matches.
   *
   * @param queue The queue.
   * @param lease The lease.
   * @param options The new lease duration.
   * @returns Whether the lease is still held.
   * @throws {RangeError} On a `leaseMs` that is not a positive integer.
   * @throws {Error} When Redis fails.
   */
  async extendLease(queue: string, lease: Lease, options: LeaseOptions = {}): Promise<boolean> {
    const { leaseMs } = this.checkArgs("extend a lease", queue, options);
    const args = [lease.id, lease.token, this.#now() + leaseMs];
    return await this.#run(EXTEND_LEASE, "extend a lease", queue, args) === 1;
  }

  /**
   * Extends several leases of a queue, each if its token matches, in one HTTP request (a
   * pipeline of the extend script: 2 commands per lease, 3 when its end does not change).
   *
   * @param queue The queue.
   * @param leases The leases.
   * @param options The new lease duration.
   * @returns For each lease, whether it is still held.
   * @throws {RangeError} On a `leaseMs` that is not a positive integer.
   * @throws {Error} When Redis fails.
   */
  override async extendLeases(
    queue: string,
    leases: readonly Lease[],
    options: LeaseOptions = {},
  ): Promise<boolean[]> {
    const { leaseMs } = this.checkArgs("extend leases", queue, options);
    if (leases.length === 0) return [];
    if (leases.length === 1) return [await this.extendLease(queue, leases[0], options)];
    const keys = queueKeys(this.namespace, queue);
    const until = this.#now() + leaseMs;
    const held: boolean[] = [];
    for (let i = 0; i < leases.length; i += MAX_BATCH) {
      const runs = leases.slice(i, i + MAX_BATCH).map((lease) => ({
        keys,
        args: [lease.id, lease.token, until],
      }));
      try {
        const answers = await runPipelined(this.redis, EXTEND_LEASE, runs);
        held.push(...answers.map((n) => Number(n) === 1));
      } catch (error) {
        throw redisError("extend leases", queue, error);
      }
    }
    return held;
  }

  /**
   * Tells where messages are, changing nothing: one read-only script, one request per
   * 1000 ids. A due delay is `delayed` and an expired lease `leased` until a claim moves
   * them, as `stats()` counts them.
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @returns The state of each, in order (`missing`: done, or never sent).
   * @throws {TypeError} On an invalid queue name.
   * @throws {Error} When Redis fails.
   */
  async state(queue: string, ids: readonly string[]): Promise<MessageState[]> {
    this.checkArgs("read message states", queue);
    const states: MessageState[] = [];
    for (let i = 0; i < ids.length; i += MAX_BATCH) {
      const args = [this.#now() - this.deadLetterTtl, ...ids.slice(i, i + MAX_BATCH)];
      const flow = this.#flowKeys(queue);
      const keys = flow ? [...queueKeys(this.namespace, queue), flow[0]] : undefined;
      const answer = await this.#run(STATE, "read message states", queue, args, { keys });
      states.push(...toStates(answer));
    }
    return states;
  }

  /**
   * Counts a queue's messages by state: four commands in one request.
   *
   * @param queue The queue.
   * @returns The counts.
   * @throws {TypeError} On an invalid queue name.
   * @throws {Error} When Redis fails.
   */
  async stats(queue: string): Promise<QueueStats> {
    const [ready, timers, , dead] = this.#keys("count messages", queue);
    const pipeline = this.redis.pipeline();
    pipeline.zcard(ready);
    pipeline.zcount(timers, 0, "+inf");
    pipeline.zcount(timers, "-inf", "(0");
    pipeline.zcount(dead, `(${this.#now() - this.deadLetterTtl}`, "+inf");
    // With keyParallelism, the messages parked while their flow key was full are ready too.
    const flow = this.#flowKeys(queue);
    if (flow) pipeline.zcard(flow[1]);
    try {
      const [r, d, l, x, p = 0] = await pipeline.exec<number[]>();
      return {
        ready: Number(r) + Number(p),
        delayed: Number(d),
        leased: Number(l),
        dead: Number(x),
      };
    } catch (error) {
      throw redisError("count messages", queue, error);
    }
  }

  /**
   * Reads the counts of the given minutes (the `throughput` option): one `MGET`.
   *
   * @param queue The queue.
   * @param minutes Minutes since the epoch, oldest first.
   * @returns One row per minute.
   * @throws {Error} When Redis fails.
   */
  protected async readThroughput(
    queue: string,
    minutes: readonly number[],
  ): Promise<ThroughputMinute[]> {
    const keys = minutes.flatMap((minute) =>
      THROUGHPUT_KINDS.map((kind) => throughputKey(this.namespace, queue, kind, minute))
    );
    const pipeline = this.redis.pipeline();
    pipeline.mget(...keys);
    let counts: unknown[];
    try {
      [counts] = await pipeline.exec<[unknown[]]>();
    } catch (error) {
      throw redisError("read throughput", queue, error);
    }
    return minutes.map((minute, i) => {
      const [acked, retried, dead] = THROUGHPUT_KINDS.map((_, k) =>
        Number(counts[i * THROUGHPUT_KINDS.length + k] ?? 0)
      );
      return throughputRow(minute, { acked, retried, dead });
    });
  }

  /**
   * Lists dead letters, oldest first. Each script call reads at most 1000 and 1 MiB of
   * bodies (always one): a larger `limit` takes several; `eachDeadLetter()` streams them.
   *
   * @param queue The queue.
   * @param options How many to skip and return (default 0 and 100).
   * @returns The dead letters.
   * @throws {RangeError} When `offset` or `limit` is not a non-negative integer.
   * @throws {Error} When Redis fails.
   */
  async deadLetters(
    queue: string,
    options: { offset?: number; limit?: number } = {},
  ): Promise<DeadLetter[]> {
    const { offset = 0, limit = 100 } = options;
    for (const [name, value] of [["offset", offset], ["limit", limit]] as const) {
      if (!Number.isInteger(value) || value < 0) {
        throw new RangeError(
          `Cannot list dead letters: '${name}' must be a non-negative integer, received ${value}`,
        );
      }
    }
    const out: DeadLetter[] = [];
    while (out.length < limit) {
      const first = offset + out.length;
      const asked = Math.min(limit - out.length, MAX_BATCH);
      const args = [this.#now() - this.deadLetterTtl, first, first + asked - 1, MAX_CLAIM_BYTES];
      const answer = await this.#run(DEAD_LETTERS, "list dead letters", queue, args);
      const { found, letters } = toDeadLetters(answer);
      out.push(...letters);
      if (found < asked || letters.length === 0) break;
    }
    return out;
  }

  /**
   * Moves dead letters back to ready; their retry count is kept.
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @returns How many were requeued.
   * @throws {Error} When Redis fails.
   */
  async requeue(queue: string, ids: readonly string[]): Promise<number> {
    let count = 0;
    for (let i = 0; i < ids.length; i += MAX_BATCH) {
      const args = [this.#now() - this.deadLetterTtl, this.#now(), ...ids.slice(i, i + MAX_BATCH)];
      count += Number(
        await this.#run(REQUEUE, "requeue dead letters", queue, args, { call: true }),
      );
    }
    return count;
  }

  /**
   * Cancels messages in one CANCEL script call, two when one is a group member (the first
   * call reads the bodies that name the groups, changing nothing; the second fails those
   * groups with the removal).
   *
   * @param queue The queue.
   * @param ids The message ids (1 to 1000).
   * @returns The outcome of each id, and the bodies of those removed when some middleware
   *   has an `afterCancel` hook.
   * @throws {Error} When Redis fails.
   */
  protected async cancelStored(queue: string, ids: readonly string[]): Promise<CancelStored> {
    const withBodies = this.middleware.some((m) => typeof m.afterCancel === "function");
    let groups: CancelGroups = { q: [queue], g: {}, f: {} };
    let keys = callKeys(this.namespace, queue);
    const flow = this.#flowKeys(queue);
    for (let round = 0;; round++) {
      if (flow) {
        groups.k = 1;
        keys = [...keys, ...flow];
      }
      const now = this.#now();
      const args = [
        now,
        now - this.deadLetterTtl,
        this.deadLetterTtl,
        withBodies ? 1 : 0,
        JSON.stringify(groups),
        ...ids,
      ];
      const answer = fromJson(await this.#run(CANCEL, "cancel messages", queue, args, { keys }));
      if (answer[0] === "done") return toCancelled(ids, answer);
      if (round > 0) throw new Error(`Cannot cancel messages of queue '${queue}': groups changed`);
      ({ groups, keys } = cancelGroups(this.namespace, queue, answer[1]));
    }
  }

  /**
   * Removes every ready, delayed and dead message of a queue: one FLUSH script call per
   * 1000 of each.
   *
   * @param queue The queue.
   * @returns How many were removed, by state.
   * @throws {TypeError} On an invalid queue name.
   * @throws {Error} When Redis fails.
   */
  async flush(queue: string): Promise<FlushCounts> {
    const counts = { ready: 0, delayed: 0, dead: 0 };
    while (true) {
      const args = [this.#now() - this.deadLetterTtl];
      const [r, d, x] = fromJson(
        await this.#run(FLUSH, "flush a queue", queue, args, { keys: this.#endKeys(queue) }),
      ).map(Number);
      counts.ready += r;
      counts.delayed += d;
      counts.dead += x;
      if (r < MAX_BATCH && d < MAX_BATCH && x < MAX_BATCH) return counts;
    }
  }

  /**
   * Deletes dead letters: the given ones, or all of the queue.
   *
   * @param queue The queue.
   * @param options The ids to delete (default: all).
   * @returns How many were deleted.
   * @throws {Error} When Redis fails.
   */
  async purgeDead(queue: string, options: { ids?: readonly string[] } = {}): Promise<number> {
    const { ids } = options;
    const cutoff = () => this.#now() - this.deadLetterTtl;
    const purge = async (args: ScriptArg[]) =>
      Number(await this.#run(PURGE_DEAD, "purge dead letters", queue, args, { call: true }));
    let count = 0;
    if (ids === undefined) {
      // Each run deletes at most MAX_BATCH, so that no single script blocks Redis for long.
      let n: number;
      do {
        n = await purge([cutoff(), "all"]);
        count += n;
      } while (n === MAX_BATCH);
      return count;
    }
    for (let i = 0; i < ids.length; i += MAX_BATCH) {
      count += await purge([cutoff(), "ids", ...ids.slice(i, i + MAX_BATCH)]);
    }
    return count;
  }

  /**
   * Stores a running message's progress: one `SET` with a TTL.
   *
   * @param queue The queue.
   * @param id The message id.
   * @param value The progress, JSON-encoded.
   * @param ttlMs How long it is kept, in milliseconds.
   * @throws {Error} When Redis fails.
   */
  async setProgress(queue: string, id: string, value: string, ttlMs: number): Promise<void> {
    this.checkArgs("report progress", queue);
    const pipeline = this.redis.pipeline();
    pipeline.set(progressKey(this.namespace, queue, id), `{"v":${value}}`, {
      px: Math.max(1, Math.ceil(ttlMs)),
    });
    try {
      await pipeline.exec();
    } catch (error) {
      throw redisError("report progress", queue, error);
    }
  }

  /**
   * Reads a message's last reported progress: one `GET`.
   *
   * @param queue The queue.
   * @param id The message id.
   * @returns The value, or `undefined` when none was reported (or it expired).
   * @throws {Error} When Redis fails.
   */
  async progress(queue: string, id: string): Promise<unknown> {
    this.checkArgs("read progress", queue);
    const pipeline = this.redis.pipeline();
    pipeline.get(progressKey(this.namespace, queue, id));
    try {
      const [stored] = await pipeline.exec<unknown[]>();
      return readProgress(stored);
    } catch (error) {
      throw redisError("read progress", queue, error);
    }
  }

  /** The clock, in whole milliseconds (scores must be integers). */
  #now(): number {
    return Math.floor(this.now());
  }

  #keys(action: string, queue: string): string[] {
    this.checkArgs(action, queue);
    return queueKeys(this.namespace, queue);
  }

  /**
   * Runs one script call. `call`: with a fresh call record (scripts that change state),
   * unless `keys` are given whole; `retry`: transient failures are retried, the same call;
   * `count`: the messages it finishes count as that kind, when the broker counts them.
   */
  async #run<T>(
    script: Script<T>,
    action: string,
    queue: string,
    args: ScriptArg[],
    options: { keys?: string[]; call?: boolean; retry?: boolean; count?: ThroughputKind } = {},
  ): Promise<T> {
    this.checkArgs(action, queue);
    const keys = options.keys ??
      (options.call ? callKeys(this.namespace, queue) : queueKeys(this.namespace, queue));
    const counter = options.count && this.#counter(queue, options.count);
    if (counter) keys.push(counter);
    const once = () => script.run(this.redis, keys, args);
    try {
      return await (options.retry ? retryTransient(once, this.#retry(action, queue)) : once());
    } catch (error) {
      throw redisError(action, queue, error);
    }
  }

  /** With `keyParallelism`: the queue's flow and parked keys, for the scripts that free slots. */
  #flowKeys(queue: string): string[] | undefined {
    return this.queueOptions(queue)?.keyParallelism ? flowKeys(this.namespace, queue) : undefined;
  }

  /** The keys of a script that ends leases: a fresh call record's, then the flow keys if any. */
  #endKeys(queue: string): string[] {
    return [...callKeys(this.namespace, queue), ...this.#flowKeys(queue) ?? []];
  }

  /** The counter of the current minute, when the broker counts finished messages. */
  #counter(queue: string, kind: ThroughputKind): string | undefined {
    if (!this.countsThroughput) return undefined;
    return throughputKey(this.namespace, queue, kind, minuteOf(this.#now()));
  }

  #retry(action: string, queue: string): { action: string; queue: string; logger: Logger } {
    return { action, queue, logger: this.logger };
  }

  async #leases(
    script: Script<number[]>,
    action: string,
    queue: string,
    leases: readonly Lease[],
    retry: boolean,
  ): Promise<boolean[]> {
    const done: boolean[] = [];
    const count = script === ACK ? "acked" : undefined;
    for (let i = 0; i < leases.length; i += MAX_BATCH) {
      const args = leases.slice(i, i + MAX_BATCH).flatMap((lease) => [lease.id, lease.token]);
      const keys = this.#endKeys(queue);
      const answer = await this.#run(script, action, queue, args, { keys, retry, count });
      done.push(...answer.map((n) => Number(n) === 1));
    }
    return done;
  }
}

/** What a failed message counts as: retried or dead. */
function finishedAs(outcome: { kind: "retry" | "dead" }): ThroughputKind {
  return outcome.kind === "retry" ? "retried" : "dead";
}
