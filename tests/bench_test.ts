import assert from "node:assert/strict";

// `scripts/bench.ts --quick` in a process of its own (it starts its own redis-server): it
// must finish and print every row of its table with a figure in every skiff cell. No time
// is asserted; the figures are the benchmark's business.
const RUNS = [
  { runtime: "Deno", command: Deno.execPath(), args: ["run", "--allow-all", "scripts/bench.ts"] },
  { runtime: "Node", command: "npm", args: ["run", "--silent", "bench:node", "--"] },
  { runtime: "Bun", command: "npm", args: ["run", "--silent", "bench:bun", "--"] },
];

// The three run at once: each starts its own redis-server and servers on free ports.
Deno.test("bench --quick on Deno, Node and Bun: completes and prints every row, a figure in each", async () => {
  await Promise.all(RUNS.map(({ runtime, command, args }) => quickRun(runtime, command, args)));
});

async function quickRun(runtime: string, command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, {
    args: [...args, "--quick"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `bench failed:\n${stdout}\n${stderr}`);
  assert.match(stdout, /bench: quick run complete/);
  assert.match(
    stdout,
    new RegExp(
      `^Machine: \\d+ cores, .+; ${runtime} [\\d.]+; redis-server [\\d.]+; skiff through skiff local \\(a process of its own`,
      "m",
    ),
  );
  const rows = stdout.split("\n").filter((line) =>
    line.startsWith("| ") && !line.startsWith("|  |")
  );
  const labels = rows.map((row) => row.split(" | ")[0].slice(2));
  for (
    const label of [
      "batch enqueue",
      "one-by-one send",
      "processed, concurrency 50",
      "processed, skiff's Worker defaults",
      "push endpoint (BullMQ",
      "push burst",
      "pull Worker defaults",
      "Redis commands per message: batch enqueue",
      "Redis commands per message: one-by-one",
      "Redis commands per message: push endpoint",
      "HTTP requests per message",
      "CPU ms per 1,000 processed",
      "CPU ms per 1,000 sent and started, push endpoint",
      "idle pull Worker: requests in the",
      "per s after that",
    ]
  ) {
    assert.ok(labels.some((l) => l.includes(label)), `the row '${label}' is printed`);
  }
  assert.equal(rows.length, 14, stdout);
  // Node sends with skiff/node and Deno with skiff/deno, as docs/runtimes.md advises there;
  // Bun with fetch.
  const client = { Node: "skiff/node", Deno: "skiff/deno" }[runtime];
  const sending = stdout.match(/sending with (skiff\/\w+)/)?.[1];
  assert.equal(sending, client, stdout);
  // Every HTTP request is counted, whichever client sent it: the push row counts some.
  const requests = rows.find((row) => row.startsWith("| HTTP requests per message"))!;
  const push = Number(requests.split(" | ")[1].split(" / ").at(-1));
  assert.ok(push > 0, requests);
  for (const row of rows) {
    const skiff = row.split(" | ")[1];
    assert.match(skiff, /\d/, `a figure in '${row}'`);
    assert.doesNotMatch(row, /NaN|undefined/, row);
  }
}

Deno.test("bench --only runs the cases named and prints their rows; --node-http says so; --deno-http off Deno and an unknown case are refused", async () => {
  const run = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "scripts/bench.ts", "--quick", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const output = await run("--only", "push", "--node-http");
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, stdout + new TextDecoder().decode(output.stderr));
  const labels = stdout.split("\n").filter((line) =>
    line.startsWith("| ") && !line.startsWith("|  |")
  )
    .map((row) => row.split(" | ")[0]);
  assert.equal(labels.length, 3, stdout);
  for (const label of labels) assert.match(label, /push endpoint/);
  assert.match(stdout, /sending with skiff\/node/);
  const refused = await run("--only", "push,c60");
  assert.equal(refused.code, 2);
  assert.match(new TextDecoder().decode(refused.stderr), /no case named 'c60'/);
  const offDeno = await new Deno.Command("npm", {
    args: ["run", "--silent", "bench:bun", "--", "--quick", "--deno-http"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(offDeno.code, 2);
  assert.match(new TextDecoder().decode(offDeno.stderr), /--deno-http runs on Deno only/);
});
