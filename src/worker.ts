/**
 * The pull worker, for long-running processes (Deno, Node, Bun): claims messages in
 * batches, ahead of need, and processes them concurrently. Signal handling (SIGINT, SIGTERM) belongs to
 * the CLI; call `stop()` from it.
 *
 * @module
 */
import { type Held, WorkerHeartbeat } from "./_heartbeat.ts";
import { errorName, MAX_TIMER_MS, NAME_PATTERN, settled, sleep } from "./_util.ts";
import type { Broker, Claim, JoinFailFast } from "./broker.ts";
import { JoinTimeout, Retry } from "./errors.ts";
import { emit } from "./middleware/_emit.ts";
import { processMessage } from "./process.ts";
import { actorNames, getActor } from "./registry.ts";

/** Microtask turns without an actor settling after which a claim round goes on. */
const SETTLE_TURNS = 8;

/** Options of {@linkcode Worker}. */
export interface WorkerOptions {
  /**
   * The queues to consume (default: the queues of the actors declared so far, sorted, as
   * `skiff worker` does, leaving out actors whose `broker` option is another broker;
   * `["default"]` when none is declared yet). Queues that had work in the last round are
   * claimed from in this order; the others are checked all at once, in one request
   * (`@upstash/redis` pipelines calls made together), so an idle round costs one request
   * whatever the number of queues.
   */
  queues?: string[];
  /** How many actors run at once (default 8). */
  concurrency?: number;
  /**
   * How many messages it holds unacked at most: claimed ahead, running, or finished with
   * their ack on its way, as RabbitMQ counts Dramatiq's prefetch (default four times
   * `concurrency`, and at least 64; at least `concurrency`). A crash therefore runs again
   * at most `prefetch` messages that already ran. Four, where Dramatiq holds twice its
   * threads: each claim here is a request over HTTP, so fast actors want longer claims
   * (at concurrency 50, 200 held processed 9 to 20% more per second than 100, in
   * the benchmark's `--only c50` on Bun, Node and Deno).
   *
   * The worker holds twice `concurrency` at first, and doubles that (up to `prefetch`)
   * while its actors finish before the next claim's answer comes back, so that a round
   * trip to Redis does not bound fast actors; while claimed messages wait for a slot, it
   * holds fewer again, so that slow actors do not keep messages from other workers. An
   * actor that finishes frees its slot of `concurrency` at once, and makes room for a
   * claim that leaves with its ack, in the same request when the client pipelines
   * (`@upstash/redis` does by default).
   */
  prefetch?: number;
  /**
   * The lease of each claim, in milliseconds (default 30 000). One heartbeat renews the
   * leases of every message the worker holds every third of it, one broker call per queue.
   */
  leaseMs?: number;
  /**
   * The first pause after a round that claimed nothing, in milliseconds (default 10): the
   * latency of a message sent while the worker is busy polling. Pauses double up to
   * `pollMax` while the queues stay empty.
   */
  pollMin?: number;
  /** The longest pause between claims when idle, in milliseconds (default 5 000). */
  pollMax?: number;
}

/** Options of `worker.join()`. */
export interface WorkerJoinOptions {
  /** Give up after this many milliseconds with `JoinTimeout` (default: wait forever). */
  timeout?: number;
  /**
   * `true` (default): raise the error of the first message this worker dead-lettered since
   * the last join, once idle; `false`: raise nothing; `"any"`: raise the first actor error
   * at once, also one that will be retried.
   */
  failFast?: JoinFailFast;
}

/** Options of `worker.stop()`. */
export interface WorkerStopOptions {
  /**
   * How long running actors may take to finish, in milliseconds (default 30 000); then
   * their signals abort and their messages go back to ready, without counting a retry.
   */
  timeout?: number;
}

/** The queues of the actors declared so far that this broker may run, sorted. */
function declaredQueues(broker: Broker): string[] {
  const queues = new Set<string>();
  for (const name of actorNames()) {
    const declared = getActor(name);
    const own = declared?.options.broker;
    if (declared && (own === undefined || own === broker)) queues.add(declared.queue);
  }
  return queues.size > 0 ? [...queues].sort() : ["default"];
}

