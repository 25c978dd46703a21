/**
 * Consumer projects for the package suites: the `npm pack` tarball installed into a fresh
 * temporary directory, as a user's app gets it. The tarball is `SKIFF_TARBALL` when set
 * (scripts/runtime_tests.sh packs once for every suite), else packed here from `dist/`
 * (build first). Dependencies come from npm's cache, else the registry.
 *
 * @module
 */
import { execFile, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** The repository's root directory. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The repository's package.json. */
export const PKG = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
/** The toolchain's binaries (tsc, bun, esbuild). */
export const BIN = join(ROOT, "node_modules", ".bin");

const exec = promisify(execFile);
let packed;

/**
 * The path of the packed tarball.
 *
 * @returns `SKIFF_TARBALL`, or a tarball packed once per process into a temporary directory.
 */
export function tarball() {
  if (process.env.SKIFF_TARBALL) return Promise.resolve(process.env.SKIFF_TARBALL);
  return packed ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "skiff-pack-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const { stdout } = await exec("npm", ["pack", "--json", "--pack-destination", dir], {
      cwd: ROOT,
    });
    return join(dir, JSON.parse(stdout)[0].filename);
  })();
}

/**
 * Creates a consumer project with skiff from the tarball and the given dependencies.
 *
 * @param {string} name A name for the directory.
 * @param {{ dependencies?: Record<string, string>, files?: Record<string, string>, type?: string }} options
 * @returns {Promise<{ dir: string, remove: () => Promise<void> }>}
 */
export async function project(name, { dependencies = {}, files = {}, type = "module" } = {}) {
  const dir = await mkdtemp(join(tmpdir(), `skiff-${name}-`));
  const manifest = {
    name: `consumer-${name}`,
    private: true,
    type,
    dependencies: { skiff: `file:${await tarball()}`, ...dependencies },
  };
  await writeFile(join(dir, "package.json"), JSON.stringify(manifest, null, 2));
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  await exec("npm", [
    "install",
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    "--no-package-lock",
    "--loglevel=error",
  ], { cwd: dir, env: cleanEnv() });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The environment without npm's per-script variables, so that a project's npm and npx
 * behave as in a user's shell even when this runs under `npm run`.
 */
export function cleanEnv(extra = {}) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^npm_(config|package|lifecycle)_/i.test(k)),
  );
  return { ...env, ...extra };
}

/**
 * Runs a command to its end.
 *
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string }>}
 */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => stdout += chunk);
    child.stderr.on("data", (chunk) => stderr += chunk);
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The lower bound of a caret range: `^4.1.2` gives `4.1.2`. */
export function oldest(range) {
  const match = /^\^(\d+\.\d+\.\d+)$/.exec(range);
  if (!match) throw new Error(`expected a caret range, received ${range}`);
  return match[1];
}
