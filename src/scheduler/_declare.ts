/**
 * Checks a schedule's declaration, eagerly, so that mistakes fail at module load and not
 * at the first tick. Private to skiff.
 *
 * @module
 */
import { describe, NAME_PATTERN } from "../_util.ts";
import { Message } from "../message.ts";
import { type CronSlots, parseCron } from "./_cron.ts";
import type { Schedule, ScheduleOptions } from "./types.ts";

/** A declared schedule, with what ticks compute from. */
export interface Entry extends Schedule {
  /** The expression's slots. */
  readonly slots: CronSlots;
  /** How many missed slots fire late (0: `misfire: "skip"`). */
  readonly catchUp: number;
}

const OPTION_NAMES = new Set(["timezone", "misfire", "overlap", "grace"]);
const DEFAULT_GRACE = 5 * 60_000;
const MAX_CATCH_UP = 1000;

/**
 * Checks a declaration and reads its cron expression.
 *
 * @throws {TypeError} On an invalid name, cron expression, time zone, message or option.
 * @throws {RangeError} On an expression that never matches, or a number out of range.
 */
export function declare(
  name: string,
  cron: string,
  message: Message,
  options: ScheduleOptions,
): Entry {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new TypeError(
      `Cannot schedule: the name must be 1 to 200 of A-Z a-z 0-9 _ . : @ / -, received ${
        describe(name)
      }`,
    );
  }
  const context = `Cannot schedule '${name}'`;
  checkMessage(message, context);
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${context}: options must be an object, received ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) throw new TypeError(`${context}: unknown option '${key}'`);
  }
  const { timezone, misfire = "skip", overlap = "allow", grace = DEFAULT_GRACE } = options;
  const slots = parseCron(cron, timezone, context);
  const catchUp = catchUpOf(misfire, context);
  if (overlap !== "allow" && overlap !== "skip") {
    throw new TypeError(
      `${context}: 'overlap' must be "allow" or "skip", received ${describe(overlap)}`,
    );
  }
  if (!Number.isInteger(grace) || grace < 1) {
    throw new RangeError(
      `${context}: 'grace' must be a positive integer number of milliseconds, received ${
        describe(grace)
      }`,
    );
  }
  return {
    name,
    cron: slots.expression,
    timezone: slots.timezone,
    message,
    misfire: catchUp === 0 ? "skip" : { catchUp },
    overlap,
    grace,
    slots,
    catchUp,
  };
}

function checkMessage(message: Message, context: string): void {
  if (!(message instanceof Message)) {
    throw new TypeError(
      `${context}: 'message' must be a Message from actor.message(), received ${describe(message)}`,
    );
  }
  if (message.enqueuedAt !== undefined || message.eta !== undefined) {
    throw new TypeError(
      `${context}: 'message' must be unsent and without an eta (use 'delay'), as from actor.message()`,
    );
  }
  // Later steps of a pipeline or group carry ids chosen once: sent at every slot, they
  // would be written once and ignored after.
  if ((message as { next?: unknown }).next !== undefined) {
    throw new TypeError(
      `${context}: 'message' is a step of a pipeline or group; schedule a message of its own`,
    );
  }
}

function catchUpOf(misfire: unknown, context: string): number {
  if (misfire === "skip") return 0;
  const n = (misfire as { catchUp?: unknown } | null)?.catchUp;
  if (typeof misfire !== "object" || misfire === null || n === undefined) {
    throw new TypeError(
      `${context}: 'misfire' must be "skip" or { catchUp: n }, received ${describe(misfire)}`,
    );
  }
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > MAX_CATCH_UP) {
    throw new RangeError(
      `${context}: 'misfire.catchUp' must be an integer from 1 to ${MAX_CATCH_UP}, received ${
        describe(n)
      }`,
    );
  }
  return n as number;
}
