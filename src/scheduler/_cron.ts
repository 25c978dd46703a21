/**
 * Cron expressions for the `Scheduler`, read by croner: five fields (minute first) or six
 * (second first), in UTC or an IANA time zone, DST-correct. A bad expression is refused
 * when the schedule is declared, with the field at fault quoted. Private to skiff.
 *
 * @module
 */
import { Cron, CronPattern } from "croner";
import { describe } from "../_util.ts";

const FIVE = ["minute", "hour", "day-of-month", "month", "day-of-week"] as const;
const SIX = ["second", ...FIVE] as const;

const EXPECTED: Record<string, string> = {
  second: "0-59",
  minute: "0-59",
  hour: "0-23",
  "day-of-month": "1-31, L or W",
  month: "1-12 or JAN-DEC",
  "day-of-week": "0-7, SUN-SAT, L or #",
};

/** Far enough in the past that every five- or six-field expression matches after it. */
const REFERENCE = new Date(Date.UTC(2000, 0, 1));

/** The slots of one cron expression: instants, in milliseconds since the epoch. */
export interface CronSlots {
  /** The expression as declared. */
  readonly expression: string;
  /** The IANA time zone it is read in; `undefined` is UTC. */
  readonly timezone: string | undefined;
  /**
   * The latest `count` slots at or before `now`, oldest first.
   *
   * @param now The time, in milliseconds since the epoch.
   * @param count How many slots at most.
   * @returns The slots, ascending.
   */
  latest(now: number, count: number): number[];
  /**
   * The first `count` slots after `after`, ascending.
   *
   * @param after The time, in milliseconds since the epoch.
   * @param count How many slots at most.
   * @returns The slots, ascending.
   */
  next(after: number, count: number): number[];
}

/**
 * Reads a cron expression, or explains which field is wrong.
 *
 * @param expression Five fields (minute first) or six (second first); croner's
 *   nicknames (`@hourly`, `@daily`, ...) too.
 * @param timezone An IANA time zone name; `undefined` is UTC.
 * @param context The start of error messages, such as `Cannot schedule 'report'`.
 * @returns The expression's slots.
 * @throws {TypeError} When the expression is not a string of five or six fields, or a
 *   field is invalid (the message quotes it), or the time zone is unknown.
 * @throws {RangeError} When the expression never matches (say, February 31st).
 */
export function parseCron(
  expression: unknown,
  timezone: unknown,
  context: string,
): CronSlots {
  if (typeof expression !== "string") {
    throw new TypeError(
      `${context}: the cron expression must be a string, received ${describe(expression)}`,
    );
  }
  if (timezone !== undefined && !isTimeZone(timezone)) {
    throw new TypeError(
      `${context}: 'timezone' must be an IANA time zone name such as "Europe/Berlin", received ${
        describe(timezone)
      }`,
    );
  }
  const text = expression.trim();
  const fields = text.split(/\s+/);
  const nickname = fields.length === 1 && text.startsWith("@");
  if (!nickname && fields.length !== 5 && fields.length !== 6) {
    throw new TypeError(
      `${context}: the cron expression '${text}' must have five fields (minute hour ` +
        `day-of-month month day-of-week) or six (second first), received ${fields.length}`,
    );
  }
  let cron: Cron;
  try {
    cron = new Cron(text, { timezone, mode: "5-or-6-parts" });
  } catch (error) {
    throw fieldError(text, fields, context, error);
  }
  if (cron.nextRun(REFERENCE) === null) {
    throw new RangeError(`${context}: the cron expression '${text}' never matches a date`);
  }
  const tz = timezone as string | undefined;
  return {
    expression: text,
    timezone: tz,
    // croner includes a slot earlier in the same second as the reference: + 1 makes a slot
    // exactly at `now` count as due.
    latest: (now, count) =>
      cron.previousRuns(count, new Date(now + 1)).map((d) => d.getTime()).reverse(),
    next: (after, count) => cron.nextRuns(count, new Date(after)).map((d) => d.getTime()),
  };
}

/** The error for an expression croner refused: the first field that fails on its own. */
function fieldError(text: string, fields: string[], context: string, cause: unknown): TypeError {
  if (fields.length === 5 || fields.length === 6) {
    const names = fields.length === 5 ? FIVE : SIX;
    for (const [i, field] of fields.entries()) {
      const alone = fields.map((f, j) => (j === i ? f : "*")).join(" ");
      try {
        new CronPattern(alone, undefined, { mode: "5-or-6-parts" });
      } catch {
        return new TypeError(
          `${context}: the ${names[i]} field of the cron expression '${text}' must be ` +
            `${EXPECTED[names[i]]} (with * , - /), received '${field}'`,
        );
      }
    }
  }
  const reason = cause instanceof Error ? cause.message.replace(/^CronPattern: /, "") : "";
  return new TypeError(
    `${context}: the cron expression '${text}' is invalid${reason ? `: ${reason}` : ""}`,
  );
}

function isTimeZone(value: unknown): value is string {
  if (typeof value !== "string" || value === "") return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}
