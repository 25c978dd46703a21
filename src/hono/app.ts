/**
 * The worker endpoint: `POST /messages` (a signed push of message ids), `POST /tick` (a
 * signed tick), `GET /health`. JSON in and out, errors included.
 *
 * @module
 */
import { type Env, Hono } from "hono";
import { errorName } from "../_util.ts";
import { VERSION } from "../version.ts";
import type { WorkerAppOptions } from "./options.ts";
import { resolveOptions } from "./_options.ts";
import { Refusal } from "./_request.ts";
import { messagesRoute, tickRoute } from "./_routes.ts";

/**
 * Creates the worker endpoint, a Hono app to deploy as is or to mount under a prefix
 * (`app.route("/skiff", workerApp(...))`).
 *
 * - `POST /messages`, body `{ "queue": "default", "ids": ["..."] }`, signed: claims each id
 *   (a duplicate push runs once), runs middleware and actor, acks or nacks, within
 *   `budgetMs`. Answers `{ queue, results: [{ id, status, error? }] }` (see
 *   `DeliveryResult`): 200 when every id is done here or already, 202 when some are in
 *   flight elsewhere, were deferred past the budget, or wait for a slot of their queue
 *   (`busy`), 503 when the broker failed (retry).
 * - `GET` or `POST /tick`, body empty or `{ "queues"?: [...] }`: runs `tick()`; answers its
 *   report. Cron services that cannot sign use `cronSecret` (Vercel Cron's `GET` with
 *   `Authorization: Bearer $CRON_SECRET`) or QStash's `Upstash-Signature` (`qstash`).
 * - `GET /health`: `{ ok, version }`, with no Redis command.
 *
 * Refusals come first and cost no Redis command: 413 (body over `maxBodyBytes`), 415 (not
 * JSON), 401 (missing, malformed, expired, unknown or wrong credentials); then a signature
 * or QStash token is remembered once (one `SET NX`: a replay is a 401), then 400 for a
 * malformed body. Credentials: `signingKeys` (`Skiff-Signature`), `cronSecret` (a bearer
 * secret, `/tick` only) and `qstash` (`Upstash-Signature`), in any combination.
 *
 * @example Ask it for its health
 * ```ts
 * import assert from "node:assert/strict";
 * import { workerApp } from "@skiff/skiff/hono";
 *
 * const res = await workerApp().request("/health");
 * assert.equal(res.status, 200);
 * ```
 *
 * @example Push a signed message to it
 * ```ts
 * import assert from "node:assert/strict";
 * import { actor, MemoryBroker } from "@skiff/skiff";
 * import { workerApp } from "@skiff/skiff/hono";
 * import { signPush } from "../push/signature.ts";
 *
 * const secret = "a-secret-of-at-least-16-chars";
 * const broker = new MemoryBroker();
 * const hello = actor(`hello-${crypto.randomUUID()}`, () => "hi", { broker });
 * const app = workerApp({ broker, signingKeys: [secret] });
 * const { id } = await hello.send();
 * const body = JSON.stringify({ queue: "default", ids: [id] });
 * const signature = await signPush(secret, { method: "POST", path: "/messages", body });
 * const res = await app.request("/messages", {
 *   method: "POST",
 *   headers: { "content-type": "application/json", "skiff-signature": signature },
 *   body,
 * });
 * assert.equal(res.status, 200);
 * assert.deepEqual((await res.json()).results, [{ id, status: "acked" }]);
 * ```
 *
 * @param options Keys, broker, limits, tick options.
 * @returns A Hono app whose every answer is JSON.
 * @throws {TypeError} When static `signingKeys` or `cronSecret` are not strings of at least
 *   16 characters, or static `qstash` keys are not non-empty strings.
 * @throws {RangeError} When a limit is not a positive integer.
 */
export function workerApp<E extends Env = Env>(options: WorkerAppOptions<E> = {}): Hono<E> {
  const resolved = resolveOptions(options);
  const app = new Hono<E>();
  app.post("/messages", messagesRoute(resolved));
  app.on(["GET", "POST"], "/tick", tickRoute(resolved));
  app.get("/health", (c) => c.json({ ok: true, version: VERSION }));
  for (const [path, allow] of [["/messages", "POST"], ["/tick", "GET, POST"], ["/health", "GET"]]) {
    app.all(path, (c) => {
      c.header("Allow", allow);
      return c.json({ error: `Method ${c.req.method} is not allowed here; use ${allow}` }, 405);
    });
  }
  app.notFound((c) => c.json({ error: `No route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    if (error instanceof Refusal) return c.json({ error: error.message }, error.status);
    console.error(
      `skiff worker app: ${c.req.method} ${c.req.path} failed with ${errorName(error)}`,
    );
    return c.json({ error: "Internal error" }, 500);
  });
  return app;
}
