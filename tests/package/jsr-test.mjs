/**
 * What JSR and npm users download: `deno publish --dry-run` ships only the library,
 * `deno doc --lint` finds nothing on the exports (scripts/doc_lint.mjs), and the sizes
 * stay within a budget (scripts/size.mjs, which also prints them). Sizes need `dist/`.
 *
 *   node scripts/build.mjs && node --test tests/package/jsr-test.mjs
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { BIN, ROOT, run } from "./_project.mjs";

test("deno publish --dry-run ships the library and nothing else", async () => {
  const done = await run(join(BIN, "deno"), ["publish", "--dry-run", "--allow-dirty"], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1" },
  });
  const output = done.stdout + done.stderr;
  assert.equal(done.code, 0, output);
  const relative = [...output.matchAll(/^\s+file:\/\/(\S+) \(/gm)].map((m) => {
    assert.ok(m[1].startsWith(ROOT), m[1]);
    return m[1].slice(ROOT.length);
  });
  assert.ok(relative.includes("mod.ts") && relative.includes("LICENSE"), relative.join("\n"));
  for (const file of relative) {
    assert.match(
      file,
      /^(src\/.+\.ts|mod\.ts|README\.md|docs\/[a-z_]+\.md|LICENSE|deno\.json)$/,
      file,
    );
    assert.doesNotMatch(file, /_test\.ts$/, file);
  }
});

test("deno doc --lint: no error on any export", async () => {
  const done = await run(process.execPath, [join(ROOT, "scripts", "doc_lint.mjs")], { cwd: ROOT });
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /^doc_lint: 0 documentation lint errors/);
});

test("sizes: the tarball and the smallest app bundle stay within budget", async () => {
  const done = await run(process.execPath, [join(ROOT, "scripts", "size.mjs"), "--json"], {
    cwd: ROOT,
  });
  assert.equal(done.code, 0, done.stderr);
  const sizes = JSON.parse(done.stdout);
  console.log(`sizes: ${done.stdout.trim()}`);
  assert.ok(sizes.packed < 288 * 1024, `packed ${sizes.packed} bytes`);
  assert.ok(sizes.unpacked < 1024 * 1024, `unpacked ${sizes.unpacked} bytes`);
  assert.ok(sizes.bundleGzipped < 40 * 1024, `actor + send + UpstashBroker ${sizes.bundleGzipped}`);
});
