/**
 * `npm run bench:node`: the benchmark under Node against `dist/`, what npm users install.
 * Builds `dist/` (unless `SKIFF_BUILT=1` says this run already did), bundles
 * `scripts/bench.ts` with esbuild, skiff's entry points left as imports of `dist/` (the
 * harness, `node:http` plumbing included, is bundled from source), then runs it with the
 * arguments given; `skiff local` runs as `dist/cli.js`.
 *
 *   npm run bench:node -- --quick
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { argv, env, execPath, exit } from "node:process";
import { build } from "esbuild";

/** skiff's entry points the benchmark imports, and their builds. */
const DIST = {
  "../mod.ts": "../dist/mod.js",
  "../src/hono/mod.ts": "../dist/src/hono/mod.js",
  "../src/node/mod.ts": "../dist/src/node/mod.js",
};

// scripts/test.sh builds dist/ once for the whole run and sets SKIFF_BUILT=1.
if (env.SKIFF_BUILT !== "1") {
  const built = spawnSync(execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  if (built.status !== 0) exit(built.status ?? 1);
}

await build({
  entryPoints: ["scripts/bench.ts"],
  bundle: true,
  platform: "node",
  format: "esm",
  packages: "external",
  outfile: ".tmp/bench.mjs",
  logLevel: "warning",
  plugins: [{
    name: "skiff-from-dist",
    setup(esbuild) {
      esbuild.onResolve({ filter: /^\.\.\/(mod\.ts|src\/(hono|node)\/mod\.ts)$/ }, ({ path }) => ({
        // Relative to .tmp/bench.mjs, which sits one level down as scripts/ does.
        path: DIST[path],
        external: true,
      }));
    },
  }],
});

const run = spawnSync(execPath, [".tmp/bench.mjs", ...argv.slice(2)], { stdio: "inherit" });
exit(run.status ?? 1);
