/**
 * skiff: an edge-first task queue for TypeScript, with Dramatiq's model (actors,
 * messages, retries, middleware, workers) kept in Redis through the Upstash REST protocol,
 * or in memory. The core uses Web APIs only, so it runs wherever `fetch` runs.
 *
 * ```ts ignore
 * // Deno
 * import { actor, MemoryBroker, setBroker } from "@skiff/skiff";
 * // Node and Bun
 * import { actor, MemoryBroker, setBroker } from "skiff";
 * ```
 *
 * @example Declare an actor, send it a message, run it
 * ```ts
 * import { actor, MemoryBroker, setBroker } from "@skiff/skiff";
 *
 * const broker = new MemoryBroker();
 * setBroker(broker);
 * const seen: number[] = [];
 * const add = actor("mod-example-add", (x: number, y: number) => {
 *   seen.push(x + y);
 * });
 * await add.send(1, 2);
 * await broker.join("default");
 * console.assert(seen[0] === 3);
 * ```
 *
 * @module
 */
// The layers above the core plug into it when they load: `Message.pipe()` (pipelines), the
// effects settled with an ack or a nack (compositions), `Message.getResult()` (results).
import "./src/composition/pipeline.ts";
import "./src/composition/_effects.ts";
import "./src/results/_lookup.ts";

export { VERSION } from "./src/version.ts";
export type {
  RedisClient,
  RedisCommands,
  RedisPipeline,
  RedisPipelineAnswer,
  RedisSetOptions,
} from "./src/redis/client.ts";
export { Script, type ScriptArg } from "./src/redis/script.ts";

