/**
 * The `skiff` command as a user meets it, each case from a real process: help, version,
 * bad arguments and configuration (exit 2), a connection that cannot be made (exit 3),
 * module discovery, and the hint for TypeScript on a Node that cannot load it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { EXIT, type Io, main } from "../src/cli/mod.ts";
import { onStopSignals, SAME_KEYPRESS_MS } from "../src/cli/_signals.ts";
import { startLocalServer } from "../src/local/server.ts";
import { VERSION } from "../src/version.ts";
import { restEnv, testRedisUrl } from "./_env.ts";
import { closedPort, repoPath, runCli, writeTree } from "./fixtures/cli_process.ts";

const APP = "tests/fixtures/worker_app.ts";
const SECRET = "secret-token-never-printed";

/** Asserts a process exited with `code` and one stderr line matching `pattern`. */
function assertFailed(
  result: { code: number; out: string; err: string },
  code: number,
  pattern: RegExp,
  what: string,
): void {
  assert.equal(result.code, code, `${what}: exit code (stderr: ${result.err})`);
  assert.equal(result.out, "", `${what}: stdout`);
  const lines = result.err.trim().split("\n");
  assert.equal(lines.length, 1, `${what}: one line, got ${result.err}`);
  assert.match(lines[0], pattern, `${what}: ${lines[0]}`);
  assert.ok(!result.err.includes(SECRET), `${what}: the token is printed`);
}

Deno.test("cli: the ./cli export runs as the main module: version prints, exits 0", async () => {
  const result = await runCli(["version"]);
  assert.deepEqual(result, { code: 0, out: `${VERSION}\n`, err: "" });
});

Deno.test("cli: importing the ./cli export runs nothing", async () => {
  const lines: string[] = [];
  assert.equal(await main(["version"], { out: (line) => lines.push(line) }), EXIT.OK);
  assert.deepEqual(lines, [VERSION]);
});

Deno.test("cli: --help, -h and help <command> print each command's help to stdout, exit 0", async () => {
  const cases: [string[], RegExp][] = [
    [["--help"], /^skiff: run skiff actors[\s\S]*Commands:[\s\S]*worker[\s\S]*Exit codes:/],
    [["-h"], /^skiff: run skiff actors/],
    [["help"], /^skiff: run skiff actors/],
    [["help", "worker"], /^skiff worker: [\s\S]*--queues[\s\S]*--concurrency[\s\S]*--prefetch/],
    [["worker", "--help"], /^skiff worker: [\s\S]*--shutdown-timeout/],
    [["worker", "app.ts", "-h"], /^skiff worker: /],
    [["scheduler", "--help"], /^skiff scheduler: [\s\S]*getScheduler\(\)/],
    [["help", "local"], /^skiff local: [\s\S]*--token[\s\S]*--drop-rate/],
    [["local", "-h"], /^skiff local: /],
  ];
  for (const [args, pattern] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, EXIT.OK, args.join(" "));
    assert.match(result.out, pattern, args.join(" "));
    assert.equal(result.err, "", args.join(" "));
  }
});

