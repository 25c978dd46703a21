#!/usr/bin/env node
/**
 * `deno doc --lint` over every export of deno.json at once (a type exported by one entry is
 * public for the others too), failing on any diagnostic but one kind: `private-type-ref`
 * to a type of an npm dependency (`Hono`, valibot's `GenericSchema`, `Redis`). Deno cannot
 * make those public short of re-exporting the dependency's types, which pulls all their own
 * internals into the lint (Deno's issue #27364). Such a type must be imported from a bare
 * specifier listed in package.json's dependencies or peerDependencies.
 *
 *   node scripts/doc_lint.mjs
 *
 * @module
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const read = async (path) => await readFile(join(ROOT, path), "utf8");
const deno = JSON.parse(await read("deno.json"));
const pkg = JSON.parse(await read("package.json"));
const packages = new Set([
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.peerDependencies ?? {}),
]);

const entries = Object.values(deno.exports);
const output = await promisify(execFile)(
  join(ROOT, "node_modules", ".bin", "deno"),
  ["doc", "--lint", ...entries],
  { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 1 << 24 },
).then(({ stderr }) => stderr, (error) => String(error.stderr ?? error));

const diagnostics = output.split(/\n(?=error)/).filter((d) => /^error\[/.test(d));
const kept = [];
let allowed = 0;
for (const diagnostic of diagnostics) {
  if (await isDependencyType(diagnostic)) allowed++;
  else kept.push(diagnostic.trim());
}
for (const d of kept) console.error(d + "\n");
const what = `${entries.length} exports, ${allowed} references to npm dependencies' types allowed`;
if (kept.length > 0 || (diagnostics.length === 0 && /error/.test(output))) {
  if (diagnostics.length === 0) console.error(output);
  console.error(`doc_lint: ${kept.length} documentation lint errors (${what})`);
  process.exit(1);
}
console.log(`doc_lint: 0 documentation lint errors (${what})`);

/** Whether a bare specifier names a package of package.json's dependencies or peers. */
function isPackage(specifier) {
  const name = specifier.startsWith("@")
    ? specifier.split("/").slice(0, 2).join("/")
    : specifier.split("/")[0];
  return packages.has(name);
}

/** Whether a diagnostic is a private-type-ref to a type imported from an npm dependency. */
async function isDependencyType(diagnostic) {
  const ref = /^error\[private-type-ref\]: .* references private type '([^']+)'/.exec(diagnostic);
  const at = /-->\s+(\S+?):\d+:\d+/.exec(diagnostic);
  if (!ref || !at) return false;
  const source = await readFile(at[1], "utf8");
  const named = /import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*"([^"]+)"/g;
  for (const [, names, specifier] of source.matchAll(named)) {
    const imported = names.split(",").map((n) => n.replace(/^\s*type\s+/, "").trim());
    if (imported.some((n) => n.split(/\s+as\s+/).at(-1) === ref[1])) return isPackage(specifier);
  }
  const namespaces = /import\s+(?:type\s+)?\*\s+as\s+(\w+)\s+from\s*"([^"]+)"/g;
  for (const [, namespace, specifier] of source.matchAll(namespaces)) {
    if (source.includes(`${namespace}.${ref[1]}`) && isPackage(specifier)) return true;
  }
  return false;
}
