#!/usr/bin/env -S deno run --allow-all
/**
 * The `skiff` command's entry point: runs {@linkcode main} with the process's arguments and
 * exits with its code. The npm bin is built from this file; `deno run -A` of the `./cli`
 * export (`mod.ts`) imports it.
 *
 * @module
 */
import process from "node:process";
import { main } from "./main_fn.ts";

// Exits rather than waiting for the event loop to drain: HTTP keep-alive sockets and
// timers of the user's modules would otherwise hold the process after a clean stop.
process.exit(await main(process.argv.slice(2)));
