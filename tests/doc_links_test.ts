/**
 * Keeps the documentation reachable: every relative link in README.md and `docs/` names a
 * file that exists (and, with `#anchor`, a heading of that page), and every page of `docs/`
 * is linked from README.md or from another page.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The pages checked: README.md and every `.md` of `docs/`, as paths from the root. */
async function pages(): Promise<string[]> {
  const found = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) found.push(`docs/${entry.name}`);
  }
  return found.sort();
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
export function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}

/** The relative links of a page, code blocks left out, as `[target, anchor]`. */
export function linksOf(text: string): [string, string][] {
  const prose = text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1])
    .filter((href) => !/^[a-z]+:/.test(href))
    .map((href) => {
      const [target, anchor = ""] = href.split("#");
      return [target, anchor];
    });
}

/** The anchors of a page's headings. */
function anchorsOf(text: string): Set<string> {
  const prose = text.replace(/```[\s\S]*?```/g, "");
  return new Set([...prose.matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1])));
}

Deno.test("doc links: every relative link names a file and heading that exist", async () => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of await pages()) {
    const text = await Deno.readTextFile(new URL(page, ROOT));
    for (const [target, anchor] of linksOf(text)) {
      checked++;
      const file = target === "" ? new URL(page, ROOT) : new URL(target, new URL(page, ROOT));
      let stat: Deno.FileInfo;
      try {
        stat = await Deno.stat(file);
      } catch {
        broken.push(`${page}: ${target}`);
        continue;
      }
      if (anchor && stat.isFile && file.pathname.endsWith(".md")) {
        if (!anchorsOf(await Deno.readTextFile(file)).has(anchor)) {
          broken.push(`${page}: ${target}#${anchor}`);
        }
      }
    }
  }
  assert.ok(checked > 50, `only ${checked} links found`);
  assert.deepEqual(broken, []);
});

Deno.test("doc links: every page of docs/ is linked from README.md or another page", async () => {
  const all = await pages();
  const linked = new Set<string>();
  for (const page of all) {
    const text = await Deno.readTextFile(new URL(page, ROOT));
    for (const [target] of linksOf(text)) {
      if (!target) continue;
      const path = new URL(target, new URL(page, ROOT)).href.slice(ROOT.href.length);
      if (path !== page) linked.add(path);
    }
  }
  assert.deepEqual(all.filter((page) => page !== "README.md" && !linked.has(page)), []);
});

Deno.test("doc links: given a link to a missing page or heading, then it is found", () => {
  const links = linksOf("See [a](docs/gone.md#x), `[b](c.md)` and [web](https://example.com).");
  assert.deepEqual(links, [["docs/gone.md", "x"]]);
  assert.equal(
    anchorOf("How `UpstashBroker` keeps a queue in Redis"),
    "how-upstashbroker-keeps-a-queue-in-redis",
  );
});
