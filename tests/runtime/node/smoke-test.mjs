/**
 * Node smoke suite: the BUILT package (`dist/`), imported by its name as Node users do
 * (package self-reference through package.json `exports`). Build first:
 *
 *   node scripts/build.mjs && node --test tests/runtime/node/
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Redis } from "@upstash/redis";
// `deno check` follows this to the source; Node ignores it and loads dist/ by name.
// @ts-types="../../../mod.ts"
import * as skiff from "skiff";
// @ts-types="../../../src/local/mod.ts"
import * as local from "skiff/local";
import {
  checkActors,
  checkLocalServer,
  checkRoundTrip,
  checkScript,
  cleanup,
  randomPrefix,
  upstashEnv,
} from "../smoke.mjs";

const root = new URL("../../../", import.meta.url);
const readJson = async (path) => JSON.parse(await readFile(new URL(path, root), "utf8"));
const pkg = await readJson("package.json");
const deno = await readJson("deno.json");
const run = promisify(execFile);
const prefix = randomPrefix("node");
let redis;

before(() => {
  redis = new Redis({ ...upstashEnv(process.env), enableTelemetry: false });
});
after(async () => {
  if (redis) await cleanup(redis, prefix);
});

test("VERSION equals package.json's version", () => {
  assert.match(import.meta.resolve("skiff"), /\/dist\/mod\.js$/);
  assert.equal(skiff.VERSION, pkg.version);
});

test("SET then GET round-trips through the local server", async () => {
  await checkRoundTrip(redis, prefix);
});

test("Script falls back from EVALSHA to EVAL once, then EVALSHA alone", async () => {
  await checkScript(skiff, redis, prefix);
});

test("skiff/local serves the Upstash REST protocol under Node", async () => {
  await checkLocalServer(local, process.env, Redis, prefix);
});

test("every subpath export loads by package name", async (t) => {
  for (const [subpath, source] of Object.entries(deno.exports)) {
    const skip = !existsSync(new URL(source, root)) && `${source} does not exist yet`;
    await t.test(subpath, { skip }, async () => {
      const name = subpath === "." ? "skiff" : `skiff/${subpath.slice(2)}`;
      const module = await import(name);
      assert.ok(Object.keys(module).length > 0, `${name} exports nothing`);
    });
  }
});

test("the npm tarball holds every export target and the bin", async () => {
  const { stdout } = await run("npm", ["pack", "--dry-run", "--json"], { cwd: root });
  const packed = new Set(JSON.parse(stdout)[0].files.map((f) => `./${f.path}`));
  for (const [subpath, source] of Object.entries(deno.exports)) {
    if (!existsSync(new URL(source, root))) continue;
    for (const target of Object.values(pkg.exports[subpath])) {
      assert.ok(packed.has(target), `${target} (exports["${subpath}"]) is not in the tarball`);
    }
  }
  assert.ok(packed.has(pkg.bin.skiff), `${pkg.bin.skiff} is not in the tarball`);
});

test("the skiff bin runs under Node", async () => {
  const bin = fileURLToPath(new URL(pkg.bin.skiff, root));
  assert.ok((await readFile(bin, "utf8")).startsWith("#!/usr/bin/env node\n"));
  const { stdout } = await run(bin, ["version"]);
  assert.equal(stdout.trim(), pkg.version);
});

test("declarations import .js, never .ts", async () => {
  const files = await readdir(new URL("dist/", root), { recursive: true });
  for (const file of files.filter((f) => f.endsWith(".d.ts"))) {
    const text = await readFile(new URL(`dist/${file}`, root), "utf8");
    assert.doesNotMatch(text, /(from|import)\s*\(?\s*["']\.{1,2}\/[^"']*\.ts["']/, file);
  }
});

test("actors run on the MemoryBroker under Node with their context as this", async () => {
  await checkActors(skiff, new skiff.MemoryBroker(), prefix);
});

test("actors run on the UpstashBroker under Node, through the local server", async () => {
  await checkActors(
    skiff,
    new skiff.UpstashBroker({ redis, namespace: `${prefix}ns` }),
    `${prefix}redis:`,
  );
});
