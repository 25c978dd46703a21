#!/usr/bin/env node
/**
 * What installing and bundling skiff costs: the `npm pack` tarball (packed and unpacked
 * bytes, files) and the minified, gzipped esbuild bundle of an app that imports only
 * `actor` and `UpstashBroker` from the built package and sends one message. `valibot` is
 * bundled (a dependency); `@upstash/redis` is not: the app brings its own client, and skiff
 * only names its type. Build first (`node scripts/build.mjs`).
 *
 *   node scripts/size.mjs          # a table
 *   node scripts/size.mjs --json   # the numbers, for scripts
 *
 * @module
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const MAIN = join(ROOT, "dist", "mod.js");
if (!existsSync(MAIN)) {
  console.error("size: dist/ is missing: run `node scripts/build.mjs` first");
  process.exit(1);
}

/** The app measured: one actor, one broker, one send. */
const APP = `
import { actor, UpstashBroker } from "skiff";
export function sendOne(redis) {
  const broker = new UpstashBroker({ redis });
  const add = actor("add", (a, b) => a + b, { broker });
  return add.send(1, 2);
}
`;

const { stdout } = await promisify(execFile)("npm", ["pack", "--dry-run", "--json"], {
  cwd: ROOT,
  maxBuffer: 1 << 24,
});
const [pack] = JSON.parse(stdout);

const built = await esbuild.build({
  stdin: { contents: APP, resolveDir: ROOT, sourcefile: "app.mjs" },
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  write: false,
  external: ["@upstash/redis", "node:*"],
  logLevel: "error",
  // The package by name, as an app imports it: the built `exports["."]`.
  plugins: [{
    name: "skiff",
    setup(build) {
      build.onResolve({ filter: /^skiff$/ }, () => ({ path: MAIN }));
    },
  }],
});
const bundle = built.outputFiles[0].contents;

const sizes = {
  packed: pack.size,
  unpacked: pack.unpackedSize,
  files: pack.entryCount,
  bundleMinified: bundle.length,
  bundleGzipped: gzipSync(bundle, { level: 9 }).length,
};

if (process.argv.includes("--json")) {
  console.log(JSON.stringify(sizes));
} else {
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(
    `npm tarball (${pack.filename}): ${kb(sizes.packed)} packed, ` +
      `${kb(sizes.unpacked)} unpacked, ${sizes.files} files`,
  );
  console.log(
    `actor + send + UpstashBroker, esbuild --minify: ${kb(sizes.bundleMinified)}, ` +
      `gzip -9: ${kb(sizes.bundleGzipped)} (valibot included, @upstash/redis not)`,
  );
}
