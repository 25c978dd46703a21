/** The dashboard's credentials check and its CSRF check. Private to skiff. */
import { bearerMatches } from "../push/cron_secret.ts";
import type { DashboardAuth } from "./options.ts";

/** The shortest secret accepted: long enough that guessing it is hopeless. */
export const MIN_SECRET_LENGTH = 16;

/**
 * Checks the shape of the auth option.
 *
 * @throws {TypeError} When it is missing or malformed.
 */
export function checkAuth(auth: unknown, context: string): DashboardAuth {
  const a = auth as Record<string, unknown> | undefined;
  const basic = a?.basic as Record<string, unknown> | undefined;
  if (
    basic !== undefined && typeof basic?.username === "string" && basic.username !== "" &&
    !basic.username.includes(":") && typeof basic.password === "string" &&
    basic.password.length >= MIN_SECRET_LENGTH
  ) return auth as DashboardAuth;
  if (typeof a?.bearer === "string" && a.bearer.length >= MIN_SECRET_LENGTH) {
    return auth as DashboardAuth;
  }
  if (typeof a?.verify === "function") return auth as DashboardAuth;
  throw new TypeError(
    `${context}: 'auth' must be { basic: { username, password } }, { bearer } or { verify }, ` +
      `with secrets of at least ${MIN_SECRET_LENGTH} characters (the dashboard never serves ` +
      "without credentials)",
  );
}

/** Whether the request carries the credentials. */
export async function authorized(request: Request, auth: DashboardAuth): Promise<boolean> {
  const header = request.headers.get("authorization") ?? undefined;
  if ("bearer" in auth) return await bearerMatches(header, auth.bearer);
  if ("verify" in auth) return (await auth.verify(request)) === true;
  if (header === undefined || !/^basic /i.test(header)) return false;
  let decoded: string;
  try {
    decoded = new TextDecoder().decode(
      Uint8Array.from(atob(header.slice(6).trim()), (ch) => ch.charCodeAt(0)),
    );
  } catch {
    return false;
  }
  const expected = `${auth.basic.username}:${auth.basic.password}`;
  // Compared as a bearer secret is: digests, so the time says nothing about where they differ.
  return await bearerMatches(`Bearer ${decoded}`, expected);
}

/**
 * Whether a state-changing request comes from the dashboard's own page: a browser sends
 * `Origin` with every form POST, and another site's page cannot forge it; `Sec-Fetch-Site`
 * says the same where it is sent. Basic auth credentials go along with any request the
 * browser makes, so this check is what stops another site from posting a form here.
 */
export function sameOrigin(request: Request): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin") return false;
  const origin = request.headers.get("origin");
  if (origin === null) return false;
  const url = new URL(request.url);
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host") ?? url.host;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
