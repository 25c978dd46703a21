/**
 * The pull worker, for long-running processes (Deno, Node, Bun): claims messages in
 * batches and processes them concurrently. Signal handling (SIGINT, SIGTERM) belongs to
 * the CLI; call `stop()` from it.
 *
 * @module
 */
import { errorName, MAX_TIMER_MS, NAME_PATTERN, sleep } from "./_util.ts";
import type { Broker, Claim } from "./broker.ts";
import { JoinTimeout, Retry } from "./errors.ts";
import { emit } from "./middleware/_emit.ts";
import { processMessage } from "./process.ts";

/** Options of {@linkcode Worker}. */
export interface WorkerOptions {
  /** The queues to consume, claimed from in this order (default `["default"]`). */
  queues?: string[];
  /** How many messages run at once (default 8). */
  concurrency?: number;
  /** The lease of each claim, in milliseconds, renewed every third of it (default 30 000). */
  leaseMs?: number;
  /** The first pause after an empty claim, in milliseconds (default 100). */
  pollMin?: number;
  /** The longest pause between claims when idle, in milliseconds (default 5 000). */
  pollMax?: number;
}

/** Options of `worker.join()`. */
export interface WorkerJoinOptions {
  /** Give up after this many milliseconds with `JoinTimeout` (default: wait forever). */
  timeout?: number;
  /** Re-raise the first actor error this worker saw (default `true`). */
  failFast?: boolean;
}

/** Options of `worker.stop()`. */
export interface WorkerStopOptions {
  /**
   * How long running actors may take to finish, in milliseconds (default 30 000); then
   * their signals abort and their messages go back to ready, without counting a retry.
   */
  timeout?: number;
}

interface Waiter {
  epoch: number;
  failFast: boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Claims messages from a broker's queues and processes them, `concurrency` at a time,
 * pausing longer and longer (up to `pollMax`) while the queues stay empty.
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
  /** How many messages run at once. */
  readonly concurrency: number;
  readonly #leaseMs: number;
  readonly #pollMin: number;
  readonly #pollMax: number;
  readonly #inFlight = new Set<Promise<void>>();
  /** Aborts when stop() begins: no more claims. */
  readonly #stopping = new AbortController();
  /** Aborts when stop()'s timeout passes: running actors are abandoned and released. */
  readonly #abandon = new AbortController();
  #loop?: Promise<void>;
  #stopped?: Promise<void>;
  #nudge?: () => void;
  #failure?: { error: unknown };
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
      queues = ["default"],
      concurrency = 8,
      leaseMs = 30_000,
      pollMin = 100,
      pollMax = 5_000,
    } = options;
    if (!Array.isArray(queues) || queues.length === 0) {
      throw new TypeError("Cannot create worker: 'queues' must be a non-empty array");
    }
    for (const queue of queues) {
      if (typeof queue !== "string" || !NAME_PATTERN.test(queue)) {
        throw new TypeError("Cannot create worker: 'queues' holds an invalid queue name");
      }
    }
    for (const [name, value] of Object.entries({ concurrency, leaseMs, pollMin, pollMax })) {
      if (!Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) {
        throw new RangeError(
          `Cannot create worker: '${name}' must be a positive integer, received ${value}`,
        );
      }
    }
    this.broker = broker;
    this.queues = [...queues];
    this.concurrency = concurrency;
    this.#leaseMs = leaseMs;
    this.#pollMin = pollMin;
    this.#pollMax = Math.max(pollMin, pollMax);
  }

  /** How many messages are running now. */
  get running(): number {
    return this.#inFlight.size;
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
   * found nothing: Dramatiq's test idiom, after `broker.join()`.
   *
   * @param options A timeout, and whether to re-raise actor errors.
   * @throws {JoinTimeout} When `timeout` passes first.
   * @throws {unknown} The first actor error this worker saw since the last join, unless
   *   `failFast` is `false`.
   */
  async join(options: WorkerJoinOptions = {}): Promise<void> {
    const { timeout, failFast = true } = options;
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure && failFast) throw failure.error;
    if (!this.#loop || this.#stopping.signal.aborted) {
      await Promise.allSettled([...this.#inFlight]);
      return this.#takeFailure(failFast);
    }
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
    this.#takeFailure(failFast);
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
    const settled = Promise.allSettled([...this.#inFlight]);
    const timer = new AbortController();
    const finished = await Promise.race([
      settled.then(() => true),
      sleep(timeout, timer.signal).then(() => false),
    ]);
    timer.abort();
    if (!finished) {
      this.#abandon.abort(new DOMException("The worker is stopping", "AbortError"));
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
      if (this.#inFlight.size >= this.concurrency) {
        await this.#pause(this.#pollMax);
        continue;
      }
      const epoch = this.#epoch;
      let claimed = 0;
      for (const queue of this.queues) {
        const room = this.concurrency - this.#inFlight.size;
        if (room <= 0 || signal.aborted) break;
        let claims: Claim[] = [];
        try {
          claims = await this.broker.claim(queue, { count: room, leaseMs: this.#leaseMs });
        } catch (error) {
          this.broker.logger.error(
            `Cannot claim from queue '${queue}': ${errorName(error)}`,
            error,
          );
        }
        if (signal.aborted) {
          await this.#handBack(queue, claims);
          break;
        }
        for (const claim of claims) this.#process(queue, claim);
        claimed += claims.length;
      }
      if (claimed > 0) {
        pause = this.#pollMin;
        continue;
      }
      if (this.#inFlight.size === 0) this.#idle(epoch);
      await this.#pause(pause);
      pause = Math.min(pause * 2, this.#pollMax);
    }
  }

  #process(queue: string, claim: Claim): void {
    const task = processMessage(this.broker, queue, claim, {
      leaseMs: this.#leaseMs,
      signal: this.#abandon.signal,
    }).then((report) => {
      const failed = report.status === "retried" || report.status === "dead";
      if (failed && report.error !== undefined && !(report.error instanceof Retry)) {
        this.#fail(report.error);
      }
    }, (error) => {
      this.broker.logger.error(
        `Cannot finish message ${claim.id} of queue '${queue}': ${errorName(error)}`,
        error,
      );
    }).finally(() => {
      this.#inFlight.delete(task);
      this.#wake();
    });
    this.#inFlight.add(task);
  }

  async #handBack(queue: string, claims: Claim[]): Promise<void> {
    if (claims.length === 0) return;
    try {
      await this.broker.release(queue, claims);
    } catch (error) {
      // The leases expire on their own; the messages run later.
      this.broker.logger.warn(`Cannot hand back messages of '${queue}': ${errorName(error)}`);
    }
  }

  #fail(error: unknown): void {
    const waiter = this.#waiters.find((w) => w.failFast);
    if (waiter) {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      waiter.reject(error);
    } else {
      this.#failure ??= { error };
    }
  }

  #takeFailure(failFast: boolean): void {
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure && failFast) throw failure.error;
  }

  #idle(epoch: number): void {
    const ready = this.#waiters.filter((w) => w.epoch <= epoch);
    this.#waiters = this.#waiters.filter((w) => w.epoch > epoch);
    for (const waiter of ready) waiter.resolve();
  }

  #pause(ms: number): Promise<void> {
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

  #wake(): void {
    this.#nudge?.();
  }
}
