/**
 * How wrangler resolves a Worker's packages when it bundles one: for the browser, with the
 * `workerd`, `worker` and `browser` export conditions. Every suite that bundles a Worker for
 * Miniflare spreads this into its esbuild options, so they all resolve as a deploy does.
 *
 * @module
 */
export const WORKERD_RESOLVE = {
  platform: "browser",
  conditions: ["workerd", "worker", "browser"],
};
