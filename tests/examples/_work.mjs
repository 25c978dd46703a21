/**
 * Shared by the example suites: where `scripts/examples_tests.sh` put each example's
 * installed copy, importing `skiff` as that copy sees it, and waiting for output.
 *
 * @module
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";

/** The REST endpoint of the local server, from the environment. */
export function restEnv() {
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = process.env;
  if (!url || !token) {
    throw new Error(
      "Cannot run the example suites: UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN " +
        "must be set (bash scripts/with_services.sh bash scripts/examples_tests.sh)",
    );
  }
  return { url, token };
}

/** The installed copy of the example `name` (made by scripts/examples_tests.sh). */
export function exampleDir(name) {
  const work = process.env.SKIFF_EXAMPLES_WORK;
  if (!work) {
    throw new Error(
      "Cannot find the examples' copies: SKIFF_EXAMPLES_WORK must be set (run scripts/examples_tests.sh)",
    );
  }
  return join(work, name);
}

/** Imports an export of `skiff` (`"."`, `"./hono"`, ...) from the copy's node_modules. */
export function importSkiff(dir, subpath = ".") {
  const root = join(dir, "node_modules", "skiff");
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  return import(pathToFileURL(join(root, exportTarget(pkg.exports[subpath]))).href);
}

/** The file an `exports` entry gives an ESM importer on Node. */
function exportTarget(entry) {
  if (typeof entry === "string") return entry;
  for (const condition of ["node", "import", "default"]) {
    if (entry?.[condition]) return exportTarget(entry[condition]);
  }
  throw new Error(`Cannot import skiff: no ESM target in ${JSON.stringify(entry)}`);
}

/** Collects a stream's lines. */
export function collectLines(stream, into = []) {
  let rest = "";
  stream.setEncoding?.("utf8");
  stream.on("data", (chunk) => {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop();
    into.push(...parts);
  });
  return into;
}

/** Waits until `check()` is truthy (polling every 20 ms, at most `tries` times); returns it. */
export async function waitFor(check, what, tries = 1500) {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`Gave up waiting for ${what}`);
}

/** Waits until the wall clock is at least `margin` ms away from the next minute. */
export async function awayFromMinuteEnd(margin = 5_000) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < margin) {
    await new Promise((resolve) => setTimeout(resolve, left + 100));
  }
}

/** A random namespace, so that runs against the same Redis never meet. */
export function randomNamespace(name) {
  return `example-${name}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * The counts of a queue's messages by state, read with the `skiff` the runner installed
 * for the suites themselves (`_skiff`), whatever the example runs on.
 */
export async function queueStats(namespace, queue) {
  const own = exampleDir("_skiff");
  const { UpstashBroker } = await importSkiff(own);
  const { Redis } = await import(
    pathToFileURL(join(own, "node_modules", "@upstash", "redis", "nodejs.mjs")).href
  );
  const redis = new Redis({ ...restEnv(), enableTelemetry: false });
  const stats = await new UpstashBroker({ redis, namespace }).stats(queue);
  return { ready: stats.ready, delayed: stats.delayed, leased: stats.leased, dead: stats.dead };
}

/** Waits until a queue holds nothing ready, delayed, leased or dead. */
export async function emptied(namespace, queue) {
  await waitFor(async () => {
    const stats = await queueStats(namespace, queue);
    return Object.values(stats).every((n) => n === 0);
  }, `the ${queue} queue to empty`);
}

/**
 * Writes an example's `.env`, as its platform's secrets would hold them: the REST endpoint,
 * then the given variables (`undefined` ones left out).
 */
export function writeEnv(dir, rest, vars) {
  const lines = [`UPSTASH_REDIS_REST_URL=${rest.url}`, `UPSTASH_REDIS_REST_TOKEN=${rest.token}`];
  for (const [name, value] of Object.entries(vars)) {
    if (value !== undefined) lines.push(`${name}=${value}`);
  }
  writeFileSync(join(dir, ".env"), lines.join("\n") + "\n");
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    }).on("error", reject);
  });
}

/**
 * Starts a process whose stdout and stderr lines are collected in `lines`; `exited` settles
 * with its exit code, `stop()` sends SIGTERM and waits for the exit.
 */
export function start(command, args, options) {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  collectLines(child.stdout, lines);
  collectLines(child.stderr, lines);
  const exited = new Promise((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal))
  );
  return {
    child,
    lines,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return await exited;
    },
  };
}

/**
 * The commands an example's README gives: each line of its `sh` blocks, and each inline code
 * span that starts with a command (`curl`, `npm`, `deno`, ...), with the `# comment` that
 * follows a command in a block kept apart.
 */
export function readmeCommands(dir) {
  const text = readFileSync(join(dir, "README.md"), "utf8");
  const commands = [];
  for (const [, block] of text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    for (const line of block.split("\n")) {
      const [, command, comment] = /^(.*?)\s*(?:#\s*(.*))?$/.exec(line);
      if (command) commands.push({ command, comment });
    }
  }
  const prose = text.replace(/^```[\s\S]*?^```$/gm, "").replace(/\n/g, " ");
  for (const [, span] of prose.matchAll(/`([^`]+)`/g)) {
    if (/^(curl|npm|npx|bun|deno|node|bash|vercel|cp) /.test(span)) {
      commands.push({ command: span });
    }
  }
  return commands;
}

/**
 * The script a README command runs (`npm start`, `npm run worker`, `bun start`, `deno task
 * dev`), from package.json or deno.json; where the README says what it runs (`npm start  #
 * node src/server.js`), that must be the script.
 */
export function readmeScript(dir, command) {
  const found = readmeCommands(dir).find((c) => c.command === command);
  assert.ok(found, `README.md gives no '${command}'`);
  const [, tool, name] = /^(npm|bun|deno)(?: run| task)? (\S+)$/.exec(command);
  const scripts = tool === "deno"
    ? JSON.parse(readFileSync(join(dir, "deno.json"), "utf8")).tasks
    : JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).scripts;
  const script = scripts?.[name];
  assert.ok(script, `'${command}' of README.md names no script`);
  if (found.comment !== undefined) assert.equal(found.comment, script);
  return script;
}

/**
 * Runs, as it is written, the `curl` command of an example's README that requests `path`,
 * sent to `base` instead of the README's host (`localhost:3000`, `https://<app>.example`),
 * with `--silent --show-error --fail-with-body` added. Returns what curl printed: the body.
 */
export async function runReadmeCurl(dir, path, base) {
  const found = readmeCommands(dir).find(({ command }) =>
    command.startsWith("curl ") && command.includes(path)
  );
  assert.ok(found, `README.md gives no curl command for ${path}`);
  const host = /(?:https?:\/\/)?(?:localhost|[^\s/'"]*<[^>]+>[^\s/'"]*)(?::\d+)?(?=\/)/;
  assert.match(found.command, host, `Cannot find the host in '${found.command}'`);
  const command = `${found.command.replace(host, base)} --silent --show-error --fail-with-body`;
  return await new Promise((resolve, reject) => {
    execFile("bash", ["-c", command], (error, stdout, stderr) => {
      if (error) reject(new Error(`'${command}' failed: ${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}
