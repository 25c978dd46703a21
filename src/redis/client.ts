import type { Redis } from "@upstash/redis";

/**
 * The narrowest shape of a Redis client that skiff needs: any `@upstash/redis`
 * instance fits (`@upstash/redis`, `@upstash/redis/cloudflare`, `@upstash/redis/fastly`),
 * and so does a user's own object with the same methods.
 */
export type RedisClient = Pick<Redis, "eval" | "evalsha">;
