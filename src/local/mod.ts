/**
 * `skiff/local`: a server that speaks the Upstash REST protocol in front of a real
 * redis-server, so the same code runs locally and on Upstash, with no account and no
 * Docker. Node, Deno and Bun only (it opens sockets). From the command line
 * (`skiff local --help` lists the options and fault modes):
 *
 * ```sh
 * # Node
 * npx skiff local --redis redis://127.0.0.1:6379 --port 8079 --token dev
 * # Deno
 * deno run -A jsr:@skiff/skiff/cli local --redis redis://127.0.0.1:6379 --token dev
 * # Bun
 * bunx --bun skiff local --redis redis://127.0.0.1:6379 --token dev
 * ```
 *
 * Then point clients at it with `UPSTASH_REDIS_REST_URL=http://127.0.0.1:8079` and
 * `UPSTASH_REDIS_REST_TOKEN=dev`.
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
