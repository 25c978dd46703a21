/**
 * `skiff/cli`: the `skiff` command for Node, Deno and Bun.
 *
 * ```sh
 * skiff worker app.ts --concurrency 8
 * skiff local --redis redis://127.0.0.1:6379 --port 8079 --token dev
 * ```
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
