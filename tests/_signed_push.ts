/**
 * A signed `POST /messages` to a `workerApp()` in this process, as the `Push` middleware
 * sends it; for tests that race pushes.
 *
 * @module
 */
import { signPush } from "../src/push/signature.ts";

/** What the tests call: `app.request`, as Hono apps have it. */
export interface RequestableApp {
  request(path: string, init: RequestInit): Response | Promise<Response>;
}

/** Posts `{ queue, ids }` signed with `secret`; answers the status, the body read away. */
export async function postSigned(
  app: RequestableApp,
  secret: string,
  queue: string,
  ids: string[],
): Promise<number> {
  const body = JSON.stringify({ queue, ids });
  const signature = await signPush(secret, { method: "POST", path: "/messages", body });
  const response = await app.request("/messages", {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "skiff-signature": signature },
  });
  await response.body?.cancel();
  return response.status;
}
