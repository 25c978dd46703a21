/**
 * The Redis client skiff talks to, as a shape of its own rather than `@upstash/redis`'s
 * classes: any `@upstash/redis` 1.34.3 or later fits (`@upstash/redis`,
 * `@upstash/redis/cloudflare`, `@upstash/redis/fastly`, ESM or CommonJS), and so does a
 * user's own object with the same methods. Naming the classes instead would tie an app to
 * skiff's exact version of them: their private members make two copies incompatible.
 *
 * @module
 */

/** A command's answer inside a pipeline run with `keepErrors: true`. */
export interface RedisPipelineAnswer<T> {
  /** What Redis answered, when the command succeeded. */
  result?: T;
  /** What Redis answered, when the command failed. */
  error?: string;
}

/**
 * The options of SET that skiff uses: expire after `px` milliseconds, and with `nx`, set
 * only when the key does not exist.
 */
export type RedisSetOptions = { px: number } | { px: number; nx: true };

/**
 * Commands queued to be sent in one request: the part of `@upstash/redis`'s `Pipeline`
 * that skiff uses. Each command method queues and returns the pipeline.
 */
export interface RedisPipeline {
  /** Queues EVAL. */
  eval<TArgs extends unknown[], TData = unknown>(
    script: string,
    keys: string[],
    args: TArgs,
  ): RedisPipeline;
  /** Queues EVALSHA. */
  evalsha<TArgs extends unknown[], TData = unknown>(
    sha: string,
    keys: string[],
    args: TArgs,
  ): RedisPipeline;
  /** Queues GET. */
  get<TData>(key: string): RedisPipeline;
  /** Queues HSET. */
  hset<TData>(key: string, fields: Record<string, TData>): RedisPipeline;
  /** Queues HSETNX. */
  hsetnx<TData>(key: string, field: string, value: TData): RedisPipeline;
  /** Queues MGET. */
  mget<TData extends unknown[]>(...keys: string[]): RedisPipeline;
  /** Queues PEXPIRE. */
  pexpire(key: string, milliseconds: number): RedisPipeline;
  /** Queues SET. */
  set<TData>(key: string, value: TData, options?: RedisSetOptions): RedisPipeline;
  /** Queues ZCARD. */
  zcard(key: string): RedisPipeline;
  /** Queues ZCOUNT. */
  zcount(key: string, min: number | string, max: number | string): RedisPipeline;
  /** How many commands are queued. */
  length(): number;
  /** Sends the queued commands; rejects when one fails. */
  exec<T extends unknown[] = unknown[]>(): Promise<T>;
  /** Sends the queued commands; each answer carries its result or its error. */
  exec<T extends unknown[] = unknown[]>(
    options: { keepErrors: true },
  ): Promise<{ [K in keyof T]: RedisPipelineAnswer<T[K]> }>;
}

/**
 * Every command skiff sends, with `@upstash/redis`'s signatures; each part of skiff asks
 * for the few it needs with `Pick` (as `@upstash/ratelimit` does).
 */
export interface RedisCommands {
  /** EVAL: runs a Lua script. */
  eval<TArgs extends unknown[], TData = unknown>(
    script: string,
    keys: string[],
    args: TArgs,
  ): Promise<TData>;
  /** EVALSHA: runs a Lua script Redis already knows. */
  evalsha<TArgs extends unknown[], TData = unknown>(
    sha: string,
    keys: string[],
    args: TArgs,
  ): Promise<TData>;
  /** MGET: reads several keys. */
  mget<TData extends unknown[]>(...keys: string[]): Promise<TData>;
  /** SET with an expiry. */
  set<TData>(key: string, value: TData, options?: RedisSetOptions): Promise<"OK" | TData | null>;
  /** Starts a pipeline: commands sent together in one request. */
  pipeline(): RedisPipeline;
}

/**
 * The narrowest shape of a Redis client that skiff needs: any `@upstash/redis`
 * instance fits (`@upstash/redis`, `@upstash/redis/cloudflare`, `@upstash/redis/fastly`),
 * and so does a user's own object with the same methods.
 */
export type RedisClient = Pick<RedisCommands, "eval" | "evalsha">;
