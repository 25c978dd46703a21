/**
 * Which files `skiff worker` and `skiff scheduler` import: each argument is a file, a
 * directory (the modules named by the convention below), a glob, or a package name
 * resolved from the working directory's `node_modules`.
 *
 * The convention for a directory, after the seed's "tasks modules" recipe: every module
 * file (`.ts`, `.mts`, `.js`, `.mjs`) named `actors` or `tasks` anywhere beneath it, and
 * every module file inside a directory named `actors` or `tasks`, in path order. Directories
 * named `node_modules` or starting with a dot, declaration files (`.d.ts`) and test files
 * (`*_test.*`, `*.test.*`, `*.spec.*`) are skipped.
 *
 * @module
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import process from "node:process";
import { CommandError } from "./_io.ts";

/** The base names a directory's modules must have, or the directory names they sit in. */
export const CONVENTION_NAMES: readonly string[] = ["actors", "tasks"];

const MODULE_FILE = /\.(ts|mts|js|mjs)$/;
const SKIPPED_FILE = /\.d\.[mc]?ts$|[._]test\.[^.]+$|\.spec\.[^.]+$/;
const GLOB_CHARS = /[*?{[]/;
const PACKAGE_NAME = /^(@[a-z0-9~][\w.~-]*\/)?[a-z0-9~][\w.~-]*(\/.+)?$/i;

/**
 * The absolute paths of the modules the arguments name, each once, in argument order.
 *
 * @param specifiers Files, directories, globs or package names.
 * @param cwd Where relative paths, globs and packages are resolved from.
 * @returns Absolute file paths.
 * @throws {CommandError} With exit code 2 for an argument that names no module.
 */
export async function findModules(
  specifiers: readonly string[],
  cwd: string = process.cwd(),
): Promise<string[]> {
  const found = new Set<string>();
  for (const specifier of specifiers) {
    for (const path of await findOne(specifier, cwd)) found.add(path);
  }
  return [...found];
}

async function findOne(specifier: string, cwd: string): Promise<string[]> {
  if (specifier.startsWith("file:")) specifier = decodeURIComponent(new URL(specifier).pathname);
  if (GLOB_CHARS.test(specifier)) {
    const files = await globFiles(specifier, cwd);
    if (files.length === 0) {
      throw new CommandError(`Cannot find modules: no file matches '${specifier}'`);
    }
    return files;
  }
  const path = resolve(cwd, specifier);
  const info = await stat(path).catch(() => undefined);
  if (info?.isFile()) return [path];
  if (info?.isDirectory()) {
    const files = await conventionFiles(path);
    if (files.length === 0) {
      throw new CommandError(
        `Cannot find modules in directory '${specifier}': name them actors.ts or tasks.ts ` +
          "(or .js, .mjs, .mts), or put them in a directory named actors or tasks; or name the files",
      );
    }
    return files;
  }
  const looksLikePath = isAbsolute(specifier) || specifier.startsWith(".") ||
    specifier.includes("\\");
  if (!looksLikePath && !MODULE_FILE.test(specifier) && PACKAGE_NAME.test(specifier)) {
    const file = await packageFile(specifier, cwd);
    if (file) return [file];
    throw new CommandError(
      `Cannot find module '${specifier}': no such file or directory, and no package of that ` +
        "name in node_modules",
    );
  }
  throw new CommandError(`Cannot find module '${specifier}': no such file or directory`);
}

/** Every module file beneath `dir` that the directory convention names, sorted. */
async function conventionFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const inNamed = CONVENTION_NAMES.includes(baseName(dir));
  for (const file of await walk(dir)) {
    if (!MODULE_FILE.test(file) || SKIPPED_FILE.test(file)) continue;
    const parts = relative(dir, file).split(sep);
    const name = parts.at(-1)!.replace(MODULE_FILE, "");
    if (
      inNamed || CONVENTION_NAMES.includes(name) ||
      parts.slice(0, -1).some((p) => CONVENTION_NAMES.includes(p))
    ) {
      files.push(file);
    }
  }
  return files.sort();
}

function baseName(path: string): string {
  return path.split(sep).filter(Boolean).at(-1) ?? "";
}

/** Every file beneath `dir`, skipping `node_modules` and dot directories. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
      out.push(...await walk(path));
    } else if (entry.isFile()) {
      out.push(path);
    }
  }
  return out;
}

/** The files matching a glob (`*`, `**`, `?`, `{a,b}`, `[abc]`), relative to `cwd`, sorted. */
async function globFiles(pattern: string, cwd: string): Promise<string[]> {
  const normalized = pattern.replaceAll("\\", "/");
  const parts = normalized.split("/");
  const firstGlob = parts.findIndex((part) => GLOB_CHARS.test(part));
  const root = resolve(cwd, parts.slice(0, firstGlob).join("/") || ".");
  const matcher = globToRegExp(resolve(cwd, normalized).replaceAll("\\", "/"));
  const files = await walk(root);
  return files.filter((file) => matcher.test(file.replaceAll("\\", "/"))).sort();
}

/**
 * A regular expression for a glob over absolute, `/`-separated paths.
 *
 * @param glob The glob.
 * @returns The expression, anchored at both ends.
 */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      const slash = glob[i + 2] === "/";
      out += slash ? "(?:[^/]*/)*" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "{") {
      const end = glob.indexOf("}", i);
      if (end < 0) out += "\\{";
      else {
        out += `(?:${glob.slice(i + 1, end).split(",").map(escape).join("|")})`;
        i = end;
      }
    } else if (c === "[") {
      const end = glob.indexOf("]", i);
      if (end < 0) out += "\\[";
      else {
        out += `[${glob.slice(i + 1, end).replace(/^!/, "^").replaceAll("\\", "\\\\")}]`;
        i = end;
      }
    } else out += escape(c);
  }
  return new RegExp(`^${out}$`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * The file a package name (with an optional subpath) resolves to from `cwd`, the way
 * Node does: the nearest `node_modules/<name>`, then its `exports` (conditions `import`,
 * `default`, the runtime's own, `node`), else its `main`, else `index.js`.
 */
async function packageFile(specifier: string, cwd: string): Promise<string | undefined> {
  const parts = specifier.split("/");
  const nameLength = specifier.startsWith("@") ? 2 : 1;
  const name = parts.slice(0, nameLength).join("/");
  const subpath = parts.length > nameLength ? `./${parts.slice(nameLength).join("/")}` : ".";
  for (let dir = cwd;; dir = resolve(dir, "..")) {
    const root = join(dir, "node_modules", name);
    const manifest = await readFile(join(root, "package.json"), "utf8").catch(() => undefined);
    if (manifest !== undefined) {
      let pkg: Record<string, unknown>;
      try {
        pkg = JSON.parse(manifest);
      } catch {
        throw new CommandError(`Cannot import package '${name}': its package.json is not JSON`);
      }
      const target = pkg.exports === undefined
        ? (subpath === "." ? (typeof pkg.main === "string" ? pkg.main : "index.js") : subpath)
        : exportTarget(pkg.exports, subpath);
      if (typeof target !== "string") {
        throw new CommandError(
          `Cannot import '${specifier}': package '${name}' does not export '${subpath}'`,
        );
      }
      return resolve(root, target);
    }
    if (resolve(dir, "..") === dir) return undefined;
  }
}

function exportTarget(exports: unknown, subpath: string): unknown {
  const bySubpath = typeof exports === "object" && exports !== null && !Array.isArray(exports) &&
    Object.keys(exports).some((key) => key.startsWith("."));
  if (!bySubpath) return subpath === "." ? conditionTarget(exports) : undefined;
  const map = exports as Record<string, unknown>;
  if (subpath in map) return conditionTarget(map[subpath]);
  for (const [key, value] of Object.entries(map)) {
    const star = key.indexOf("*");
    if (star < 0) continue;
    const [head, tail] = [key.slice(0, star), key.slice(star + 1)];
    if (subpath.startsWith(head) && subpath.endsWith(tail) && subpath.length >= key.length - 1) {
      const target = conditionTarget(value);
      const middle = subpath.slice(head.length, subpath.length - tail.length);
      return typeof target === "string" ? target.replaceAll("*", middle) : undefined;
    }
  }
  return undefined;
}

function conditionTarget(target: unknown): unknown {
  if (typeof target === "string" || target === null) return target;
  if (Array.isArray(target)) {
    for (const item of target) {
      const found = conditionTarget(item);
      if (typeof found === "string") return found;
    }
    return undefined;
  }
  if (typeof target !== "object") return undefined;
  const conditions = new Set(["import", "default", "node"]);
  if (process.versions.deno) conditions.add("deno");
  if (process.versions.bun) conditions.add("bun");
  for (const [key, value] of Object.entries(target as Record<string, unknown>)) {
    if (!conditions.has(key)) continue;
    const found = conditionTarget(value);
    if (typeof found === "string") return found;
  }
  return undefined;
}
