/**
 * `skiff/local`: a server that speaks the Upstash REST protocol in front of a real
 * redis-server, so the same code runs locally and on Upstash, with no account and no
 * Docker. Node, Deno and Bun only (it opens sockets). From the command line:
 * `skiff local --redis redis://127.0.0.1:6379 --port 8079 --token dev`.
 *
 * ```ts ignore
 * // Deno
 * import { startLocalServer } from "@skiff/skiff/local";
 * // Node and Bun
 * import { startLocalServer } from "skiff/local";
 * ```
 *
 * @module
 */
export {
  type FaultOptions,
  type LocalServer,
  type LocalServerOptions,
  startLocalServer,
} from "./server.ts";
