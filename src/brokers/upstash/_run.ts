/** How `UpstashBroker` runs its scripts and reads their answers; private to skiff. */
import type { RedisCommands } from "../../redis/client.ts";
import { redisFailureText } from "../../_util.ts";
import type { Script, ScriptArg } from "../../redis/script.ts";

/** The client methods the broker uses. */
export type PipelineClient = Pick<RedisCommands, "eval" | "evalsha" | "pipeline">;

/** One run of a script: its keys and arguments. */
export interface ScriptRun {
  keys: string[];
  args: ScriptArg[];
}

/**
 * Runs a script several times in one HTTP request (a pipeline of EVALSHA), then once more
 * with EVAL, pipelined too, for the runs Redis answered NOSCRIPT. `prelude` adds plain
 * commands before the runs, in the same request; their answers must not be errors.
 */
export async function runPipelined<T>(
  redis: PipelineClient,
  script: Script<T>,
  runs: readonly ScriptRun[],
  prelude?: (pipeline: ReturnType<PipelineClient["pipeline"]>) => void,
): Promise<T[]> {
  const sha = await script.sha();
  const first = redis.pipeline();
  prelude?.(first);
  const skip = first.length();
  for (const run of runs) first.evalsha(sha, run.keys, run.args);
  const all = await first.exec<unknown[]>({ keepErrors: true });
  const before = all.slice(0, skip).find((answer) => answer.error);
  if (before) throw new Error(String(before.error));
  const answers = all.slice(skip) as { result?: T; error?: string }[];
  const missing = runs.flatMap((_, i) => String(answers[i].error).includes("NOSCRIPT") ? [i] : []);
  if (missing.length > 0) {
    const second = redis.pipeline();
    for (const i of missing) second.eval(script.source, runs[i].keys, runs[i].args);
    const again = await second.exec<T[]>({ keepErrors: true });
    missing.forEach((index, i) => answers[index] = again[i]);
  }
  const failed = answers.find((answer) => answer.error);
  if (failed) throw new Error(String(failed.error));
  return answers.map((answer) => answer.result as T);
}

/**
 * The error to throw when Redis fails: `@upstash/redis` quotes the whole request in its
 * messages, message bodies included, so only what precedes the quote is kept.
 */
export function redisError(action: string, queue: string, error: unknown): Error {
  return new Error(`Cannot ${action} of queue '${queue}': ${redisFailureText(error)}`);
}
