/** Checking and resolving the worker endpoint's options; private to skiff. */
import type { Context, Env } from "hono";
import { describe } from "../_util.ts";
import { MIN_SECRET_LENGTH } from "../push/signature.ts";
import type { QstashKeys } from "../push/qstash.ts";
import type { PerRequest, WorkerAppOptions } from "./options.ts";

/** The options with their defaults applied; private to skiff. */
export type ResolvedOptions<E extends Env> =
  & WorkerAppOptions<E>
  & Required<Pick<WorkerAppOptions<E>, NumberOption>>;

type NumberOption = "budgetMs" | "maxIds" | "maxBodyBytes" | "leaseMs" | "concurrency";

/** The most ids a broker claims by id in one round trip. */
const MAX_IDS = 1000;

const DEFAULTS: Readonly<Record<NumberOption, number>> = {
  budgetMs: 10_000,
  maxIds: 100,
  maxBodyBytes: 64 * 1024,
  leaseMs: 30_000,
  concurrency: 8,
};

/**
 * Checks signing keys: an array of strings of at least 16 characters.
 *
 * @throws {TypeError} When they are not; the message quotes none of them.
 */
export function checkKeys(keys: unknown, what: string): readonly string[] {
  if (
    !Array.isArray(keys) ||
    keys.some((key) => typeof key !== "string" || key.length < MIN_SECRET_LENGTH)
  ) {
    throw new TypeError(
      `${what}: 'signingKeys' must be an array of strings of at least ${MIN_SECRET_LENGTH} characters`,
    );
  }
  return keys;
}

/**
 * Checks a cron secret: `undefined` (none) or a string of at least 16 characters.
 *
 * @throws {TypeError} When it is not; the message does not quote it.
 */
export function checkCronSecret(secret: unknown, what: string): string | undefined {
  if (secret === undefined) return undefined;
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
    throw new TypeError(
      `${what}: 'cronSecret' must be a string of at least ${MIN_SECRET_LENGTH} characters`,
    );
  }
  return secret;
}

/**
 * Checks QStash keys: `undefined` (none) or `{ currentSigningKey, nextSigningKey?, origin? }`
 * with non-empty key strings and an http(s) origin without a path.
 *
 * @throws {TypeError} When they are not; the message quotes no key.
 */
export function checkQstash(keys: unknown, what: string): QstashKeys | undefined {
  if (keys === undefined) return undefined;
  const k = keys as Partial<QstashKeys> | null;
  const ok = typeof k === "object" && k !== null && typeof k.currentSigningKey === "string" &&
    k.currentSigningKey.length > 0 &&
    (k.nextSigningKey === undefined ||
      (typeof k.nextSigningKey === "string" && k.nextSigningKey.length > 0));
  if (!ok) {
    throw new TypeError(
      `${what}: 'qstash' must be { currentSigningKey, nextSigningKey? } with non-empty strings`,
    );
  }
  const origin = k!.origin === undefined ? undefined : originOf(k!.origin);
  if (origin === null) {
    throw new TypeError(
      `${what}: 'qstash.origin' must be an http(s) origin such as https://app.example.com`,
    );
  }
  return {
    currentSigningKey: k!.currentSigningKey!,
    nextSigningKey: k!.nextSigningKey,
    ...(origin === undefined ? {} : { origin }),
  };
}

/** An http(s) origin in its normal form, or `null` when `value` is not one alone. */
function originOf(value: unknown): string | null {
  if (typeof value !== "string" || !URL.canParse(value)) return null;
  const url = new URL(value);
  const bare = url.pathname === "/" && !url.search && !url.hash && !url.username;
  return /^https?:$/.test(url.protocol) && bare ? url.origin : null;
}

/**
 * Checks the options that can be checked before any request, and applies the defaults.
 *
 * @throws {TypeError} When static `signingKeys` are invalid.
 * @throws {RangeError} When a limit is not a positive integer.
 */
export function resolveOptions<E extends Env>(options: WorkerAppOptions<E>): ResolvedOptions<E> {
  const resolved = { ...options } as ResolvedOptions<E>;
  for (const name of Object.keys(DEFAULTS) as NumberOption[]) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new RangeError(
        `Cannot create worker app: '${name}' must be a positive integer, received ${
          describe(value)
        }`,
      );
    }
    resolved[name] = value ?? DEFAULTS[name];
  }
  if (resolved.maxIds > MAX_IDS) {
    throw new RangeError(
      `Cannot create worker app: 'maxIds' must be at most ${MAX_IDS}, received ${resolved.maxIds}`,
    );
  }
  if (Array.isArray(options.signingKeys)) {
    checkKeys(options.signingKeys, "Cannot create worker app");
  }
  if (typeof options.cronSecret !== "function") {
    checkCronSecret(options.cronSecret, "Cannot create worker app");
  }
  if (typeof options.qstash !== "function") checkQstash(options.qstash, "Cannot create worker app");
  return resolved;
}

/** A per-request option's value for this request. */
export async function resolve<T, E extends Env>(
  value: PerRequest<T, E>,
  c: Context<E>,
): Promise<T> {
  return typeof value === "function"
    ? await (value as (c: Context<E>) => T | Promise<T>)(c)
    : value;
}
