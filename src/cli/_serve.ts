/**
 * Serves a fetch handler over `node:http` (on Node, Deno and Bun alike), for
 * `skiff dashboard`.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { concatBytes } from "../_util.ts";

/** The largest request body read, in bytes: the dashboard's forms are tiny. */
const MAX_BODY = 64 * 1024;

/** A running server. */
export interface Served {
  /** Its address, `http://host:port`. */
  url: string;
  /** Stops it. */
  close: () => Promise<void>;
}

/**
 * Listens on `host:port` and answers each request with `handler`.
 *
 * @param handler The fetch handler (`app.fetch`).
 * @param options Where to listen (port 0: a free one).
 * @returns The server's address and a way to stop it.
 */
export function serve(
  handler: (request: Request) => Response | Promise<Response>,
  options: { host: string; port: number },
): Promise<Served> {
  const server: Server = createServer(async (req, res) => {
    try {
      const response = await handler(await toRequest(req, options.host));
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => headers[name] = value);
      res.writeHead(response.status, headers);
      res.end(new Uint8Array(await response.arrayBuffer()));
    } catch {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("Internal Server Error");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : options.port;
      const host = options.host.includes(":") ? `[${options.host}]` : options.host;
      resolve({
        url: `http://${host}:${port}`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

async function toRequest(req: IncomingMessage, host: string): Promise<Request> {
  const url = new URL(req.url ?? "/", `http://${req.headers.host ?? host}`);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  let body: Uint8Array<ArrayBuffer> | undefined;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Uint8Array).length;
      if (size > MAX_BODY) throw new RangeError("request body too large");
      chunks.push(chunk as Uint8Array);
    }
    body = concatBytes(chunks, size);
  }
  return new Request(url, { method: req.method, headers, body });
}
