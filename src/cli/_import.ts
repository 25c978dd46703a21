import { relative } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { CommandError, firstLine } from "./_io.ts";

const TYPESCRIPT_FILE = /\.[mc]?tsx?$/;

/**
 * Imports a module file for its side effects (actors, schedules, `setBroker`) and exports.
 *
 * The specifier is always an absolute `file://` URL, written as a template literal with that
 * prefix: `deno publish` can tell such an import needs no import map (a bare
 * `import(specifier)` draws its "unable to analyze dynamic import" warning). Packages and
 * globs are resolved to files before this is called.
 *
 * @param path The module's absolute path.
 * @param cwd Where the user is, for naming the file in messages.
 * @returns The module's exports.
 * @throws {CommandError} With exit code 2 when the module cannot be imported, with a hint
 *   for TypeScript on a runtime that cannot load it.
 */
export async function importFile(
  path: string,
  cwd: string = process.cwd(),
): Promise<Record<string, unknown>> {
  const href = pathToFileURL(path).href;
  try {
    return await import(`file://${href.slice("file://".length)}`);
  } catch (error) {
    const shown = relative(cwd, path) || path;
    const code = (error as { code?: unknown } | null)?.code;
    if (
      TYPESCRIPT_FILE.test(path) &&
      (code === "ERR_UNKNOWN_FILE_EXTENSION" || code === "ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX" ||
        code === "ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING")
    ) {
      throw new CommandError(`Cannot import '${shown}': ${typeScriptHint(String(code))}`);
    }
    throw new CommandError(`Cannot import '${shown}': ${firstLine(error)}`);
  }
}

/** What to do when this runtime cannot load a TypeScript module. */
function typeScriptHint(code: string): string {
  const node = `Node ${process.versions.node}`;
  const why = code === "ERR_UNKNOWN_FILE_EXTENSION"
    ? `${node} cannot load TypeScript`
    : `${node} strips types but cannot run this file (${code})`;
  return `${why}. Use Node >= 22.18 (it strips types), or NODE_OPTIONS="--import tsx" ` +
    "with tsx installed, or Deno (deno run -A jsr:@skiff/skiff/cli ...), or Bun " +
    "(bunx --bun skiff ...), or compile the module to .js";
}
