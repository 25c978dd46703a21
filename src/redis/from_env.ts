/** The names of the variables Upstash's console gives for a database's REST endpoint. */
export const ENV_URL = "UPSTASH_REDIS_REST_URL";
/** The variable that holds the REST token. */
export const ENV_TOKEN = "UPSTASH_REDIS_REST_TOKEN";

/**
 * An environment that may hold the REST URL and token: `process.env`, `Deno.env.toObject()`,
 * or a Worker's `env`, whether it is typed as a record or as an `interface Bindings`.
 */
export type RestEnv =
  | { readonly UPSTASH_REDIS_REST_URL?: unknown; readonly UPSTASH_REDIS_REST_TOKEN?: unknown }
  | Readonly<Record<string, unknown>>;

/**
 * Reads the REST URL and token from an environment, failing with the name of what is
 * missing (never with a value).
 *
 * @param env The environment: `process.env`, `Deno.env.toObject()`, Cloudflare's `env`.
 * @param where Who asks, for the error message.
 * @returns The URL and token.
 * @throws {TypeError} When either is missing or empty.
 */
export function restCredentials(
  env: RestEnv,
  where: string,
): { url: string; token: string } {
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = env as Record<
    string,
    unknown
  >;
  for (const [name, value] of [[ENV_URL, url], [ENV_TOKEN, token]] as const) {
    if (typeof value !== "string" || value === "") {
      throw new TypeError(`Cannot create Redis client in ${where}: ${name} is not set`);
    }
  }
  return { url: url as string, token: token as string };
}
