/**
 * `skiff/cli`: the `skiff` command for Node, Deno and Bun, runnable itself.
 *
 * ```sh
 * # Deno
 * deno run -A jsr:@skiff/skiff/cli worker app.ts
 * # Node (TypeScript modules need Node >= 22.18, or NODE_OPTIONS="--import tsx")
 * npx skiff worker actors.mjs
 * # Bun
 * bunx --bun skiff worker app.ts
 * ```
 *
 * Run as the main module, it runs {@linkcode main} with the process's arguments and exits
 * with its code; imported, it only exports `main`, for tests and wrappers.
 *
 * ```ts ignore
 * // Deno
 * import { main } from "@skiff/skiff/cli";
 * // Node and Bun
 * import { main } from "skiff/cli";
 * ```
 *
 * @module
 */
export { EXIT, type Io, main } from "./main_fn.ts";

// Not awaited: a top-level await would keep `require("skiff/cli")` from loading this module.
if (import.meta.main) import("./main.ts");
