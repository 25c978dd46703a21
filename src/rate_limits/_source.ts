/**
 * Where a limiter's or a barrier's state lives: the backend given, else the one its broker
 * implies (the `broker` option, or the global broker at each use), as the `Scheduler`
 * derives its store. Private to skiff.
 */
import { describe } from "../_util.ts";
import type { Broker } from "../broker.ts";
import { redisOf } from "../brokers/_on_redis.ts";
import { getBroker } from "../global_broker.ts";
import type { RateLimiterBackend } from "./backend.ts";
import { checkBackend } from "./_checks.ts";
import { MemoryRateLimiterBackend } from "./memory_backend.ts";
import {
  UpstashRateLimiterBackend,
  type UpstashRateLimiterBackendOptions,
} from "./upstash_backend.ts";

/** The first argument of the options form: the key, and where the state lives. */
export interface SourceOptions {
  key: string;
  backend?: RateLimiterBackend;
  broker?: Broker;
}

/** What a constructor's first two arguments come to. */
export interface Source {
  key: unknown;
  backend: RateLimiterBackend | undefined;
  broker: Broker | undefined;
}

/** Beside each broker, as its queues are: every limiter on the broker shares it. */
const BACKENDS = new WeakMap<Broker, RateLimiterBackend>();

/**
 * Reads `(backend, key, options)` or `({ key, backend?, broker?, ...options })`.
 *
 * @throws {TypeError} When the backend or the broker has the wrong shape.
 */
export function readSource(first: unknown, key: unknown, context: string): Source {
  if (isPositional(first, key)) {
    checkBackend(first, context);
    return { key, backend: first as RateLimiterBackend, broker: undefined };
  }
  const options = first as Partial<SourceOptions>;
  if (options.backend !== undefined) checkBackend(options.backend, context);
  const broker = options.broker;
  if (broker !== undefined && typeof broker?.enqueue !== "function") {
    throw new TypeError(`${context}: 'broker' must be a Broker, received ${describe(broker)}`);
  }
  return { key: options.key, backend: options.backend, broker };
}

/**
 * The backend a broker implies: on its Redis and namespace for a broker on Redis
 * (`redisOf`), else in memory beside the broker; with the broker's clock.
 *
 * @throws {TypeError} When the broker's client cannot run scripts: pass `backend`.
 */
export function backendOf(broker: Broker | undefined): RateLimiterBackend {
  const owner = broker ?? getBroker();
  let backend = BACKENDS.get(owner);
  if (!backend) {
    const onRedis = redisOf(owner);
    backend = onRedis
      ? new UpstashRateLimiterBackend({
        redis: onRedis.redis as UpstashRateLimiterBackendOptions["redis"],
        namespace: onRedis.namespace,
        now: owner.now,
      })
      : new MemoryRateLimiterBackend({ now: owner.now });
    BACKENDS.set(owner, backend);
  }
  return backend;
}

/** The settings: the third argument in the positional form, else the first. */
export function settingsOf<T extends object>(first: unknown, key: unknown, settings?: T): T {
  return ((isPositional(first, key) ? settings : first) ?? {}) as T;
}

/** Whether the arguments are `(backend, key, options)`, not `({ key, ... })`. */
function isPositional(first: unknown, key: unknown): boolean {
  return typeof key === "string" || typeof first !== "object" || first === null ||
    typeof (first as Partial<RateLimiterBackend>).acquireConcurrent === "function";
}
