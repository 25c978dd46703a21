/**
 * Shared by the suites of the Worker examples: an example's installed copy bundled by
 * esbuild with wrangler's settings (conditions `workerd`, `worker`, `browser`; ESM) and run by
 * Miniflare with the name, compatibility date and flags, and service bindings to itself of
 * its wrangler.jsonc, the scheduled handler reachable over HTTP as `wrangler dev` makes it.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { WORKERD_RESOLVE } from "../_workerd.mjs";
import { Miniflare } from "miniflare";
import { collectLines } from "./_work.mjs";

/** An example's wrangler.jsonc, its whole-line comments dropped. */
export function readWranglerConfig(dir) {
  const text = readFileSync(join(dir, "wrangler.jsonc"), "utf8");
  return JSON.parse(
    text.split("\n").filter((line) => !/^\s*\/\//.test(line)).join("\n"),
  );
}

/**
 * Bundles the Worker of the example in `dir` and starts it with `bindings` (its secrets and
 * vars); its output lines go to `out`. Returns Miniflare, the Worker's origin and its config.
 */
export async function startWorker(dir, bindings, out) {
  const config = readWranglerConfig(dir);
  const scriptPath = join(dir, ".build", "worker.js");
  await esbuild.build({
    entryPoints: [join(dir, config.main)],
    outfile: scriptPath,
    bundle: true,
    format: "esm",
    target: "es2022",
    ...WORKERD_RESOLVE,
    external: ["cloudflare:*", "node:*"],
    logLevel: "warning",
  });
  const serviceBindings = {};
  for (const { binding, service } of config.services ?? []) {
    if (service === config.name) serviceBindings[binding] = config.name;
  }
  const mf = new Miniflare({
    name: config.name,
    modules: true,
    modulesRoot: join(dir, ".build"),
    scriptPath,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    bindings,
    serviceBindings,
    // What `wrangler dev` sets: GET /cdn-cgi/handler/scheduled fires the cron trigger.
    unsafeTriggerHandlers: true,
    handleRuntimeStdio(stdout, stderr) {
      collectLines(stdout, out);
      collectLines(stderr, out);
    },
  });
  try {
    return { mf, origin: new URL(await mf.ready).origin, config };
  } catch (error) {
    console.error(out.join("\n"));
    throw error;
  }
}
