/**
 * What the operations commands (`stats`, `dead`, `schedules`, `dashboard`) read from the
 * modules they are given: the queues actors are declared on, and the schedules.
 *
 * @module
 */
import { NAME_PATTERN } from "../_util.ts";
import { actorNames, getActor } from "../registry.ts";
import { getScheduler, hasScheduler } from "../scheduler/global_scheduler.ts";
import { Scheduler } from "../scheduler/scheduler.ts";
import type { Schedule } from "../scheduler/types.ts";
import { findModules } from "./_discover.ts";
import { importFile } from "./_import.ts";
import { CommandError } from "./_io.ts";

/** What the modules declare. */
export interface Loaded {
  /** Each queue an actor is declared on, sorted. */
  actorQueues: string[];
  /** The schedulers that declare schedules (the global one included). */
  schedulers: Scheduler[];
  /** Their schedules. */
  schedules: Schedule[];
}

/**
 * Imports the modules (none is fine: the broker may come from the environment).
 *
 * @param modules Files, directories, quoted globs or packages.
 * @returns What they declare.
 * @throws {CommandError} With exit code 2 when a module cannot be found or imported, or a
 *   schedule name is declared by two schedulers.
 */
export async function loadModules(modules: string[]): Promise<Loaded> {
  const schedulers = new Set<Scheduler>();
  if (modules.length > 0) {
    for (const file of await findModules(modules)) {
      for (const value of Object.values(await importFile(file))) {
        if (value instanceof Scheduler) schedulers.add(value);
      }
    }
  }
  if (hasScheduler()) schedulers.add(getScheduler());
  const active = [...schedulers].filter((s) => s.schedules.length > 0);
  const schedules = active.flatMap((s) => s.schedules);
  const names = schedules.map((s) => s.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) {
    throw new CommandError(`the schedule '${twice}' is declared by two schedulers`);
  }
  const queues = new Set(actorNames().map((name) => getActor(name)!.queue));
  return { actorQueues: [...queues].sort(), schedulers: active, schedules };
}

/**
 * The queues a command looks at: those `--queues` names, else every queue an actor or a
 * schedule of the modules is declared on.
 *
 * @param raw The value of `--queues`, if given.
 * @param loaded What the modules declare.
 * @param command The command, for the error message.
 * @returns The queue names, at least one.
 * @throws {CommandError} With exit code 2 on an invalid name, or when no queue is known.
 */
export function chooseQueues(raw: string | undefined, loaded: Loaded, command: string): string[] {
  if (raw !== undefined) return queueList(raw);
  const queues = [
    ...new Set([...loaded.actorQueues, ...loaded.schedules.map((s) => s.message.queue)]),
  ].sort();
  if (queues.length === 0) {
    throw new CommandError(
      `No queue to look at: name them with --queues, or give the modules that declare ` +
        `actors (run 'skiff ${command} --help')`,
    );
  }
  return queues;
}

/**
 * The queues `--queues` names (comma-separated), each a valid queue name, without repeats.
 *
 * @throws {CommandError} With exit code 2 when none is named or a name is invalid.
 */
export function queueList(raw: string): string[] {
  const queues = raw.split(",").map((queue) => queue.trim()).filter(Boolean);
  if (queues.length === 0) {
    throw new CommandError(`'--queues' must name at least one queue, received '${raw}'`);
  }
  for (const queue of queues) {
    if (!NAME_PATTERN.test(queue)) {
      throw new CommandError(
        `'--queues' holds an invalid queue name '${queue}': use 1 to 200 of A-Z a-z 0-9 _ . : @ / -`,
      );
    }
  }
  return [...new Set(queues)];
}
