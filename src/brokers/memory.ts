/**
 * The in-process broker: Dramatiq's `StubBroker`, with the same semantics as the Redis
 * broker. The embedded default, for tests, scripts and local development.
 *
 * @module
 */
import {
  Broker,
  type BrokerOptions,
  type CancelOutcome,
  type CancelStored,
  type Claim,
  type ClaimByIdOptions,
  type ClaimByIdResult,
  type ClaimOptions,
  type DeadLetter,
  type EncodedMessage,
  type EnqueuedMessage,
  type FlushCounts,
  type GroupStart,
  type Lease,
  type LeaseOptions,
  type MemberReport,
  type MessageState,
  type MessageTemplate,
  type NackOutcome,
  type PlanFan,
  planField,
  type PlanMember,
  type PlanResult,
  planResultIds,
  type PlanStart,
  type PlanStep,
  type QueueStats,
  type SettleOutcome,
  type SettleResult,
  THROTTLED,
  type ThroughputMinute,
} from "../broker.ts";
import { cancelReport, rebody } from "./_control.ts";
import { COMPLETED_GROUP_TTL, fillTemplate } from "./_template.ts";
import { bodyBytes, MAX_CLAIM_BYTES } from "./_budget.ts";
import { readyScore } from "./_score.ts";
import { flowKeyOf } from "./flow.ts";
import {
  MINUTE_MS,
  minuteOf,
  THROUGHPUT_TTL_MS,
  type ThroughputKind,
  throughputRow,
} from "./_throughput.ts";

type State = "ready" | "delayed" | "leased" | "dead";

interface Entry {
  id: string;
  body: string;
  priority: number;
  state: State;
  /** The ready score it has (ready) or had (leased). */
  score: number;
  /** When it becomes ready (delayed). */
  dueAt: number;
  token: string;
  leaseUntil: number;
  deadAt: number;
  reason: string;
}

class Queue {
  readonly entries = new Map<string, Entry>();
  /** Sorted by (score, id). */
  readonly ready: Entry[] = [];
  /** Sorted by (dueAt, id). */
  readonly delayed: Entry[] = [];
  readonly leased = new Set<Entry>();
  /** In insertion order; sorted by deadAt when listed. */
  readonly dead = new Set<Entry>();
  /** The rate window (`floor(now / period)`) and how many were claimed in it. */
  rate = { window: -1, used: 0 };
  /** Finished messages by minute (the `throughput` option). */
  readonly finished = new Map<number, Record<ThroughputKind, number>>();
}

/** A tracked group: which members succeeded (with their results), and what follows. */
interface GroupState {
  left: number;
  results: Map<number, string>;
  failed: boolean;
  onCompletion: MessageTemplate[];
  onFailure: MessageTemplate[];
  expiresAt: number;
}

/** A pipeline's plan: its later steps by field, and the ids that store results. */
interface PlanState {
  steps: Map<string, MessageTemplate | PlanFan>;
  results: PlanResult[];
  expiresAt: number;
  /** Members of a group that ends the plan with later steps still stored. */
  open?: number;
}

const byScore = (a: Entry, b: Entry) =>
  a.score - b.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const byDue = (a: Entry, b: Entry) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function insert(list: Entry[], entry: Entry, compare: (a: Entry, b: Entry) => number): void {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compare(list[mid], entry) < 0) low = mid + 1;
    else high = mid;
  }
  list.splice(low, 0, entry);
}

function remove(list: Entry[], entry: Entry): void {
  const index = list.indexOf(entry);
  if (index >= 0) list.splice(index, 1);
}

/**
 * Keeps queues in memory. `join()` drains a queue inline, so a test needs no worker:
 * send, join, assert. Every method is async, like the Redis broker's.
 *
 * @example Send, drain, count
 * ```ts
 * import assert from "node:assert/strict";
 * import { actor } from "../actor.ts";
 *
 * let time = 0;
 * const broker = new MemoryBroker({ now: () => time });
 * const seen: string[] = [];
 * const log = actor(`log-${crypto.randomUUID()}`, (s: string) => { seen.push(s) }, { broker });
 * await log.sendWithOptions({ args: ["later"], delay: 1_000 });
 * await log.sendWithOptions({ args: ["urgent"], priority: -1 });
 * await log.send("now");
 * await broker.join("default");
 * time = 1_000;
 * await broker.join("default");
 * assert(seen.join() === "urgent,now,later");
 * ```
 */
