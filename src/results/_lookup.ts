/**
 * Finds where a message's result is stored, failing at once when it never will be;
 * private to skiff. `Message.getResult()` (provided here when this module loads), pipelines
 * and groups read through it.
 */
import type { Broker } from "../broker.ts";
import { provideResults } from "../message.ts";
import { getActor } from "../registry.ts";
import type { ReadResultOptions, ResultBackend } from "./backend.ts";
import { type ResultOwner, Results } from "./middleware.ts";

/** A message whose result can be asked for: its id, actor and options. */
export interface ResultSource extends ResultOwner {
  /** The message id. */
  readonly id: string;
}

/** The `Results` middleware of a broker, if it has one. */
export function resultsOf(broker: Broker): Results | undefined {
  return broker.middleware.find((m): m is Results => m instanceof Results);
}

/**
 * The backend holding these messages' results (the `Results` middleware of the first
 * one's actor's broker, or of `broker`).
 *
 * @throws {TypeError} When an actor is not declared here, does not store results, or the
 *   broker has no `Results` middleware: asking would otherwise wait for nothing.
 */
export function backendFor(messages: readonly ResultSource[], broker?: Broker): ResultBackend {
  let results: Results | undefined;
  let home: Broker | undefined;
  for (const message of messages) {
    const context = `Cannot get the result of message ${message.id}`;
    const actor = getActor(message.actor);
    if (!actor) {
      throw new TypeError(`${context}: no actor named '${message.actor}' is declared here`);
    }
    if (!results) {
      results = resultsOf(home = broker ?? actor.broker);
      if (!results) throw new TypeError(`${context}: the broker has no Results middleware`);
    }
    if (!results.stores(message)) {
      throw new TypeError(
        `${context}: actor '${message.actor}' does not store results (set 'storeResults: true')`,
      );
    }
  }
  if (!results || !home) throw new TypeError("Cannot get results: there are no messages");
  return results.backendFor(home);
}

/** Reads a message's result: what `Message.getResult()` does. */
export function messageResult(
  message: ResultSource,
  options: ReadResultOptions,
): Promise<unknown> {
  try {
    return backendFor([message]).getResult(message.id, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

provideResults(messageResult);