export {
  Actor,
  actor,
  type ActorFunction,
  type ActorOptions,
  type ArgsSchema,
  type CallbackActor,
  COMPOSITION_OPTIONS,
  DEFAULT_RESULT_TTL,
  type DropLast,
  type ErrorClass,
  type ExceptionData,
  type MessageData,
  type MessageOptions,
  type PerMessageOptions,
  RESULTS_OPTIONS,
} from "./src/actor.ts";
export {
  type AddMiddlewareOptions,
  Broker,
  type BrokerOptions,
  type CancelOutcome,
  type CancelStored,
  type Claim,
  type ClaimByIdOptions,
  type ClaimByIdResult,
  type ClaimOptions,
  type DeadLetter,
  type DebounceRecord,
  type Effects,
  type EncodedMessage,
  type EnqueuedMessage,
  type EnqueueOptions,
  type FlushCounts,
  type GroupStart,
  type JoinFailFast,
  type JoinOptions,
  type Lease,
  type LeaseOptions,
  type Logger,
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
  type ThroughputMinute,
  type ThroughputOptions,
  type UnclaimedState,
} from "./src/broker.ts";
export type { QueueOptions, RateLimit } from "./src/brokers/flow.ts";
export { jsonLogger, type JsonLoggerOptions, type LogFields } from "./src/logger.ts";
export { MemoryBroker } from "./src/brokers/memory.ts";
export { getBroker, setBroker } from "./src/global_broker.ts";
export { MessageContext, type MessageContextInit } from "./src/context.ts";
export {
  JoinTimeout,
  MessageTooLarge,
  RateLimitExceeded,
  Retry,
  type RetryOptions,
  SkipMessage,
  type SkipMessageOptions,
  TimeLimitExceeded,
} from "./src/errors.ts";
export {
  type DebounceOptions,
  type Envelope,
  ENVELOPE_VERSION,
  EnvelopeSchema,
  Message,
  type MessageInit,
  type ThrottleOptions,
} from "./src/message.ts";
export {
  type Awaitable,
  type HookName,
  Middleware,
  type ProcessOutcome,
} from "./src/middleware/middleware.ts";
export {
  type BackoffOptions,
  computeBackoff,
  Retries,
  type RetriesOptions,
} from "./src/middleware/retries.ts";
export { AgeLimit, type AgeLimitOptions } from "./src/middleware/age_limit.ts";
export { TimeLimit, type TimeLimitOptions } from "./src/middleware/time_limit.ts";
export { type ActorOptionSpec, declareActorOptions } from "./src/options.ts";
export {
  Worker,
  type WorkerJoinOptions,
  type WorkerOptions,
  type WorkerStopOptions,
} from "./src/worker.ts";
export {
  UpstashBroker,
  type UpstashBrokerClient,
  type UpstashBrokerOptions,
} from "./src/brokers/upstash.ts";
export { Push, pushEnqueued, type PushOptions, type PushReport } from "./src/push/push.ts";
export { bearerMatches } from "./src/push/cron_secret.ts";
export {
  QSTASH_SIGNATURE_HEADER,
  type QstashKeys,
  verifyQstash,
  type VerifyQstashOptions,
  type VerifyQstashResult,
} from "./src/push/qstash.ts";
export {
  deliver,
  type DeliverOptions,
  type DeliveryResult,
  type DeliveryStatus,
  PushReplayed,
} from "./src/push/deliver.ts";
export type { ProcessStatus } from "./src/process.ts";
export {
  keyId,
  MIN_SECRET_LENGTH,
  SIGNATURE_HEADER,
  SIGNATURE_TOLERANCE_MS,
  type SignatureFailure,
  type SignedRequest,
  type SignOptions,
  signPush,
  type VerifyOptions,
  verifyPush,
  type VerifyResult,
} from "./src/push/signature.ts";
export {
  MemoryReplayStore,
  type MemoryReplayStoreOptions,
  RedisReplayStore,
  type RedisReplayStoreOptions,
  type ReplayClient,
  type ReplayStore,
  replayStoreFor,
} from "./src/push/replay.ts";
export {
  type QueueTickReport,
  tick,
  type TickOptions,
  type TickReport,
  type TickScheduler,
} from "./src/tick.ts";
export {
  type AcquireOptions,
  RateLimiter,
  type RateLimiterSourceOptions,
  type Release,
} from "./src/rate_limits/rate_limiter.ts";
export {
  ConcurrentRateLimiter,
  type ConcurrentRateLimiterOptions,
} from "./src/rate_limits/concurrent.ts";
export { WindowRateLimiter, type WindowRateLimiterOptions } from "./src/rate_limits/window.ts";
export {
  BUCKET_STRATEGIES,
  BucketRateLimiter,
  type BucketRateLimiterOptions,
  type BucketStrategy,
} from "./src/rate_limits/bucket.ts";
export {
  Barrier,
  type BarrierOptions,
  type BarrierWaitOptions,
} from "./src/rate_limits/barrier.ts";
export type {
  BarrierCreateOptions,
  BarrierState,
  BucketSlotOptions,
  ConcurrentSlotOptions,
  RateLimiterBackend,
  ReleaseSlotOptions,
  WindowSlotOptions,
} from "./src/rate_limits/backend.ts";
export {
  MemoryRateLimiterBackend,
  type MemoryRateLimiterBackendOptions,
} from "./src/rate_limits/memory_backend.ts";
export {
  UpstashRateLimiterBackend,
  type UpstashRateLimiterBackendOptions,
} from "./src/rate_limits/upstash_backend.ts";
export {
  type FiredSlot,
  type MisfirePolicy,
  type OverlapPolicy,
  type Schedule,
  type ScheduleOptions,
  Scheduler,
  type SchedulerOptions,
  type SchedulerTickOptions,
  type SchedulerTickReport,
  type SkippedSlot,
} from "./src/scheduler/scheduler.ts";
export type {
  RecordSwap,
  ScheduleRecord,
  ScheduleStore,
  SwapOptions,
  SwapResult,
} from "./src/scheduler/store.ts";
export {
  MemoryScheduleStore,
  type MemoryScheduleStoreOptions,
} from "./src/scheduler/memory_store.ts";
export {
  UpstashScheduleStore,
  type UpstashScheduleStoreOptions,
} from "./src/scheduler/upstash_store.ts";
export { getScheduler, hasScheduler, setScheduler } from "./src/scheduler/global_scheduler.ts";
export { runScheduler, type RunSchedulerOptions } from "./src/scheduler/run_scheduler.ts";
export {
  Group,
  group,
  type GroupOptions,
  type Member,
  type WaitOptions,
} from "./src/composition/group.ts";
export { Pipeline, pipeline, type PipelineOptions } from "./src/composition/pipeline.ts";
export {
  type GroupLike,
  type PipelineLike,
  type ResultOf,
  type RunOptions,
  type Step,
} from "./src/composition_contract.ts";
export {
  type Continuation,
  ContinuationSchema,
  type Membership,
  type PendingGroup,
  type PendingMessage,
  type PlanFanRef,
  type PlanRef,
} from "./src/continuation.ts";
export {
  DEFAULT_RESULT_TIMEOUT,
  ResultBackend,
  type ResultBackendOptions,
  type ResultEntry,
  type ResultSlot,
  type StoredResult,
} from "./src/results/backend.ts";
export {
  type FailureData,
  ResultError,
  ResultFailure,
  ResultMissing,
  ResultTimeout,
} from "./src/results/errors.ts";
export { MemoryResultBackend } from "./src/results/memory.ts";
export { type ResultOwner, Results, type ResultsOptions } from "./src/results/middleware.ts";
export { type ReadResultOptions, ResultStream } from "./src/result_stream.ts";
export {
  UpstashResultBackend,
  type UpstashResultBackendOptions,
  type UpstashResultClient,
} from "./src/results/upstash.ts";