export class MemoryBroker extends Broker {
  readonly #queues = new Map<string, Queue>();
  readonly #groups = new Map<string, GroupState>();
  readonly #plans = new Map<string, PlanState>();
  /** Dedup keys (`<queue>\n<key>`): the first id and when the window ends. */
  readonly #dedup = new Map<string, { id: string; expiresAt: number }>();
  /** Keys remembered once by `claimById()` (`<queue>\n<key>`): when each is forgotten. */
  readonly #once = new Map<string, number>();
  /** Debounce keys (`<queue>\n<key>`): the waiting id, its first send, when the key ends. */
  readonly #debounce = new Map<string, { id: string; firstAt: number; expiresAt: number }>();
  /** Throttle keys (`<queue>\n<key>`): when the period of the last send stored ends. */
  readonly #throttle = new Map<string, number>();
  readonly #progress = new Map<string, { value: string; expiresAt: number }>();

  /**
   * Creates a MemoryBroker.
   *
   * @param options The clock, middleware, logger and limits.
   * @throws {RangeError} When a limit is not a positive number.
   */
  constructor(options: BrokerOptions = {}) {
    super(options);
  }

  /**
   * Stores messages as ready or delayed, after the state of the groups they start. A
   * message whose dedup key was written to its queue inside the key's window is not
   * stored: its answer is the first message's id.
   *
   * @param records The encoded messages.
   * @param groups Groups whose state to create (left alone when it exists).
   * @param plans Pipeline plans to store.
   * @returns The id each record stands for, in order.
   */
  protected write(
    records: readonly EncodedMessage[],
    groups: readonly GroupStart[] = [],
    plans: readonly PlanStart[] = [],
  ): Promise<readonly string[]> {
    const now = this.now();
    for (const plan of plans) {
      this.#plans.set(`${plan.home}\n${plan.id}`, {
        steps: new Map(plan.steps.map(([field, entry]) => [String(field), entry])),
        results: plan.results,
        expiresAt: now + plan.ttl,
        open: plan.open,
      });
    }
    for (const group of groups) this.#startGroup(group, now);
    const ids: string[] = [];
    const store: EncodedMessage[] = [];
    for (const record of records) {
      if (record.debounce) {
        ids.push(this.#debounced(record, now, store));
        continue;
      }
      if (record.throttle) {
        const key = `${record.queue}\n${record.throttle.key}`;
        if ((this.#throttle.get(key) ?? 0) > now) {
          ids.push(THROTTLED);
          continue;
        }
        this.#throttle.set(key, now + record.throttle.period);
        ids.push(record.id);
        store.push(record);
        continue;
      }
      if (record.dedupKey === undefined) {
        ids.push(record.id);
        store.push(record);
        continue;
      }
      const key = `${record.queue}\n${record.dedupKey}`;
      const first = this.#dedup.get(key);
      if (first && first.expiresAt > now) {
        ids.push(first.id);
        continue;
      }
      this.#dedup.set(key, { id: record.id, expiresAt: now + (record.dedupTtl ?? 1) });
      ids.push(record.id);
      store.push(record);
    }
    this.#store(store, now);
    for (const keys of [this.#dedup, this.#debounce]) {
      for (const [key, { expiresAt }] of keys) if (expiresAt <= now) keys.delete(key);
    }
    for (const [key, expiresAt] of this.#throttle) {
      if (expiresAt <= now) this.#throttle.delete(key);
    }
    return Promise.resolve(ids);
  }

  /**
   * Stores encoded messages at once, as `enqueue()` writes them but without its hooks: for
   * an in-process store that writes messages in a transition of its own (a
   * `MemoryScheduleStore` stores a slot's message with the slot's record). The caller runs
   * the hooks (`beforeEnqueue` before encoding, `afterEnqueue` after). Idempotent by id.
   *
   * @param records The messages, encoded by `encodeMessages()`.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Message } from "../message.ts";
   *
   * const broker = new MemoryBroker();
   * const { records } = broker.encodeMessages([new Message({ queue: "q", actor: "a", args: [] })]);
   * broker.storeEncoded(records);
   * broker.storeEncoded(records);
   * assert.equal((await broker.stats("q")).ready, 1);
   * ```
   */
  storeEncoded(records: readonly EncodedMessage[]): void {
    // Synchronous: the memory write does all its work before it returns.
    void this.write(records);
  }

  /**
   * A debounced record: replaces the waiting message of its key (its body, under its id,
   * and its due time), or is stored (pushed to `store`) as the key's new waiting message.
   */
  #debounced(record: EncodedMessage, now: number, store: EncodedMessage[]): string {
    const { key: name, delay, maxDelay } = record.debounce!;
    const key = `${record.queue}\n${name}`;
    const waiting = this.#debounce.get(key);
    const q = this.#queue(record.queue);
    const entry = waiting && waiting.expiresAt > now ? q.entries.get(waiting.id) : undefined;
    if (waiting && entry?.state === "delayed") {
      const dueAt = Math.min(now + delay, waiting.firstAt + maxDelay);
      remove(q.delayed, entry);
      entry.body = rebody(record.body, record.id, entry.id, dueAt);
      this.#toDelayed(q, entry, dueAt);
      return entry.id;
    }
    this.#debounce.set(key, { id: record.id, firstAt: now, expiresAt: now + maxDelay });
    store.push(record);
    return record.id;
  }

  /**
   * Acks or nacks a message and applies its effects, if its token matches.
   *
   * @param queue The queue.
   * @param lease The lease.
   * @param outcome Ack, retry or dead, with the effects.
   * @returns Whether it was done, and what its effects enqueued.
   */
  settle(queue: string, lease: Lease, outcome: SettleOutcome): Promise<SettleResult> {
    const { effects, ...transition } = outcome;
    const q = this.#queue(queue);
    // Synchronous from here on: nothing else sees the transition without its effects.
    const done = transition.kind === "ack" ? this.#ack(q, lease) : this.#nack(q, lease, transition);
    if (!done) return Promise.resolve({ done: false, enqueued: [] });
    const now = Math.floor(this.now());
    const enqueued = this.#store(effects?.messages ?? [], now);
    for (const group of effects?.groups ?? []) this.#startGroup(group, now);
    let completed: string | undefined;
    if (effects?.member) {
      const report = this.#report(effects.member, transition.kind === "ack", now, lease.id);
      enqueued.push(...report.enqueued);
      completed = report.completed;
    }
    const step = transition.kind === "ack" ? effects?.plan : undefined;
    // A fan-in follows only the report that completed its group, with the list of results.
    if (step && (!step.fanIn || completed !== undefined)) {
      enqueued.push(...this.#follow(step, step.fanIn ? completed! : step.fill, now, lease.id));
    }
    return Promise.resolve({ done: true, enqueued });
  }

  /**
   * Reads a pipeline's plan: the ids of its messages at position `from` or later that store
   * results (given a member pipeline's step, that member's from the step on, and those
   * after its group).
   *
   * @param home The queue whose plan it is.
   * @param id The plan id.
   * @param from The first position.
   * @param member A member pipeline's step.
   * @returns The ids; none when the plan is gone.
   */
  planResults(home: string, id: string, from: number, member?: PlanMember): Promise<string[]> {
    const plan = this.#plan(home, id, this.now());
    return Promise.resolve(plan ? planResultIds(plan.results, from, member) : []);
  }

  #plan(home: string, id: string, now: number): PlanState | undefined {
    const key = `${home}\n${id}`;
    const plan = this.#plans.get(key);
    if (plan && plan.expiresAt <= now) this.#plans.delete(key);
    return plan && plan.expiresAt > now ? plan : undefined;
  }

  /**
   * The next step of a pipeline, from its plan: a message, or a group's members (and its
   * state, when tracked). The plan goes with its last step; a member's last step, in a
   * plan its group ends, is taken from it, and the plan goes with the last member's.
   */
  #follow(step: PlanStep, fill: string, now: number, id: string): EnqueuedMessage[] {
    const plan = this.#plan(step.home, step.id, now);
    const field = planField(step.at, step.member);
    const entry = plan?.steps.get(field);
    if (!plan || !entry) {
      this.logger.error(
        `Cannot continue message ${id}: the plan of its pipeline is unknown or expired`,
      );
      return [];
    }
    const key = `${step.home}\n${step.id}`;
    if (step.last && !step.member) this.#plans.delete(key);
    if (step.last && step.member && plan.steps.delete(field)) {
      plan.open = (plan.open ?? 1) - 1;
      if (plan.open <= 0) this.#plans.delete(key);
    }
    if (!("members" in entry)) return this.#fire([entry], fill, now);
    if (entry.group) this.#startGroup(entry.group, now);
    return this.#fire(entry.members, fill, now);
  }

  #store(records: readonly EncodedMessage[], now: number): EnqueuedMessage[] {
    const enqueued: EnqueuedMessage[] = [];
    for (const record of records) {
      const queue = this.#queue(record.queue);
      // Idempotent by id: a retried request must not reset a message already running.
      if (queue.entries.has(record.id)) continue;
      const entry: Entry = {
        id: record.id,
        body: record.body,
        priority: record.priority,
        state: "ready",
        score: readyScore(record.priority, record.readyAt),
        dueAt: record.readyAt,
        token: "",
        leaseUntil: 0,
        deadAt: 0,
        reason: "",
      };
      queue.entries.set(entry.id, entry);
      if (record.readyAt > now) this.#toDelayed(queue, entry, record.readyAt);
      else this.#toReady(queue, entry, entry.score);
      enqueued.push({ id: record.id, queue: record.queue, delayed: record.readyAt > now });
    }
    return enqueued;
  }

  #startGroup(group: GroupStart, now: number): void {
    if (this.#group(group.home, group.id, now)) return;
    this.#groups.set(`${group.home}\n${group.id}`, {
      left: group.size,
      results: new Map(),
      failed: false,
      onCompletion: group.onCompletion,
      onFailure: group.onFailure,
      expiresAt: now + group.ttl,
    });
  }

  #group(home: string, id: string, now: number): GroupState | undefined {
    const key = `${home}\n${id}`;
    const state = this.#groups.get(key);
    if (state && state.expiresAt <= now) this.#groups.delete(key);
    return state && state.expiresAt > now ? state : undefined;
  }

  /**
   * A member's success or failure for good: what it enqueues, and the list of results
   * when it completed the group.
   */
  #report(
    report: MemberReport,
    success: boolean,
    now: number,
    id: string,
  ): { enqueued: EnqueuedMessage[]; completed?: string } {
    const state = this.#group(report.home, report.group, now);
    if (!state) {
      this.logger.error(
        `Cannot report message ${id} to group ${report.group}: the group is unknown or expired`,
        { id, group: report.group },
      );
      return { enqueued: [] };
    }
    if (success) {
      // A set of member positions, not a bare counter: a duplicate report counts once.
      if (state.results.has(report.index)) return { enqueued: [] };
      state.results.set(report.index, report.result ?? "null");
      if (--state.left > 0) return { enqueued: [] };
      state.expiresAt = now + COMPLETED_GROUP_TTL;
      const results = Array.from({ length: report.size }, (_, i) => state.results.get(i) ?? "null");
      const completed = `[${results.join(",")}]`;
      return { enqueued: this.#fire(state.onCompletion, completed, now), completed };
    }
    if (state.failed) return { enqueued: [] };
    state.failed = true;
    state.expiresAt = now + this.deadLetterTtl;
    return { enqueued: this.#fire(state.onFailure, report.failure ?? "", now) };
  }

  #fire(templates: readonly MessageTemplate[], fill: string, now: number): EnqueuedMessage[] {
    return this.#store(templates.map((template) => fillTemplate(template, fill, now)), now);
  }

  /**
   * Promotes due delays, recovers expired leases, then leases ready messages: up to
   * `count`, and no more bodies than fit in 1 MiB (always one), as `UpstashBroker` does.
   *
   * @param queue The queue.
   * @param options How many, and for how long.
   * @returns The claims, in the order they should run.
   * @throws {TypeError} On an invalid queue name.
   * @throws {RangeError} On a `count` or `leaseMs` that is not a positive integer.
   */
  claim(queue: string, options: ClaimOptions = {}): Promise<Claim[]> {
    const { count, leaseMs } = this.checkArgs("claim messages", queue, options);
    const now = this.now();
    const q = this.#tidy(queue, now);
    const token = crypto.randomUUID();
    const keys = this.#keyRoom(queue, q);
    const want = Math.min(count, this.#room(queue, q, now));
    // As UpstashBroker: no more bodies than MAX_CLAIM_BYTES, always one; messages whose
    // flow key is full are passed over, in their place.
    const taken: Entry[] = [];
    let bytes = 0;
    for (const entry of q.ready) {
      if (taken.length >= want) break;
      if (keys && !keys.take(entry)) continue;
      bytes += bodyBytes(entry.body);
      if (taken.length > 0 && bytes > MAX_CLAIM_BYTES) break;
      taken.push(entry);
    }
    for (const entry of taken) remove(q.ready, entry);
    this.#spend(queue, q, taken.length);
    return Promise.resolve(taken.map((entry) => this.#lease(q, entry, token, now + leaseMs)));
  }

  /**
   * Leases the given messages if ready, due or lease-expired; ready ones beyond the
   * queue's `parallelism` and `rate` stay ready and are answered `busy`.
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @param options For how long.
   * @returns The claims, and the state of each message not claimed.
   * @throws {TypeError} On an invalid queue name.
   * @throws {RangeError} On a `leaseMs` that is not a positive integer.
   */
  claimById(
    queue: string,
    ids: readonly string[],
    options: ClaimByIdOptions = {},
  ): Promise<ClaimByIdResult> {
    const { leaseMs } = this.checkArgs("claim messages by id", queue, options);
    const now = this.now();
    if (options.once && !this.#rememberOnce(queue, options.once, now)) {
      return Promise.resolve({ claimed: [], unclaimed: [], replayed: true });
    }
    const q = this.#tidy(queue, now);
    const token = crypto.randomUUID();
    const result: ClaimByIdResult = { claimed: [], unclaimed: [] };
    let room = this.#room(queue, q, now);
    const keys = this.#keyRoom(queue, q);
    for (const id of new Set(ids)) {
      const entry = q.entries.get(id);
      if (!entry) {
        result.unclaimed.push({ id, state: "missing" });
      } else if (entry.state === "ready" && (room === 0 || (keys && !keys.take(entry)))) {
        result.unclaimed.push({ id, state: "busy" });
      } else if (entry.state === "ready") {
        room--;
        remove(q.ready, entry);
        result.claimed.push(this.#lease(q, entry, token, now + leaseMs));
      } else {
        result.unclaimed.push({ id, state: entry.state });
      }
    }
    this.#spend(queue, q, result.claimed.length);
    return Promise.resolve(result);
  }

  /** Remembers a `once` key of a queue; false when it is remembered already. */
  #rememberOnce(queue: string, once: { key: string; ttlMs: number }, now: number): boolean {
    const key = `${queue}\n${once.key}`;
    const until = this.#once.get(key);
    if (until !== undefined && until > now) return false;
    // Oldest first (a Map keeps insertion order): forget the expired ones at the front.
    for (const [old, end] of this.#once) {
      if (end > now) break;
      this.#once.delete(old);
    }
    this.#once.set(key, now + once.ttlMs);
    return true;
  }

  /**
   * Deletes finished messages whose token still matches.
   *
   * @param queue The queue.
   * @param leases The leases.
   * @returns For each lease, whether it was acknowledged.
   */
  ack(queue: string, leases: readonly Lease[]): Promise<boolean[]> {
    const q = this.#queue(queue);
    return Promise.resolve(leases.map((lease) => this.#ack(q, lease)));
  }

  #ack(q: Queue, lease: Lease): boolean {
    const entry = this.#held(q, lease);
    if (entry) {
      this.#unlink(q, entry);
      this.#count(q, "acked");
    }
    return entry !== undefined;
  }

  /** Counts one finished message in the current minute, when the broker counts. */
  #count(q: Queue, kind: ThroughputKind): void {
    if (!this.countsThroughput) return;
    const minutes = q.finished;
    const now = minuteOf(this.now());
    for (const minute of minutes.keys()) {
      if ((now - minute) * MINUTE_MS >= THROUGHPUT_TTL_MS) minutes.delete(minute);
    }
    const counts = minutes.get(now) ?? { acked: 0, retried: 0, dead: 0 };
    counts[kind]++;
    minutes.set(now, counts);
  }

  /**
   * The counts of the given minutes (the `throughput` option).
   *
   * @param queue The queue.
   * @param minutes Minutes since the epoch, oldest first.
   * @returns One row per minute.
   */
  protected readThroughput(queue: string, minutes: readonly number[]): Promise<ThroughputMinute[]> {
    const counted = this.#queues.get(queue)?.finished;
    return Promise.resolve(
      minutes.map((minute) =>
        throughputRow(minute, counted?.get(minute) ?? { acked: 0, retried: 0, dead: 0 })
      ),
    );
  }

  /**
   * Retries a failed message later, or moves it to the dead letters.
   *
   * @param queue The queue.
   * @param lease The lease.
   * @param outcome Retry at a time, or dead with a reason.
   * @returns Whether it was done.
   */
  nack(queue: string, lease: Lease, outcome: NackOutcome): Promise<boolean> {
    return Promise.resolve(this.#nack(this.#queue(queue), lease, outcome));
  }

  #nack(q: Queue, lease: Lease, outcome: NackOutcome): boolean {
    const entry = this.#held(q, lease);
    if (!entry) return false;
    q.leased.delete(entry);
    if (outcome.body !== undefined) entry.body = outcome.body;
    this.#count(q, outcome.kind === "retry" ? "retried" : "dead");
    if (outcome.kind === "retry") {
      this.#toDelayed(q, entry, outcome.at);
    } else {
      const now = this.now();
      this.#expireDead(q, now);
      entry.state = "dead";
      entry.deadAt = now;
      entry.reason = outcome.reason;
      q.dead.add(entry);
    }
    return true;
  }

  /**
   * Hands leased messages back to ready, with their old place.
   *
   * @param queue The queue.
   * @param leases The leases.
   * @returns For each lease, whether it was released.
   */
  release(queue: string, leases: readonly Lease[]): Promise<boolean[]> {
    const q = this.#queue(queue);
    return Promise.resolve(leases.map((lease) => {
      const entry = this.#held(q, lease);
      if (entry) {
        q.leased.delete(entry);
        this.#toReady(q, entry, entry.score);
      }
      return entry !== undefined;
    }));
  }

  /**
   * Stores a running message's progress, replacing the last, for `ttlMs`.
   *
   * @param queue The queue.
   * @param id The message id.
   * @param value The progress, JSON-encoded.
   * @param ttlMs How long it is kept, in milliseconds.
   */
  setProgress(queue: string, id: string, value: string, ttlMs: number): Promise<void> {
    this.checkArgs("report progress", queue);
    const now = this.now();
    if (this.#progress.size >= 1_000) {
      for (const [key, entry] of this.#progress) {
        if (entry.expiresAt <= now) this.#progress.delete(key);
      }
    }
    this.#progress.set(`${queue}\n${id}`, { value, expiresAt: now + ttlMs });
    return Promise.resolve();
  }

  /**
   * Reads a message's last reported progress.
   *
   * @param queue The queue.
   * @param id The message id.
   * @returns The value, or `undefined` when none was reported (or it expired).
   */
  progress(queue: string, id: string): Promise<unknown> {
    this.checkArgs("read progress", queue);
    const entry = this.#progress.get(`${queue}\n${id}`);
    if (!entry || entry.expiresAt <= this.now()) return Promise.resolve(undefined);
    return Promise.resolve(JSON.parse(entry.value));
  }

  /**
   * Extends a lease if its token matches.
   *
   * @param queue The queue.
   * @param lease The lease.
   * @param options The new lease duration.
   * @returns Whether the lease is still held.
   * @throws {RangeError} On a `leaseMs` that is not a positive integer.
   */
  extendLease(queue: string, lease: Lease, options: LeaseOptions = {}): Promise<boolean> {
    const { leaseMs } = this.checkArgs("extend a lease", queue, options);
    const entry = this.#held(this.#queue(queue), lease);
    if (entry) entry.leaseUntil = this.now() + leaseMs;
    return Promise.resolve(entry !== undefined);
  }

  /**
   * Extends several leases, each if its token matches.
   *
   * @param queue The queue.
   * @param leases The leases.
   * @param options The new lease duration.
   * @returns For each lease, whether it is still held.
   * @throws {RangeError} On a `leaseMs` that is not a positive integer.
   */
  override extendLeases(
    queue: string,
    leases: readonly Lease[],
    options: LeaseOptions = {},
  ): Promise<boolean[]> {
    const { leaseMs } = this.checkArgs("extend leases", queue, options);
    const q = this.#queue(queue);
    const until = this.now() + leaseMs;
    return Promise.resolve(leases.map((lease) => {
      const entry = this.#held(q, lease);
      if (entry) entry.leaseUntil = until;
      return entry !== undefined;
    }));
  }

  /**
   * Tells where messages are, changing nothing (but expired dead letters, which are gone).
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @returns The state of each, in order (`missing`: done, or never sent).
   * @throws {TypeError} On an invalid queue name.
   */
  state(queue: string, ids: readonly string[]): Promise<MessageState[]> {
    this.checkArgs("read message states", queue);
    const q = this.#queue(queue);
    this.#expireDead(q, this.now());
    return Promise.resolve(ids.map((id) => q.entries.get(id)?.state ?? "missing"));
  }

  /**
   * Counts a queue's messages by state.
   *
   * @param queue The queue.
   * @returns The counts.
   */
  stats(queue: string): Promise<QueueStats> {
    const q = this.#queue(queue);
    this.#expireDead(q, this.now());
    return Promise.resolve({
      ready: q.ready.length,
      delayed: q.delayed.length,
      leased: q.leased.size,
      dead: q.dead.size,
    });
  }

  /**
   * Lists dead letters, oldest first.
   *
   * @param queue The queue.
   * @param options How many to skip and return (default 0 and 100).
   * @returns The dead letters.
   */
  deadLetters(
    queue: string,
    options: { offset?: number; limit?: number } = {},
  ): Promise<DeadLetter[]> {
    const { offset = 0, limit = 100 } = options;
    const q = this.#queue(queue);
    this.#expireDead(q, this.now());
    const sorted = [...q.dead].sort((a, b) => a.deadAt - b.deadAt || (a.id < b.id ? -1 : 1));
    return Promise.resolve(
      sorted.slice(offset, offset + limit).map(({ id, body, reason, deadAt }) => ({
        id,
        body,
        reason,
        deadAt,
      })),
    );
  }

  /**
   * Moves dead letters back to ready, as if enqueued now.
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @returns How many were requeued.
   */
  requeue(queue: string, ids: readonly string[]): Promise<number> {
    const q = this.#queue(queue);
    const now = this.now();
    this.#expireDead(q, now);
    let count = 0;
    for (const id of new Set(ids)) {
      const entry = q.entries.get(id);
      if (entry?.state !== "dead") continue;
      q.dead.delete(entry);
      entry.reason = "";
      this.#toReady(q, entry, readyScore(entry.priority, now));
      count++;
    }
    return Promise.resolve(count);
  }

  /**
   * Removes ready and delayed messages and the leases of leased ones, and fails the groups
   * of cancelled members.
   *
   * @param queue The queue.
   * @param ids The message ids.
   * @returns The outcome of each id, and the bodies of those cancelled or stopped.
   */
  protected cancelStored(queue: string, ids: readonly string[]): Promise<CancelStored> {
    const q = this.#queue(queue);
    const now = Math.floor(this.now());
    this.#expireDead(q, now);
    const bodies = new Map<string, string>();
    const found = new Map<string, CancelOutcome>();
    const enqueued: EnqueuedMessage[] = [];
    for (const id of new Set(ids)) {
      const entry = q.entries.get(id);
      if (!entry || entry.state === "dead") {
        found.set(id, entry ? "dead" : "missing");
        continue;
      }
      found.set(id, entry.state === "leased" ? "running" : "cancelled");
      this.#unlink(q, entry);
      bodies.set(id, entry.body);
      const report = cancelReport(entry.body);
      if (report) enqueued.push(...this.#report(report, false, now, id).enqueued);
    }
    return Promise.resolve({ outcomes: ids.map((id) => found.get(id)!), bodies, enqueued });
  }

  /**
   * Removes every ready, delayed and dead message of a queue; leased ones are left.
   *
   * @param queue The queue.
   * @returns How many were removed, by state.
   * @throws {TypeError} On an invalid queue name.
   */
  flush(queue: string): Promise<FlushCounts> {
    this.checkArgs("flush a queue", queue);
    const q = this.#queue(queue);
    this.#expireDead(q, this.now());
    const counts = { ready: q.ready.length, delayed: q.delayed.length, dead: q.dead.size };
    for (const entry of [...q.ready, ...q.delayed, ...q.dead]) this.#unlink(q, entry);
    return Promise.resolve(counts);
  }

  /**
   * Deletes dead letters: the given ones, or all of the queue.
   *
   * @param queue The queue.
   * @param options The ids to delete (default: all).
   * @returns How many were deleted.
   */
  purgeDead(queue: string, options: { ids?: readonly string[] } = {}): Promise<number> {
    const q = this.#queue(queue);
    this.#expireDead(q, this.now());
    const targets = options.ids
      ? [...new Set(options.ids)].map((id) => q.entries.get(id)).filter((e) => e?.state === "dead")
      : [...q.dead];
    for (const entry of targets) this.#unlink(q, entry!);
    return Promise.resolve(targets.length);
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (!queue) this.#queues.set(name, queue = new Queue());
    return queue;
  }

  /** What every claim does first: promote due delays, recover expired leases. */
  #tidy(name: string, now: number): Queue {
    const queue = this.#queue(name);
    while (queue.delayed.length > 0 && queue.delayed[0].dueAt <= now) {
      const entry = queue.delayed.shift()!;
      this.#toReady(queue, entry, readyScore(entry.priority, entry.dueAt));
    }
    for (const entry of queue.leased) {
      if (entry.leaseUntil > now) continue;
      queue.leased.delete(entry);
      this.#toReady(queue, entry, entry.score);
    }
    return queue;
  }

  /** How many the queue's flow control lets a claim lease now (after `#tidy()`). */
  #room(name: string, queue: Queue, now: number): number {
    const flow = this.queueOptions(name);
    let room = Infinity;
    if (flow?.parallelism !== undefined) room = flow.parallelism - queue.leased.size;
    if (flow?.rate !== undefined) {
      const window = Math.floor(now / flow.rate.period);
      if (queue.rate.window !== window) queue.rate = { window, used: 0 };
      room = Math.min(room, flow.rate.limit - queue.rate.used);
    }
    return Math.max(room, 0);
  }

  /**
   * With `keyParallelism`, what decides whether a ready entry's flow key has room, counting
   * it when it has: the live leases by key, counted now (after `#tidy()`).
   */
  #keyRoom(name: string, queue: Queue): { take(entry: Entry): boolean } | undefined {
    const limit = this.queueOptions(name)?.keyParallelism;
    if (limit === undefined) return undefined;
    const leased = new Map<string, number>();
    for (const entry of queue.leased) {
      const key = flowKeyOf(entry.body);
      if (key !== undefined) leased.set(key, (leased.get(key) ?? 0) + 1);
    }
    return {
      take(entry: Entry): boolean {
        const key = flowKeyOf(entry.body);
        if (key === undefined) return true;
        const n = leased.get(key) ?? 0;
        if (n >= limit) return false;
        leased.set(key, n + 1);
        return true;
      },
    };
  }

  /** Counts `n` claims in the queue's rate window. */
  #spend(name: string, queue: Queue, n: number): void {
    if (this.queueOptions(name)?.rate !== undefined) queue.rate.used += n;
  }

  #toReady(queue: Queue, entry: Entry, score: number): void {
    entry.state = "ready";
    entry.score = score;
    entry.token = "";
    insert(queue.ready, entry, byScore);
  }

  #toDelayed(queue: Queue, entry: Entry, dueAt: number): void {
    entry.state = "delayed";
    entry.dueAt = dueAt;
    entry.token = "";
    insert(queue.delayed, entry, byDue);
  }

  #lease(queue: Queue, entry: Entry, token: string, leaseUntil: number): Claim {
    entry.state = "leased";
    entry.token = token;
    entry.leaseUntil = leaseUntil;
    queue.leased.add(entry);
    return { id: entry.id, token, body: entry.body, leaseUntil };
  }

  /** The entry if it is leased under this token. */
  #held(queue: Queue, lease: Lease): Entry | undefined {
    const entry = queue.entries.get(lease.id);
    return entry?.state === "leased" && entry.token === lease.token ? entry : undefined;
  }

  #unlink(queue: Queue, entry: Entry): void {
    queue.entries.delete(entry.id);
    if (entry.state === "ready") remove(queue.ready, entry);
    else if (entry.state === "delayed") remove(queue.delayed, entry);
    else if (entry.state === "leased") queue.leased.delete(entry);
    else queue.dead.delete(entry);
  }

  #expireDead(queue: Queue, now: number): void {
    for (const entry of queue.dead) {
      if (entry.deadAt <= now - this.deadLetterTtl) this.#unlink(queue, entry);
    }
  }
}
