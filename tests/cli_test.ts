import assert from "node:assert/strict";
import { EXIT, main } from "../src/cli/mod.ts";
import { VERSION } from "../src/version.ts";
import { testRedisUrl } from "./_env.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

Deno.test("cli: version prints the version from deno.json", async () => {
  const { out, io } = capture();
  assert.equal(await main(["version"], io), EXIT.OK);
  assert.deepEqual(out, [VERSION]);
});

Deno.test("cli: an unknown command or bad option exits 2 with one clear line first", async () => {
  for (
    const args of [
      [],
      ["frobnicate"],
      ["local", "--token", "t", "--port", "seventy"],
      ["local", "--token", "t", "--bogus"],
      ["local", "--token", "t", "--drop-rate", "2"],
      ["local", "--token", "t", "--redis", "http://127.0.0.1:6379"],
    ]
  ) {
    const { err, io } = capture();
    assert.equal(await main(args, io), EXIT.USAGE, args.join(" "));
    assert.match(err[0], /^skiff( local)?: /);
  }
});

Deno.test("cli: local without a token exits 2", async () => {
  const saved = Deno.env.get("SKIFF_LOCAL_TOKEN");
  Deno.env.delete("SKIFF_LOCAL_TOKEN");
  try {
    const { err, io } = capture();
    assert.equal(await main(["local", "--port", "0"], io), EXIT.USAGE);
    assert.match(err[0], /token is required/);
  } finally {
    if (saved) Deno.env.set("SKIFF_LOCAL_TOKEN", saved);
  }
});

Deno.test("cli: local serves until a signal, then exits 0", async () => {
  const { out, io } = capture();
  let signal!: () => void;
  const running = main(
    ["local", "--redis", testRedisUrl(), "--port", "0", "--token", "cli-token"],
    { ...io, onSignal: (listener) => (signal = listener) },
  );
  while (out.length === 0) await new Promise((r) => setTimeout(r, 5));
  const url = /listening on (\S+)/.exec(out[0])![1];
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: "Bearer cli-token" },
    body: '["PING"]',
  });
  assert.deepEqual(await res.json(), { result: "PONG" });
  signal();
  assert.equal(await running, EXIT.OK);
  assert.ok(!out.join("\n").includes("cli-token"));
});

Deno.test("cli: the skiff process exits 3 with one line when Redis cannot be reached", async () => {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../src/cli/main.ts", import.meta.url).pathname,
      "local",
      "--redis",
      "redis://:hunter2@127.0.0.1:1",
      "--port",
      "0",
      "--token",
      "x",
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stderr } = await command.output();
  assert.equal(code, EXIT.UNREACHABLE);
  const lines = new TextDecoder().decode(stderr).trim().split("\n");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^skiff local: Cannot reach Redis at 127\.0\.0\.1:1/);
  assert.ok(!lines[0].includes("hunter2"));
});