interface Waiter {
  epoch: number;
  failFast: JoinFailFast;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A message claimed ahead, waiting for a free slot. */
interface Ahead extends Held {
  claim: Claim;
  lost: boolean;
  release: () => void;
}

/**
 * Claims messages from a broker's queues and processes them, `concurrency` at a time,
 * holding up to `prefetch` (claimed ahead while actors run), pausing longer and longer
 * (up to `pollMax`) while the queues stay empty.
 *
 * @example Start, drain, stop
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBroker } from "./brokers/memory.ts";
 * import { actor } from "./actor.ts";
 *
 * const broker = new MemoryBroker();
 * const seen: number[] = [];
 * const record = actor(`record-${crypto.randomUUID()}`, (n: number) => { seen.push(n) }, { broker });
 * const worker = new Worker(broker, { queues: ["default"], concurrency: 2, pollMax: 10 });
 * await worker.start();
 * await record.send(1);
 * await record.send(2);
 * await worker.join();
 * await worker.stop();
 * assert(seen.length === 2);
 * ```
 */
export class Worker {
  /** The broker it claims from. */
  readonly broker: Broker;
  /** The queues it consumes. */
  readonly queues: readonly string[];
  /** How many actors run at once. */
  readonly concurrency: number;
  /** How many messages it holds unacked at most: claimed ahead, running, or acking. */
  readonly prefetch: number;
  readonly #leaseMs: number;
  readonly #pollMin: number;
  readonly #pollMax: number;
  /** Every message started and not yet acked or nacked. */
  readonly #inFlight = new Set<Promise<void>>();
  /** How many started and are not yet acked or nacked. */
  #started = 0;
  /** Of those, how many finished their actor: their ack or nack is on its way. */
  #settling = 0;
  /** How many it holds now, at most: from `#least` up to `prefetch`. */
  #window: number;
  /** The smallest window: twice `concurrency` (Dramatiq's prefetch), or `prefetch`. */
  readonly #least: number;
  /** Whether the last claim round got all it asked for. */
  #full = false;
  /** Whether a claim's answer of this round found every slot waiting for work. */
  #starved = false;
  /** Whether a claim's answer of this round found messages still waiting for a slot. */
  #waited = false;
  /** Claimed ahead, not started yet, in the order they run. */
  #ahead: Ahead[] = [];
  /** The queues whose last claim found messages: claimed first, in order, next round. */
  #busy = new Set<string>();
  /** Aborts when stop() begins: no more claims. */
  readonly #stopping = new AbortController();
  /** Aborts when stop()'s timeout passes: running actors are abandoned and released. */
  readonly #abandon = new AbortController();
  /** Keeps the leases of every message running, and aborts them when abandoned. */
  readonly #heartbeat: WorkerHeartbeat;
  #loop?: Promise<void>;
  #stopped?: Promise<void>;
  #nudge?: () => void;
  /** Whether the current pause waits for a free slot (else it polls). */
  #forRoom = false;
  /** A wake that came while no pause was on: it ends the next one. */
  #woken: "always" | "room" | false = false;
  /** The first actor error since the last join, and the first of a dead-lettered message. */
  #failures: { any?: { error: unknown }; dead?: { error: unknown } } = {};
  #epoch = 0;
  #waiters: Waiter[] = [];

  /**
   * Creates a Worker.
   *
   * @param broker The broker to claim from.
   * @param options Queues, concurrency, lease and polling.
   * @throws {TypeError} On an invalid queue name.
   * @throws {RangeError} On a number out of range.
   */
  constructor(broker: Broker, options: WorkerOptions = {}) {
    const {
      queues = declaredQueues(broker),
      concurrency = 8,
      leaseMs = 30_000,
      pollMin = 10,
      pollMax = 5_000,
    } = options;
    const prefetch = options.prefetch ?? Math.max(4 * concurrency, 64);
    if (!Array.isArray(queues) || queues.length === 0) {
      throw new TypeError("Cannot create worker: 'queues' must be a non-empty array");
    }
    for (const queue of queues) {
      if (typeof queue !== "string" || !NAME_PATTERN.test(queue)) {
        throw new TypeError("Cannot create worker: 'queues' holds an invalid queue name");
      }
    }
    const numbers = { concurrency, prefetch, leaseMs, pollMin, pollMax };
    for (const [name, value] of Object.entries(numbers)) {
      if (!Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) {
        throw new RangeError(
          `Cannot create worker: '${name}' must be a positive integer, received ${value}`,
        );
      }
    }
    this.broker = broker;
    this.queues = [...queues];
    this.concurrency = concurrency;
    this.prefetch = Math.max(prefetch, concurrency);
    this.#least = Math.min(this.prefetch, 2 * concurrency);
    this.#window = this.#least;
    this.#leaseMs = leaseMs;
    this.#pollMin = pollMin;
    this.#pollMax = Math.max(pollMin, pollMax);
    this.#heartbeat = new WorkerHeartbeat(broker, leaseMs);
  }

