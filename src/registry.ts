/**
 * The global actor registry: workers look actors up by the name in each message.
 *
 * @module
 */
import type { Actor } from "./actor.ts";

const actors = new Map<string, Actor>();

/**
 * Adds an actor; `actor()` calls this.
 *
 * @param declared The actor.
 * @throws {TypeError} When another actor has the same name.
 */
export function registerActor(declared: Actor): void {
  if (actors.has(declared.name)) {
    throw new TypeError(
      `Cannot declare actor '${declared.name}': an actor with this name is already declared`,
    );
  }
  actors.set(declared.name, declared);
}

/**
 * Looks an actor up by name.
 *
 * @param name The actor's name.
 * @returns The actor, or `undefined` when none has this name.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { actor } from "./actor.ts";
 * const hello = actor(`hello-${crypto.randomUUID()}`, () => "hello");
 * assert(getActor(hello.name) === hello);
 * ```
 */
export function getActor(name: string): Actor | undefined {
  return actors.get(name);
}

/**
 * Lists the names of the declared actors.
 *
 * @returns The names, in declaration order.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert(Array.isArray(actorNames()));
 * ```
 */
export function actorNames(): string[] {
  return [...actors.keys()];
}
