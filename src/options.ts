/**
 * The table of actor options. The core and each middleware declare the options they
 * accept; `actor()` and `sendWithOptions()` reject any other name with a `TypeError`.
 *
 * @module
 */
import { describe } from "./_util.ts";

/** How one actor option is checked. */
export interface ActorOptionSpec {
  /** The `typeof` a valid value has; another type is a `TypeError`. */
  type: "number" | "string" | "boolean" | "function" | "object";
  /** Completes "'name' must be ...", as in "a non-negative integer". */
  expected: string;
  /** Whether a value of the right type is valid; `false` is a `RangeError`. */
  check?: (value: unknown) => boolean;
  /** Whether the option may be set per message (its values survive JSON). */
  perMessage: boolean;
  /**
   * Whether the value names an actor: an actor object is accepted too, and kept as its
   * name (so that it survives JSON), by {@linkcode namesForActors}.
   */
  namesActor?: boolean;
}

const specs = new Map<string, ActorOptionSpec>();

/**
 * Declares actor options, usually at the top level of the middleware module that reads
 * them, so that they are known before any actor is declared.
 *
 * @param table The options, by name.
 * @throws {TypeError} When a name is already declared with another spec.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * declareActorOptions({
 *   tenant: { type: "string", expected: "a tenant id", perMessage: true },
 * });
 * assert(getActorOptionSpec("tenant")?.perMessage === true);
 * ```
 */
export function declareActorOptions(table: Readonly<Record<string, ActorOptionSpec>>): void {
  for (const [name, spec] of Object.entries(table)) {
    const known = specs.get(name);
    if (known && known !== spec) {
      throw new TypeError(`Cannot declare actor option '${name}': it is already declared`);
    }
    specs.set(name, spec);
  }
}

/**
 * Looks up the spec of a declared actor option.
 *
 * @param name The option's name.
 * @returns The spec, or `undefined` when no one declared the option.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert(getActorOptionSpec("noSuchOption") === undefined);
 * ```
 */
export function getActorOptionSpec(name: string): ActorOptionSpec | undefined {
  return specs.get(name);
}

/**
 * Replaces each actor object given for an option that names an actor (`onSuccess`,
 * `onFailure`) by the actor's name; other values are kept as they are.
 *
 * @param options The options, as given.
 * @returns A copy, with names for actors.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * declareActorOptions({
 *   audit: { type: "string", expected: "an actor", perMessage: true, namesActor: true },
 * });
 * const auditor = { name: "auditor", send: () => {} };
 * assert.deepEqual(namesForActors({ audit: auditor }), { audit: "auditor" });
 * ```
 */
export function namesForActors(
  options: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const named: Record<string, unknown> = { ...options };
  for (const [name, value] of Object.entries(options)) {
    if (specs.get(name)?.namesActor && isActorLike(value)) named[name] = value.name;
  }
  return named;
}

/** An actor, seen without importing `Actor` (which imports this module). */
function isActorLike(value: unknown): value is { name: string } {
  return typeof value === "object" && value !== null &&
    typeof (value as { name?: unknown }).name === "string" &&
    typeof (value as { send?: unknown }).send === "function";
}

/**
 * Checks options against the table.
 *
 * @param options The options to check; `undefined` values are ignored.
 * @param context Starts the error message, as in "Cannot declare actor 'add'".
 * @param perMessage Accept only options that may be set per message.
 * @throws {TypeError} On an unknown option or a value of the wrong type.
 * @throws {RangeError} On a value out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * declareActorOptions({ answer: { type: "number", expected: "42", check: (v) => v === 42, perMessage: true } });
 * try {
 *   checkActorOptions({ answer: 41 }, "Cannot declare actor 'x'");
 * } catch (error) {
 *   assert(error instanceof RangeError);
 * }
 * ```
 */
export function checkActorOptions(
  options: Readonly<Record<string, unknown>>,
  context: string,
  perMessage = false,
): void {
  for (const [name, value] of Object.entries(options)) {
    const spec = specs.get(name);
    if (!spec) throw new TypeError(`${context}: unknown option '${name}'`);
    if (value === undefined) continue;
    if (perMessage && !spec.perMessage) {
      throw new TypeError(`${context}: option '${name}' cannot be set per message`);
    }
    const problem = `${context}: '${name}' must be ${spec.expected}, received ${describe(value)}`;
    const type: string = typeof value;
    if (type !== spec.type) throw new TypeError(problem);
    if (spec.check && !spec.check(value)) throw new RangeError(problem);
  }
}