  /** How many actors are running now. */
  get running(): number {
    return this.#started - this.#settling;
  }

  /**
   * Runs `beforeWorkerBoot`, starts claiming, then runs `afterWorkerBoot`.
   *
   * @throws {TypeError} When the worker was stopped: make a new one.
   */
  async start(): Promise<void> {
    if (this.#stopping.signal.aborted) {
      throw new TypeError("Cannot start worker: it was stopped; create a new one");
    }
    if (this.#loop) return;
    await emit(this.broker, "beforeWorkerBoot", [this.broker, this]);
    this.#loop = this.#run();
    await emit(this.broker, "afterWorkerBoot", [this.broker, this], { reverse: true });
  }

  /**
   * Resolves when the worker holds no message and a claim round begun after this call
   * found nothing: Dramatiq's test idiom, after `broker.join()` (which also waits for
   * delayed messages).
   *
   * @param options A timeout, and what to raise.
   * @throws {JoinTimeout} When `timeout` passes first.
   * @throws {unknown} By default, the error of the first message this worker dead-lettered
   *   since the last join, once idle; see `failFast`.
   */
  async join(options: WorkerJoinOptions = {}): Promise<void> {
    const { timeout, failFast = true } = options;
    if (failFast === "any" && this.#failures.any) this.#takeFailure("any");
    if (this.#loop && !this.#stopping.signal.aborted) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          this.#waiters.push({ epoch: ++this.#epoch, failFast, resolve, reject });
          if (timeout !== undefined) {
            timer = setTimeout(
              () => reject(new JoinTimeout("worker", timeout)),
              Math.min(Math.max(0, timeout), MAX_TIMER_MS),
            );
          }
          this.#wake();
        });
      } finally {
        clearTimeout(timer);
      }
    } else {
      await Promise.allSettled([...this.#inFlight]);
    }
    if (failFast === false) this.#failures = {};
    else this.#takeFailure(failFast === "any" ? "any" : "dead");
  }

  /**
   * Stops claiming, hands back claimed messages not yet started, and waits up to
   * `timeout` for running actors; then aborts their signals and hands their messages back
   * too. Runs `beforeWorkerShutdown` and `afterWorkerShutdown`.
   *
   * @param options How long running actors may take.
   */
  stop(options: WorkerStopOptions = {}): Promise<void> {
    return this.#stopped ??= this.#stop(options.timeout ?? 30_000);
  }

  async #stop(timeout: number): Promise<void> {
    const started = this.#loop !== undefined;
    if (started) await emit(this.broker, "beforeWorkerShutdown", [this.broker, this]);
    this.#stopping.abort();
    this.#wake();
    await this.#loop;
    await this.#handBackAhead();
    const settled = Promise.allSettled([...this.#inFlight]);
    const timer = new AbortController();
    const finished = await Promise.race([
      settled.then(() => true),
      sleep(timeout, timer.signal).then(() => false),
    ]);
    timer.abort();
    if (!finished) {
      const reason = new DOMException("The worker is stopping", "AbortError");
      this.#abandon.abort(reason);
      this.#heartbeat.abort(reason);
      await settled;
    }
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
    if (started) {
      await emit(this.broker, "afterWorkerShutdown", [this.broker, this], { reverse: true });
    }
  }

  async #run(): Promise<void> {
    const { signal } = this.#stopping;
    let pause = this.#pollMin;
    while (!signal.aborted) {
      // Actors that finish without waiting on I/O settle within a few microtask turns, and
      // start the next ones: let them, until no actor has settled for a few turns, so that
      // the claim asks for their room too and leaves with their acks, in one request.
      await settled(() => this.#settling, SETTLE_TURNS, () => this.running === 0);
      // A wake that came before this round is answered by it.
      this.#woken = false;
      // A message whose actor finished makes room for a claim at once: the claim leaves
      // with its ack (one request when the client pipelines), so the ack lands first.
      const want = this.#window - this.running - this.#ahead.length;
      // Claims are worth a request only for a few messages at least: half the slots, or
      // every free one when the window leaves no room ahead.
      const least = Math.max(
        1,
        Math.min(Math.ceil(this.concurrency / 2), this.#window - this.concurrency),
      );
      if (want < least) {
        // Woken when an actor finishes.
        await this.#pause(this.#pollMax, true);
        continue;
      }
      const epoch = this.#epoch;
      this.#starved = this.#waited = false;
      const claimed = await this.#claimRound(want);
      if (signal.aborted) break;
      // Every actor done before the answer of a second full claim in a row came: the
      // window bounds the rate, widen it (not on a first claim after a pause, whose
      // actors had nothing to do before). Messages left waiting for a slot: it holds
      // more than it runs, narrow it.
      const full = claimed === want;
      if (full && this.#full && this.#starved) {
        this.#window = Math.min(this.prefetch, 2 * this.#window);
      } else if (this.#waited) {
        this.#window = Math.max(this.#least, this.#window - this.concurrency);
      }
      this.#full = full;
      if (claimed > 0) {
        pause = this.#pollMin;
        // Fewer than asked: the queues are drained, so let a few more arrive for the next
        // claim (at 500 messages/s, ~5 per request in place of 1), unless woken.
        if (claimed < want) await this.#pause(this.#pollMin, false);
        continue;
      }
      if (this.#inFlight.size === 0 && this.#ahead.length === 0) this.#idle(epoch);
      await this.#pause(pause, false);
      pause = Math.min(pause * 2, this.#pollMax);
    }
  }

  /**
   * One round: the queues that had work last round, one after the other in order, while
   * room is left; then every other queue at once (one pipelined request). Returns how
   * many messages it claimed.
   */
  async #claimRound(want: number): Promise<number> {
    const { signal } = this.#stopping;
    let left = want;
    const busy = new Set<string>();
    for (const queue of this.queues) {
      if (!this.#busy.has(queue)) continue;
      if (left <= 0 || signal.aborted) break;
      const claims = await this.#claim(queue, left);
      if (claims.length > 0) busy.add(queue);
      left -= claims.length;
    }
    const rest = this.queues.filter((queue) => !this.#busy.has(queue));
    if (left > 0 && rest.length > 0 && !signal.aborted) {
      // Every queue gets a share of the room; with more queues than room, one each, and
      // what exceeds prefetch goes back at once (many queues waking at the same time).
      const share = Math.max(1, Math.floor(left / rest.length));
      const answers = await Promise.all(rest.map((queue) => this.#claim(queue, share)));
      answers.forEach((claims, i) => {
        if (claims.length > 0) busy.add(rest[i]);
        left -= claims.length;
      });
      if (left < 0) await this.#handBackAhead(-left);
    }
    this.#busy = busy;
    return want - left;
  }

  /** Claims up to `count` from `queue` and queues them to run; logs a failure as none. */
  async #claim(queue: string, count: number): Promise<Claim[]> {
    let claims: Claim[] = [];
    try {
      claims = await this.broker.claim(queue, { count, leaseMs: this.#leaseMs });
      // The acks that travelled with the claim land in the same answer: let their
      // messages finish first, so that their room is free for these.
      await settled(() => this.#started, SETTLE_TURNS);
      if (this.#ahead.length > 0) this.#waited = true;
      else if (this.running === 0) this.#starved = true;
    } catch (error) {
      this.broker.logger.error(`Cannot claim from queue '${queue}': ${errorName(error)}`, {
        queue,
        error,
      });
    }
    for (const claim of claims) {
      const ahead: Ahead = {
        queue,
        claim,
        lease: { id: claim.id, token: claim.token },
        lost: false,
        release: () => {},
        abort: () => {
          ahead.lost = true;
        },
      };
      ahead.release = this.#heartbeat.hold(ahead);
      this.#ahead.push(ahead);
    }
    this.#pump();
    return claims;
  }

  /**
   * Starts messages claimed ahead while a slot of `concurrency` is free and fewer than
   * `prefetch` started messages wait for their ack or nack.
   */
  #pump(): void {
    // After stop() begins, nothing more starts: stop() hands back what is left.
    while (
      this.running < this.concurrency && this.#started < this.prefetch &&
      this.#ahead.length > 0 && !this.#stopping.signal.aborted
    ) {
      const ahead = this.#ahead.shift()!;
      ahead.release();
      // A lost lease: another claim owns the message now.
      if (!ahead.lost) this.#process(ahead.queue, ahead.claim);
    }
  }

  /** Hands back the last `count` messages claimed ahead (all by default), per queue. */
  async #handBackAhead(count = this.#ahead.length): Promise<void> {
    const back = this.#ahead.splice(this.#ahead.length - Math.min(count, this.#ahead.length));
    const byQueue = new Map<string, Claim[]>();
    for (const ahead of back) {
      ahead.release();
      if (ahead.lost) continue;
      byQueue.set(ahead.queue, [...byQueue.get(ahead.queue) ?? [], ahead.claim]);
    }
    await Promise.all([...byQueue].map(([queue, claims]) => this.#handBack(queue, claims)));
  }

  #process(queue: string, claim: Claim): void {
    // Counted until the ack or nack lands: a crash runs again at most `prefetch` messages
    // that already ran (those claimed ahead never started).
    this.#started++;
    let settling = false;
    // The abandon signal is read, never listened to: the heartbeat aborts what it holds.
    const task = processMessage(this.broker, queue, claim, {
      leaseMs: this.#leaseMs,
      signal: this.#abandon.signal,
      heartbeat: this.#heartbeat,
      onSettle: () => {
        settling = true;
        this.#settling++;
        this.#pump();
        this.#wake(false);
      },
    }).then((report) => {
      const failed = report.status === "retried" || report.status === "dead";
      if (failed && report.error !== undefined && !(report.error instanceof Retry)) {
        this.#fail(report.error, report.status === "dead");
      }
    }, (error) => {
      this.broker.logger.error(
        `Cannot finish message ${claim.id} of queue '${queue}': ${errorName(error)}`,
        { id: claim.id, queue, error },
      );
    }).finally(() => {
      this.#inFlight.delete(task);
      this.#started--;
      if (settling) this.#settling--;
      this.#pump();
      // The last message done: a join waits for a round that finds nothing.
      if (this.#inFlight.size === 0 && this.#waiters.length > 0) this.#wake(true);
      else this.#wake(false);
    });
    this.#inFlight.add(task);
  }

  async #handBack(queue: string, claims: Claim[]): Promise<void> {
    if (claims.length === 0) return;
    try {
      await this.broker.release(queue, claims);
    } catch (error) {
      // The leases expire on their own; the messages run later.
      this.broker.logger.warn(`Cannot hand back messages of '${queue}': ${errorName(error)}`, {
        queue,
        error,
      });
    }
  }

  #fail(error: unknown, dead: boolean): void {
    this.#failures.any ??= { error };
    if (dead) this.#failures.dead ??= { error };
    const eager = this.#waiters.filter((w) => w.failFast === "any");
    if (eager.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => w.failFast !== "any");
    this.#failures = {};
    for (const waiter of eager) waiter.reject(error);
  }

  /** Clears the waiting errors; throws the one of `kind`, if any. */
  #takeFailure(kind: "any" | "dead"): void {
    const failure = this.#failures[kind];
    this.#failures = {};
    if (failure) throw failure.error;
  }

  #idle(epoch: number): void {
    const ready = this.#waiters.filter((w) => w.epoch <= epoch);
    this.#waiters = this.#waiters.filter((w) => w.epoch > epoch);
    for (const waiter of ready) waiter.resolve();
  }

  /** Waits `ms`, or less when woken: by any wake if `forRoom`, else only by `always` ones. */
  #pause(ms: number, forRoom: boolean): Promise<void> {
    const woken = this.#woken;
    this.#woken = false;
    if (woken === "always" || (woken === "room" && forRoom)) return Promise.resolve();
    this.#forRoom = forRoom;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#nudge === done) this.#nudge = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#nudge = done;
    });
  }

  /**
   * Ends the current pause, or the next one (a wake during a claim round is not lost).
   * `always`: join and stop; else a slot was freed, which ends only a wait for room.
   */
  #wake(always = true): void {
    if (this.#nudge) {
      if (always || this.#forRoom) this.#nudge();
    } else if (always) this.#woken = "always";
    else this.#woken ||= "room";
  }
}