Deno.test("cli: unknown commands and bad arguments exit 2 with one line", async () => {
  const cases: [string[], RegExp][] = [
    [[], /^skiff: missing command$/],
    [["frobnicate"], /^skiff: unknown command 'frobnicate'$/],
    [["help", "frobnicate"], /^skiff help: unknown command 'frobnicate'/],
    [["worker"], /^skiff worker: name at least one module/],
    [["worker", APP, "--bogus"], /^skiff worker: Unknown option '--bogus'.*skiff worker --help/],
    [[
      "worker",
      APP,
      "--concurrency",
      "1.5",
    ], /^skiff worker: '--concurrency' must be an integer from 1 to 1024, received '1\.5'$/],
    [["worker", APP, "--concurrency", "0"], /'--concurrency' must be an integer/],
    [
      ["worker", APP, "--prefetch", "0"],
      /^skiff worker: '--prefetch' must be an integer from 1 to 65536, received '0'$/,
    ],
    [["worker", APP, "--shutdown-timeout=-1"], /'--shutdown-timeout' must be an integer/],
    [
      ["worker", APP, "--queues", "a{b}"],
      /^skiff worker: '--queues' holds an invalid queue name 'a\{b\}'/,
    ],
    [["worker", APP, "--queues", ""], /^skiff worker: '--queues' must name at least one queue/],
    [["worker", APP, "--queues", " , "], /'--queues' must name at least one queue/],
    [["scheduler"], /^skiff scheduler: name at least one module/],
    [["scheduler", APP, "--every", "5"], /^skiff scheduler: Unknown option '--every'/],
    [["local", "--token", "t", "--port", "seventy"], /^skiff local: '--port' must be an integer/],
    [
      ["local", "--token", "t", "--drop-rate", "2"],
      /^skiff local: '--drop-rate' must be a number from 0 to 1/,
    ],
    [["local", "--token", "t", "--redis", "not a url"], /^skiff local: '--redis' must be a URL/],
    [["local", "--port", "0"], /^skiff local: a token is required/],
  ];
  for (const [args, pattern] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, EXIT.USAGE, `${args.join(" ")}: ${result.err}`);
    assert.match(result.err.split("\n")[0], pattern, args.join(" "));
    assert.doesNotMatch(result.err, /^\s+at /m, `${args.join(" ")}: a stack trace`);
  }
});

Deno.test("cli: a module that cannot be found or imported exits 2 naming it", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["worker", "missing/app.ts"],
      /^skiff worker: Cannot find module 'missing\/app\.ts': no such file or directory$/,
    ],
    [
      ["worker", "no-such-package"],
      /^skiff worker: Cannot find module 'no-such-package': no such file or directory, and no package of that name in node_modules$/,
    ],
    [
      ["worker", "src/**/nothing_here.ts"],
      /^skiff worker: Cannot find modules: no file matches 'src\/\*\*\/nothing_here\.ts'$/,
    ],
    [
      ["worker", "tests/fixtures"],
      /^skiff worker: Cannot find modules in directory 'tests\/fixtures': name them actors\.ts or tasks\.ts/,
    ],
    [
      ["worker", "tests/fixtures/broken_module.ts"],
      /^skiff worker: Cannot import 'tests\/fixtures\/broken_module\.ts': this module is broken on purpose$/,
    ],
    [["scheduler", "missing.ts"], /^skiff scheduler: Cannot find module 'missing\.ts'/],
  ];
  for (const [args, pattern] of cases) {
    assertFailed(await runCli(args), EXIT.USAGE, pattern, args.join(" "));
  }
});

