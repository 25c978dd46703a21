/**
 * Keeps `docs/architecture.md` true. Reads the import graph of every export as
 * `deno info --json` sees it: runtime imports, and type imports (`import type`, which are
 * not runtime imports). Fails on a runtime import cycle, on a runtime import against the
 * layer order that the page does not list as debt, and on a circle of imports of either
 * kind that spans two areas (the core, or one folder above it) but for the type imports
 * the page lists.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The layers, lowest first; a module may import at run time from its own layer or below. */
export const LAYERS: readonly (readonly [number, RegExp])[] = [
  [1, /^src\/(_[a-z_]+|errors|logger|version)\.ts$|^src\/redis\//],
  [
    2,
    /^src\/(message|continuation|actor|broker|process|context|registry|global_broker|options|worker|composition_contract|result_stream)\.ts$|^src\/(brokers|middleware)\//,
  ],
  [3, /^src\/(results|composition|rate_limits)\//],
  [4, /^src\/(push|scheduler|metrics|otel)\/|^src\/tick\.ts$/],
  [5, /^src\/(hono|cloudflare|deno|node|cli|local|dashboard)\//],
  [6, /^mod\.ts$/],
];

/** Imports against the order that are known and listed in docs/architecture.md as debt. */
export const KNOWN_DEBT: readonly string[] = [];

/**
 * Type imports that close a circle between two areas, known and listed in
 * docs/architecture.md; the circle test reads the graph without them. There are none.
 */
export const KNOWN_TYPE_CIRCLES: readonly string[] = [];

function layerOf(path: string): number | undefined {
  return LAYERS.find(([, pattern]) => pattern.test(path))?.[0];
}

/**
 * The area of a module, within which circles are allowed: "core" for the layer 1 and 2
 * files at `src/` top level, `src/brokers/` and `src/middleware/`; else its folder under
 * `src/` (as "results"), or the file itself (`src/tick.ts`, `mod.ts`).
 */
export function areaOf(path: string): string {
  if (/^src\/(brokers|middleware)\//.test(path)) return "core";
  if (/^src\/[a-z_]+\.ts$/.test(path) && layerOf(path)! <= 2) return "core";
  return path.match(/^src\/([a-z_]+)\//)?.[1] ?? path;
}

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

type Graph = Map<string, Set<string>>;

/**
 * The imports between the repository's own modules, from every export: at run time, and
 * of either kind (runtime and type imports).
 */
async function importGraphs(): Promise<{ runtime: Graph; all: Graph }> {
  const deno = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const graph: Graph = new Map();
  const all: Graph = new Map();
  const local = (specifier: string) =>
    specifier.startsWith(ROOT.href) && !specifier.includes("/node_modules/")
      ? specifier.slice(ROOT.href.length)
      : undefined;
  for (const entry of Object.values(deno.exports) as string[]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
    for (const module of info.modules) {
      const from = local(module.specifier);
      if (!from || !from.endsWith(".ts")) continue;
      const edges = graph.get(from) ?? new Set<string>();
      const either = all.get(from) ?? new Set<string>();
      for (const dependency of module.dependencies ?? []) {
        const to = dependency.code?.specifier && local(dependency.code.specifier);
        if (to && to.endsWith(".ts")) edges.add(to);
        const type = dependency.type?.specifier && local(dependency.type.specifier);
        for (const target of [to, type]) if (target && target.endsWith(".ts")) either.add(target);
      }
      graph.set(from, edges);
      all.set(from, either);
    }
  }
  return { runtime: graph, all };
}

/** Strongly connected components of more than one module (Tarjan). */
function cycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The circles that span two areas. */
function wideCircles(graph: Graph): string[][] {
  return cycles(graph).filter((circle) => new Set(circle.map(areaOf)).size > 1);
}

/** A copy of a graph with one more import. */
function withImport(graph: Graph, from: string, to: string): Graph {
  const copy: Graph = new Map([...graph].map(([f, targets]) => [f, new Set(targets)]));
  copy.get(from)!.add(to);
  return copy;
}

const { runtime: graph, all } = await importGraphs();

Deno.test("architecture: no runtime import cycle among skiff's modules", () => {
  assert.ok(graph.size > 50, `only ${graph.size} modules found`);
  assert.deepEqual(cycles(graph), []);
});

Deno.test("architecture: every module has a layer, and imports go down the layers but for the listed debt", async () => {
  const unplaced = [...graph.keys()].filter((path) => layerOf(path) === undefined);
  assert.deepEqual(unplaced, [], "place these in LAYERS and docs/architecture.md");
  const against: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      if (layerOf(to)! > layerOf(from)!) against.push(`${from} -> ${to}`);
    }
  }
  // Equal, not a subset: paying off a debt means taking it off the page too.
  assert.deepEqual(against.sort(), [...KNOWN_DEBT].sort());
  const page = await Deno.readTextFile(new URL("docs/architecture.md", ROOT));
  for (const debt of KNOWN_DEBT) {
    const [from, to] = debt.split(" -> ");
    assert.ok(page.includes(`\`${from}\` → \`${to}\``), `docs/architecture.md must list ${debt}`);
  }
});

Deno.test("architecture: no circle of runtime or type imports spans two areas but for the listed type imports", async () => {
  const page = await Deno.readTextFile(new URL("docs/architecture.md", ROOT));
  const rest: Graph = new Map([...all].map(([from, targets]) => [from, new Set(targets)]));
  for (const known of KNOWN_TYPE_CIRCLES) {
    const [from, to] = known.split(" -> ");
    assert.ok(all.get(from)?.has(to), `${known} is gone: take it off the list and the page`);
    assert.ok(!graph.get(from)?.has(to), `${known} must be a type import`);
    assert.ok(page.includes(`\`${from}\` → \`${to}\``), `docs/architecture.md must list ${known}`);
    rest.get(from)!.delete(to);
  }
  assert.deepEqual(wideCircles(rest), []);
  // The "now" row of the page's table: `SKIFF_PRINT_CIRCLES=1 deno test -A tests/architecture_test.ts`.
  if (Deno.env.get("SKIFF_PRINT_CIRCLES")) {
    console.log(`circles of all imports: ${cycles(all).map((c) => `${c.length} modules`)}`);
  }
  // Each listed import is needed: without the others, it closes a circle across areas.
  for (const known of KNOWN_TYPE_CIRCLES) {
    const [from, to] = known.split(" -> ");
    rest.get(from)!.add(to);
    const closed = cycles(rest).some((circle) =>
      circle.includes(from) && circle.includes(to) && new Set(circle.map(areaOf)).size > 1
    );
    assert.ok(closed, `${known} closes no circle across areas: take it off the list and the page`);
    rest.get(from)!.delete(to);
  }
});

Deno.test("architecture: given the type import that Message.pipe() once needed, then the circle check fails", () => {
  // The signature of pipe() named the composition layer's Pipeline, whose module imports
  // message.ts: one circle through the core, composition/ and results/.
  const back = withImport(all, "src/message.ts", "src/composition/pipeline.ts");
  const wide = wideCircles(back);
  assert.equal(wide.length, 1);
  assert.ok(wide[0].includes("src/message.ts") && wide[0].includes("src/composition/pipeline.ts"));
});

Deno.test("architecture: the core imports nothing above it, types included", () => {
  // Imports of either kind from the core (layers 1 and 2) into layer 3 or above.
  const intoTheLayersAbove = (graph: Graph): string[] =>
    [...graph].flatMap(([from, targets]) =>
      [...targets].filter((to) => layerOf(from)! <= 2 && layerOf(to)! >= 3).map((to) =>
        `${from} -> ${to}`
      )
    );
  assert.deepEqual(intoTheLayersAbove(all), []);
  // What message.ts once had for getResult(): a type import of the results layer.
  const back = withImport(all, "src/message.ts", "src/results/backend.ts");
  assert.deepEqual(intoTheLayersAbove(back), ["src/message.ts -> src/results/backend.ts"]);
});
