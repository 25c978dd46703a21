/**
 * What `skiff/node` and `skiff/deno` share of their HTTP clients: one exchange's shape, and
 * a `fetch` made of it for `Push`. Private to skiff.
 */

/**
 * The {@linkcode HttpSend} under a `fetch` made by {@linkcode fetchOver} (`nodeFetch`,
 * `denoFetch`): `Push` sends through it directly, building no `Request`, `Headers` or
 * `Response` per push (under Node, whose `Response` a server such as `@hono/node-server`
 * replaces, reading one back built a web stream per push).
 */
export const HTTP_SEND: unique symbol = Symbol("skiff.http.send");

/** A request to send; `body` goes as is, with its length. */
export interface HttpCall {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal | null;
}

/** What came back: the status, the headers (names in lower case) and the whole body. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

/** Sends one request and reads its whole answer; rejects when no answer came. */
export type HttpSend = (call: HttpCall) => Promise<HttpAnswer>;

/** A `fetch` that takes a `Request`, or a URL and init. */
export type FetchLike = (input: Request | URL | string, init?: RequestInit) => Promise<Response>;

/**
 * A `fetch` over `send`: it reads the whole answer before resolving and follows no
 * redirects. Bodies: a string, bytes, or a `Request`'s body. `Push` sends through `send`
 * itself ({@linkcode HTTP_SEND}).
 */
export function fetchOver(send: HttpSend, name: string): FetchLike {
  const fetchLike: FetchLike = async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const url = input instanceof URL ? input : new URL(request ? request.url : input as string);
    const method = (init?.method ?? request?.method ?? "GET").toUpperCase();
    const headers: Record<string, string> = {};
    const fields = init?.headers ?? request?.headers;
    if (fields instanceof Headers || Array.isArray(fields)) {
      new Headers(fields).forEach((value, name) => headers[name] = value);
    } else if (fields) {
      // A plain record, as `Push` passes: no `Headers` to build per request.
      for (const [name, value] of Object.entries(fields)) headers[name.toLowerCase()] = value;
    }
    let body: string | Uint8Array | undefined;
    const given = init?.body ?? undefined;
    if (typeof given === "string" || given instanceof Uint8Array) body = given;
    else if (given instanceof ArrayBuffer) body = new Uint8Array(given);
    else if (given !== undefined && given !== null) {
      throw new TypeError(`Cannot send with ${name}: the body must be a string or bytes`);
    } else if (request?.body) body = new Uint8Array(await request.arrayBuffer());
    const answer = await send({
      url,
      method,
      headers,
      body,
      signal: init?.signal ?? request?.signal,
    });
    const out = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) out.append(name, one);
    }
    const empty = answer.status === 204 || answer.status === 304 || method === "HEAD";
    return new Response(empty ? null : answer.body as Uint8Array<ArrayBuffer>, {
      status: answer.status,
      statusText: answer.statusText,
      headers: out,
    });
  };
  Object.defineProperty(fetchLike, HTTP_SEND, { value: send });
  return fetchLike;
}
