#!/usr/bin/env node
/**
 * Builds the npm package into `dist/`: one ESM file per entry of deno.json `exports`
 * (esbuild; shared code goes to `dist/_chunks/` so that every entry sees the same module
 * state), `.d.ts` declarations next to them (TypeScript, declarations only), and the
 * `skiff` bin (`dist/cli.js`) when `src/cli/main.ts` exists.
 *
 * The bin is a two-line file that imports `dist/src/cli/main.js`, built in the same esbuild
 * run as the exports: the CLI and a user's module that imports `skiff` load the same chunks,
 * so they share one actor registry, one global broker and one scheduler.
 *
 * Run with `node scripts/build.mjs` (or `npm run build`): only Node 20 and `node_modules`
 * are needed. The source tree is mirrored, so `src/hono/mod.ts` becomes
 * `dist/src/hono/mod.js` and `dist/src/hono/mod.d.ts`.
 *
 * @module
 */
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import ts from "typescript";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "dist");
const CLI_MAIN = "src/cli/main.ts";

const started = performance.now();
const deno = JSON.parse(await readFile(join(ROOT, "deno.json"), "utf8"));
const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
const problems = checkManifests(deno, pkg);
if (problems.length > 0) fail(problems);

const entries = [];
for (const [subpath, source] of Object.entries(deno.exports)) {
  if (existsSync(join(ROOT, source))) entries.push({ subpath, source });
  else console.warn(`build: skipping export "${subpath}": ${source} does not exist yet`);
}
const DEPENDENCIES = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.peerDependencies ?? {}),
];
const external = [...DEPENDENCIES, "node:*"];

await rm(OUT, { recursive: true, force: true });
await Promise.all([buildModules(), buildDeclarations()]);
await writeBin();
const ms = Math.round(performance.now() - started);
console.log(`build: ${entries.length} entries${hasCli() ? " + cli" : ""} into dist/ in ${ms} ms`);

/** The path a source file is built to, relative to the package root, without extension. */
function outBase(source) {
  return join("dist", source.replace(/^\.\//, "").replace(/\.ts$/, ""));
}

/**
 * The package.json must describe what the build makes: same version as deno.json, an
 * `exports` entry per deno.json export pointing at the built files (`default`, so that
 * `require("skiff")` works where Node can require ES modules), and the same version ranges
 * as deno.json's import map for every dependency and peer dependency. A peer dependency
 * (shared with the user's app) is a caret range, and devDependencies pin it to a version
 * inside the range, the one the repository is tested with.
 */
function checkManifests(deno, pkg) {
  const out = [];
  if (deno.version !== pkg.version) {
    out.push(`package.json version ${pkg.version} differs from deno.json version ${deno.version}`);
  }
  for (const [subpath, source] of Object.entries(deno.exports)) {
    const base = "./" + outBase(source);
    const want = { types: `${base}.d.ts`, default: `${base}.js` };
    const got = pkg.exports?.[subpath];
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      out.push(`package.json exports["${subpath}"] must be ${JSON.stringify(want)}`);
    }
  }
  for (const subpath of Object.keys(pkg.exports ?? {})) {
    if (!(subpath in deno.exports)) {
      out.push(`package.json exports["${subpath}"] has no counterpart in deno.json exports`);
    }
  }
  const ranges = { ...pkg.dependencies, ...pkg.peerDependencies };
  for (const [name, range] of Object.entries(ranges)) {
    const want = `npm:${name}@${range}`;
    if (deno.imports?.[name] !== want) {
      out.push(`deno.json imports["${name}"] must be "${want}" to match package.json`);
    }
    const subpaths = deno.imports?.[`${name}/`];
    if (subpaths !== undefined && subpaths !== `npm:/${name}@${range}/`) {
      out.push(`deno.json imports["${name}/"] must be "npm:/${name}@${range}/"`);
    }
  }
  for (const [name, range] of Object.entries(pkg.peerDependencies ?? {})) {
    const pinned = pkg.devDependencies?.[name];
    if (!/^\^\d+\.\d+\.\d+$/.test(range)) {
      out.push(`package.json peerDependencies["${name}"] must be a caret range, e.g. ^1.2.3`);
    } else if (!pinned || !inCaretRange(pinned, range)) {
      out.push(`package.json devDependencies["${name}"] must pin a version in ${range}`);
    }
  }
  return out;
}

/** Whether `version` (x.y.z) satisfies `^a.b.c` with a >= 1. */
function inCaretRange(version, range) {
  const [v, r] = [version, range.slice(1)].map((s) => s.split(".").map(Number));
  if (v.length !== 3 || v.some(Number.isNaN) || v[0] !== r[0]) return false;
  return v[1] > r[1] || (v[1] === r[1] && v[2] >= r[2]);
}

function hasCli() {
  return existsSync(join(ROOT, CLI_MAIN));
}

/** Shared esbuild options: dependencies stay imports, anything else bare is an error. */
function esbuildOptions() {
  return {
    absWorkingDir: ROOT,
    bundle: true,
    format: "esm",
    target: "es2022",
    external,
    logLevel: "warning",
    legalComments: "none",
    plugins: [onlyDeclaredDependencies(), versionOnly()],
  };
}

/**
 * `src/version.ts` reads `deno.json` whole; the build keeps only the version string, so that
 * the rest of the manifest does not ride along in every app's bundle.
 */
function versionOnly() {
  return {
    name: "version-only",
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]version\.ts$/ }, () => ({
        contents: `/** The version of skiff. */\nexport const VERSION = ${
          JSON.stringify(deno.version)
        };\n`,
        loader: "ts",
      }));
    },
  };
}

