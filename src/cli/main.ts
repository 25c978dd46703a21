#!/usr/bin/env -S deno run --allow-all
/**
 * The `skiff` command's entry point: runs {@linkcode main} with the process's arguments.
 *
 * @module
 */
import process from "node:process";
import { main } from "./main_fn.ts";

process.exitCode = await main(process.argv.slice(2));
