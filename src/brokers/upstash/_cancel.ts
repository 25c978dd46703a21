/** How `UpstashBroker` hands groups to the CANCEL script and reads its answer; private to skiff. */
import type { CancelOutcome, CancelStored } from "../../broker.ts";
import { cancelReport } from "../_control.ts";
import { callKeys, groupKey, queueKeys } from "./_keys.ts";

/** The groups of cancelled members, as CANCEL reads them (see its doc). */
export interface CancelGroups {
  /** The queue, then the other queues failure templates write to. */
  q: string[];
  /** `<home>\n<group>` to the 1-based position of its state among the state keys (0: none). */
  g: Record<string, number>;
  /** A member's id to its failure fill. */
  f: Record<string, string>;
  /** 1 when the last two keys are the queue's flow and parked keys (`keyParallelism`). */
  k?: number;
}

/**
 * The groups and keys of a second CANCEL call, from the `[id, body]` rows the first one
 * answered with.
 *
 * @param namespace The key prefix.
 * @param queue The queue.
 * @param rows The members the first call found.
 * @returns The groups argument and the keys.
 */
export function cancelGroups(
  namespace: string,
  queue: string,
  rows: unknown,
): { groups: CancelGroups; keys: string[] } {
  const groups: CancelGroups = { q: [queue], g: {}, f: {} };
  const states: string[] = [];
  const found = (Array.isArray(rows) ? rows : []).map((row) => {
    const [id, body] = (row as unknown[]).map(String);
    const raw = JSON.parse(body)?.next?.member ?? {};
    return { id, name: `${raw.home}\n${raw.group}`, report: cancelReport(body) };
  });
  for (const { report } of found) {
    for (const name of report?.queues ?? []) if (!groups.q.includes(name)) groups.q.push(name);
  }
  for (const { id, name, report } of found) {
    groups.f[id] = report?.failure ?? "";
    if (groups.g[name] !== undefined) continue;
    if (!report) {
      groups.g[name] = 0;
      continue;
    }
    states.push(groupKey(namespace, report.home, report.group));
    groups.g[name] = states.length;
  }
  const keys = callKeys(namespace, queue);
  for (const name of groups.q.slice(1)) keys.push(...queueKeys(namespace, name).slice(0, 3));
  return { groups, keys: [...keys, ...states] };
}

const OUTCOMES: Record<string, CancelOutcome> = {
  c: "cancelled",
  r: "running",
  x: "dead",
  m: "missing",
};

/**
 * What a CANCEL call that was done answered: the outcome of each id, the bodies removed,
 * and the failure callbacks it enqueued.
 *
 * @param ids The ids asked for, in order.
 * @param answer `["done", { id: code }, { id: body } | null, [[queue, id, "r"|"d"]...]]`.
 * @returns The outcomes, in order, the bodies, and what was enqueued.
 */
export function toCancelled(ids: readonly string[], answer: unknown[]): CancelStored {
  const codes = (answer[1] ?? {}) as Record<string, string>;
  const removed = (answer[2] ?? {}) as Record<string, unknown>;
  const bodies = new Map<string, string>();
  for (const [id, body] of Object.entries(removed)) {
    bodies.set(id, typeof body === "string" ? body : JSON.stringify(body));
  }
  // Lua encodes an empty table as {}.
  const written = Array.isArray(answer[3]) ? answer[3] as string[][] : [];
  const enqueued = written.map(([queue, id, set]) => ({
    id: String(id),
    queue: String(queue),
    delayed: set === "d",
  }));
  return { outcomes: ids.map((id) => OUTCOMES[codes[id]] ?? "missing"), bodies, enqueued };
}