/**
 * A bare import that is not a dependency would be bundled silently from a devDependency,
 * or break for users at run time: refuse it at build time instead.
 */
function onlyDeclaredDependencies() {
  const allowed = new Set(DEPENDENCIES);
  return {
    name: "only-declared-dependencies",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("node:")) return undefined;
        const name = args.path.startsWith("@")
          ? args.path.split("/").slice(0, 2).join("/")
          : args.path.split("/")[0];
        if (allowed.has(name)) return undefined;
        return {
          errors: [{
            text:
              `"${args.path}" is imported but "${name}" is not in package.json dependencies or peerDependencies`,
          }],
        };
      });
    },
  };
}

async function buildModules() {
  if (entries.length === 0) return;
  const sources = entries.map((e) => e.source);
  if (hasCli()) sources.push(CLI_MAIN);
  await esbuild.build({
    ...esbuildOptions(),
    entryPoints: sources.map((source) => ({ in: source, out: outBase(source).slice(5) })),
    outdir: OUT,
    platform: "neutral",
    splitting: true,
    chunkNames: "_chunks/[name]-[hash]",
  });
}

/**
 * `dist/cli.js`, the bin: Node's hashbang (the source's is Deno's), then the built entry,
 * which is the one shared with the exports rather than a bundle of its own.
 */
async function writeBin() {
  if (!hasCli()) return;
  const main = join(ROOT, outBase(CLI_MAIN) + ".js");
  // esbuild keeps an entry's hashbang; Node would ignore it, but it names the wrong runtime.
  const text = await readFile(main, "utf8");
  await writeFile(main, text.replace(/^#![^\n]*\n/, ""));
  const outfile = join(OUT, "cli.js");
  const target = "./" + outBase(CLI_MAIN).slice(5) + ".js";
  await writeFile(outfile, `#!/usr/bin/env node\nimport ${JSON.stringify(target)};\n`);
  await chmod(outfile, 0o755);
}

/**
 * Declarations only, without type checking (`noCheck`): `deno check` is the type checker
 * of this repository, and the public API carries explicit types (JSR's no-slow-types), so
 * emitting needs no inference across files. TypeScript keeps import specifiers as written in
 * declarations (`rewriteRelativeImportExtensions` only touches JS), so relative `.ts`
 * specifiers are rewritten to `.js` here, for Node consumers (node16, nodenext, bundler).
 */
async function buildDeclarations() {
  if (entries.length === 0) return;
  const options = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
    types: [],
    allowImportingTsExtensions: true,
    resolveJsonModule: true,
    declaration: true,
    emitDeclarationOnly: true,
    noCheck: true,
    skipLibCheck: true,
    strict: true,
    rootDir: ROOT,
    outDir: OUT,
  };
  const program = ts.createProgram(entries.map((e) => join(ROOT, e.source)), options);
  const writes = [];
  const result = program.emit(undefined, (file, text) => {
    if (!file.endsWith(".d.ts")) return;
    writes.push(writeFileDeep(file, rewriteSpecifiers(text)));
  });
  await Promise.all(writes);
  const errors = [...program.getOptionsDiagnostics(), ...result.diagnostics];
  if (errors.length > 0) {
    const host = {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => ROOT,
      getNewLine: () => "\n",
    };
    fail([ts.formatDiagnostics(errors, host)]);
  }
}

/** `./x.ts` becomes `./x.js` in `from "..."`, `import("...")` and `export ... from`. */
function rewriteSpecifiers(text) {
  return text.replace(
    /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']*?)(?<!\.d)\.([mc]?)ts\2/g,
    (_, head, quote, path, kind) => `${head}${quote}${path}.${kind}js${quote}`,
  );
}

async function writeFileDeep(file, text) {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
}

function fail(messages) {
  for (const m of messages) console.error(`build: ${m}`);
  console.error("build: failed");
  process.exit(1);
}