Deno.test("cli: no actor, no actor on a --queues queue, or no schedule exits 2 saying what to do", async () => {
  const dir = await writeTree({ "empty.ts": "export const nothing = 1;\n" });
  try {
    const cases: [string[], RegExp][] = [
      [
        ["worker", `${dir}/empty.ts`],
        /^skiff worker: No actor declared: .*declare one with actor\(\.\.\.\)/,
      ],
      [
        ["worker", APP, "--queues", "fixture,other"],
        /^skiff worker: No actor is declared on queue 'other' \(actors are declared on fixture\): import the module/,
      ],
      [
        ["scheduler", `${dir}/empty.ts`],
        /^skiff scheduler: No schedule declared: use getScheduler\(\)\.schedule/,
      ],
    ];
    for (const [args, pattern] of cases) {
      assertFailed(await runCli(args), EXIT.USAGE, pattern, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: no broker configured, half of it, or a malformed URL exits 2 naming the variable", async () => {
  const dir = await writeTree({
    "sched.ts": `import { actor, getScheduler } from "{{skiff}}";
getScheduler().schedule("tick", "* * * * *", actor("tick", () => {}).message());
`,
    "actors.ts": `import { actor } from "{{skiff}}";\nactor("noop", () => {});\n`,
  });
  try {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ["worker", `${dir}/actors.ts`],
        {},
        /^skiff worker: No broker configured: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN .*or call setBroker\(\.\.\.\) in a module$/,
      ],
      [["scheduler", `${dir}/sched.ts`], {}, /^skiff scheduler: No broker configured/],
      [
        ["worker", `${dir}/actors.ts`],
        { UPSTASH_REDIS_REST_TOKEN: SECRET },
        /^skiff worker: UPSTASH_REDIS_REST_URL is not set/,
      ],
      [
        ["worker", `${dir}/actors.ts`],
        { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1" },
        /^skiff worker: UPSTASH_REDIS_REST_TOKEN is not set/,
      ],
      [
        ["worker", `${dir}/actors.ts`],
        { UPSTASH_REDIS_REST_URL: SECRET, UPSTASH_REDIS_REST_TOKEN: "t" },
        /^skiff worker: UPSTASH_REDIS_REST_URL must be an http\(s\) URL/,
      ],
    ];
    for (const [args, env, pattern] of cases) {
      assertFailed(
        await runCli(args, { env }),
        EXIT.USAGE,
        pattern,
        `${args[0]} ${JSON.stringify(Object.keys(env))}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a token the REST server refuses exits 2 naming the variable, never the token", async () => {
  const { url } = restEnv();
  const host = new URL(url).host;
  const result = await runCli(["worker", APP], {
    env: { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: SECRET },
  });
  assertFailed(
    result,
    EXIT.USAGE,
    new RegExp(
      `^skiff worker: Cannot use Redis at ${host}: the server refused the token \\(HTTP 401\\); check UPSTASH_REDIS_REST_TOKEN$`,
    ),
    "wrong token",
  );
});

Deno.test("cli: a broker set by a module whose token is refused exits 2", async () => {
  const { url } = restEnv();
  const dir = await writeTree({
    "actors.ts": `import { Redis } from "@upstash/redis";
import { actor, setBroker, UpstashBroker } from "{{skiff}}";
setBroker(new UpstashBroker({ redis: new Redis({ url: "${url}", token: "${SECRET}", retry: false, enableTelemetry: false }) }));
actor("noop", () => {});
`,
  });
  try {
    const result = await runCli(["worker", dir]);
    assertFailed(
      result,
      EXIT.USAGE,
      /^skiff worker: Cannot use Redis: the server refused the credentials \(.*Unauthorized\); check the token/,
      "module broker",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a connection that cannot be made exits 3 naming the host and the cause", async () => {
  const port = closedPort();
  const cases: [string, RegExp][] = [
    [
      `http://127.0.0.1:${port}`,
      new RegExp(
        `^skiff worker: Cannot connect to Redis at 127\\.0\\.0\\.1:${port}: .*(Connection refused|ECONNREFUSED)`,
      ),
    ],
    [
      "https://skiff-test.invalid",
      /^skiff worker: Cannot connect to Redis at skiff-test\.invalid: .*(dns error|ENOTFOUND|EAI_AGAIN)/,
    ],
  ];
  for (const [url, pattern] of cases) {
    const result = await runCli(["worker", APP], {
      env: { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: SECRET },
    });
    assertFailed(result, EXIT.UNREACHABLE, pattern, url);
  }
});

Deno.test("cli: a broker set by a module whose host cannot be reached exits 3 naming the host and the cause", async () => {
  const port = closedPort();
  const cases: [string, RegExp][] = [
    [
      `http://127.0.0.1:${port}`,
      new RegExp(
        `^skiff (worker|scheduler): Cannot connect to Redis at 127\\.0\\.0\\.1:${port}: .*(Connection refused|ECONNREFUSED)`,
      ),
    ],
    [
      "https://skiff-test.invalid",
      /^skiff (worker|scheduler): Cannot connect to Redis at skiff-test\.invalid: .*(dns error|ENOTFOUND|EAI_AGAIN)/,
    ],
  ];
  for (const [url, pattern] of cases) {
    const dir = await writeTree({
      "actors.ts": `import { Redis } from "@upstash/redis";
import { actor, getScheduler, setBroker, UpstashBroker } from "{{skiff}}";
setBroker(new UpstashBroker({ redis: new Redis({ url: "${url}", token: "${SECRET}", retry: false, enableTelemetry: false }) }));
getScheduler().schedule("tick", "* * * * *", actor("noop", () => {}).message());
`,
    });
    try {
      for (const command of ["worker", "scheduler"]) {
        assertFailed(
          await runCli([command, `${dir}/actors.ts`]),
          EXIT.UNREACHABLE,
          pattern,
          `${command} ${url}`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("cli: a REST server that answers 503 (its Redis is down) exits 3", async () => {
  const server = await startLocalServer({
    redis: new URL(testRedisUrl()),
    token: "t",
    port: 0,
    faults: { errorRate: 1 },
  });
  try {
    const result = await runCli(["worker", APP], {
      env: { UPSTASH_REDIS_REST_URL: server.url, UPSTASH_REDIS_REST_TOKEN: "t" },
    });
    assertFailed(
      result,
      EXIT.UNREACHABLE,
      /^skiff worker: Cannot use Redis at 127\.0\.0\.1:\d+: the server answered HTTP 503$/,
      "503",
    );
  } finally {
    await server.close();
  }
});

Deno.test("cli: a directory, a quoted glob and a package name find the modules the convention names", async () => {
  const actor = (queue: string) =>
    `import { actor } from "{{skiff}}";\nactor("${queue}-actor", () => {}, { queue: "${queue}" });\n`;
  const dir = await writeTree({
    "src/actors.ts": actor("q-src"),
    "src/billing/tasks.mjs": actor("q-billing"),
    "src/jobs/tasks/resize.ts": actor("q-resize"),
    "src/actors/mail.js": actor("q-mail"),
    "src/server.ts": actor("q-server-not-imported"),
    "src/actors_test.ts": actor("q-test-not-imported"),
    "src/.cache/actors.ts": actor("q-dot-not-imported"),
    "src/node_modules/x/actors.ts": actor("q-nm-not-imported"),
    "node_modules/@acme/jobs/package.json": JSON.stringify({
      name: "@acme/jobs",
      exports: { ".": { types: "./x.d.ts", import: "./index.mjs" }, "./extra": "./extra.mjs" },
    }),
    // Deno does not let package code import skiff's source by file URL: these only say
    // they were imported.
    "node_modules/@acme/jobs/index.mjs": 'throw new Error("the package entry ran");\n',
    "node_modules/@acme/jobs/extra.mjs": 'throw new Error("the extra entry ran");\n',
  });
  try {
    // Asking for a queue no actor is on lists the queues the imported modules declared.
    const declared = async (...args: string[]) => {
      const result = await runCli(["worker", ...args, "--queues", "none"], { cwd: dir });
      assert.equal(result.code, EXIT.USAGE, result.err);
      return /actors are declared on ([^)]*)\)/.exec(result.err)?.[1];
    };
    assert.equal(await declared("src"), "q-billing, q-mail, q-resize, q-src");
    assert.equal(await declared("src/**/tasks.{ts,mjs}"), "q-billing");
    assert.equal(await declared("src/*/tasks/*.ts", "src/actors.ts"), "q-resize, q-src");
    for (
      const [name, file, line] of [["@acme/jobs", "index", "package"], [
        "@acme/jobs/extra",
        "extra",
        "extra",
      ]]
    ) {
      const result = await runCli(["worker", name], { cwd: dir });
      assertFailed(
        result,
        EXIT.USAGE,
        new RegExp(
          `^skiff worker: Cannot import 'node_modules/@acme/jobs/${file}\\.mjs': the ${line} entry ran$`,
        ),
        name,
      );
    }
    assert.equal(await declared(`${dir}/src/server.ts`), "q-server-not-imported");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: under a Node that cannot load TypeScript, a .ts module exits 2 with what to use", async () => {
  const dir = await writeTree({
    "app.ts": "export const x: number = 1;\n",
    "app.mjs": "export const x = 1;\n",
  });
  try {
    // The command as Node runs it: main.ts bundled, as the npm bin is.
    const bundle = `${dir}/skiff.mjs`;
    const built = await new Deno.Command(repoPath("node_modules/.bin/esbuild"), {
      args: [
        repoPath("src/cli/main.ts"),
        "--bundle",
        "--platform=node",
        "--format=esm",
        `--outfile=${bundle}`,
        "--log-level=warning",
      ],
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    const node = async (...args: string[]) => {
      const out = await new Deno.Command("node", {
        args: [bundle, ...args],
        cwd: dir,
        clearEnv: true,
        env: { PATH: Deno.env.get("PATH")! },
      }).output();
      const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
      return { code: out.code, out: text(out.stdout), err: text(out.stderr) };
    };
    const help = await node("--help");
    assert.equal(help.code, EXIT.OK);
    assert.match(help.out, /^skiff: run skiff actors/);
    assertFailed(
      await node("worker", "app.mjs"),
      EXIT.USAGE,
      /^skiff worker: No actor declared/,
      "node .mjs",
    );
    const version = (await node("--version")).out; // skiff's version; Node's is in the hint
    assert.equal(version.trim(), VERSION);
    const [major, minor] =
      (await new Deno.Command("node", { args: ["-p", "process.versions.node"] }).output())
        .stdout.reduce((s, b) => s + String.fromCharCode(b), "").trim().split(".").map(Number);
    const strips = major > 22 || (major === 22 && minor >= 18);
    const result = await node("worker", "app.ts");
    if (strips) {
      assertFailed(result, EXIT.USAGE, /^skiff worker: No actor declared/, "node .ts");
    } else {
      assertFailed(
        result,
        EXIT.USAGE,
        /^skiff worker: Cannot import 'app\.ts': Node \d+\.\d+\.\d+ cannot load TypeScript\. Use Node >= 22\.18 .*NODE_OPTIONS="--import tsx".*Deno \(deno run -A jsr:@skiff\/skiff\/cli \.\.\.\).*Bun \(bunx --bun skiff \.\.\.\)/,
        "node .ts",
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: signals within 250 ms of the first are one keypress; a later one exits 130", () => {
  // Given a clock the test moves, and a command that listens for stop signals
  let now = 1_000;
  let listener = () => {};
  const exits: number[] = [];
  const errors: string[] = [];
  const io: Io = {
    out: () => {},
    err: (line) => errors.push(line),
    onSignal: (fn) => (listener = fn),
    exit: (code) => exits.push(code),
    now: () => now,
  };
  let stops = 0;
  onStopSignals(io, "worker", () => stops++);
  // When the first signal and its duplicate (as `bun run` forwards it) arrive
  listener();
  now += 5;
  listener();
  now += SAME_KEYPRESS_MS - 10;
  listener();
  // Then the command stops gracefully once and does not exit
  assert.equal(stops, 1);
  assert.deepEqual(exits, []);
  // When a signal comes after the window, it is a second one: exit 130 at once
  now += 10;
  listener();
  assert.equal(stops, 1);
  assert.deepEqual(exits, [EXIT.INTERRUPTED]);
  assert.deepEqual(errors, ["skiff worker: second signal, exiting at once"]);
});

Deno.test("cli: docs/cli.md and the help list the exit codes the command uses", async () => {
  const doc = await Deno.readTextFile(repoPath("docs/cli.md"));
  const table = doc.slice(doc.indexOf("## Exit codes"));
  const documented = [...table.matchAll(/^\| (\d+) +\|/gm)].map((m) => Number(m[1])).sort((a, b) =>
    a - b
  );
  const used = Object.values(EXIT).sort((a, b) => a - b);
  assert.deepEqual(documented, used);
  const help: string[] = [];
  await main(["--help"], { out: (line) => help.push(line) });
  for (const code of [0, 2, 3, 130]) assert.match(help[0], new RegExp(`^  ${code} `, "m"));
});
