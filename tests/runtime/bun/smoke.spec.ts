/**
 * Bun smoke suite: skiff from source, as Bun runs TypeScript directly, with `@upstash/redis`
 * from node_modules. Named `.spec.ts` so that `bun test` finds it and `deno test` does not.
 *
 *   bun test tests/runtime/bun
 *
 * @module
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Redis } from "@upstash/redis";
import * as skiff from "../../../mod.ts";
import pkg from "../../../package.json" with { type: "json" };
import * as local from "../../../src/local/mod.ts";
import {
  checkActors,
  checkLocalServer,
  checkRoundTrip,
  checkScript,
  cleanup,
  randomPrefix,
  upstashEnv,
} from "../smoke.mjs";

const prefix = randomPrefix("bun");
let redis: Redis | undefined;

before(() => {
  redis = new Redis({ ...upstashEnv(process.env), enableTelemetry: false });
});
after(async () => {
  if (redis) await cleanup(redis, prefix);
});

test("runs under Bun", () => {
  assert.equal(typeof (globalThis as { Bun?: unknown }).Bun, "object");
});

test("VERSION equals package.json's version", () => {
  assert.equal(skiff.VERSION, pkg.version);
});

test("SET then GET round-trips through the local server", async () => {
  await checkRoundTrip(redis!, prefix);
});

test("Script falls back from EVALSHA to EVAL once, then EVALSHA alone", async () => {
  await checkScript(skiff, redis!, prefix);
});

test("skiff/local serves the Upstash REST protocol under Bun", async () => {
  await checkLocalServer(local, process.env, Redis, prefix);
});

test("actors run on the MemoryBroker under Bun with their context as this", async () => {
  await checkActors(skiff, new skiff.MemoryBroker(), prefix);
});

test("actors run on the UpstashBroker under Bun, through the local server", async () => {
  await checkActors(
    skiff,
    new skiff.UpstashBroker({ redis: redis!, namespace: `${prefix}ns` }),
    `${prefix}redis:`,
  );
});
