/**
 * One HTTP exchange over `node:http` or `node:https` on kept-alive sockets: what
 * `skiff/node`'s Redis client and `nodeFetch` send with. Private to skiff.
 */
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { HttpAnswer, HttpCall } from "../_http.ts";

let agents: { http: HttpAgent; https: HttpsAgent } | undefined;

/**
 * Sends one request on a kept-alive socket (Nagle off) and reads the answer to its end, so
 * that the socket goes back to the pool. A request whose reused socket turns out closed by
 * the server is sent once more on a new one, as Node's documentation advises. Rejects when no
 * answer came (refused, reset, aborted); an answer of any status resolves.
 */
export function httpSend(call: HttpCall): Promise<HttpAnswer> {
  agents ??= {
    http: new HttpAgent({ keepAlive: true, noDelay: true }),
    https: new HttpsAgent({ keepAlive: true, noDelay: true }),
  };
  const { url, body } = call;
  const secure = url.protocol === "https:";
  if (!secure && url.protocol !== "http:") {
    return Promise.reject(
      new TypeError(`Cannot send to ${url.protocol}//: only http:// and https:// are supported`),
    );
  }
  const headers: Record<string, string | number> = { ...call.headers };
  if (body !== undefined) {
    headers["content-length"] = typeof body === "string" ? Buffer.byteLength(body) : body.length;
  }
  const options = {
    agent: secure ? agents.https : agents.http,
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port,
    path: url.pathname + url.search,
    method: call.method,
    headers,
    signal: call.signal ?? undefined,
  };
  const send = secure ? httpsRequest : httpRequest;
  const once = (retry: boolean): Promise<HttpAnswer> =>
    new Promise((resolve, reject) => {
      const request = send(options, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          resolve({
            status: response.statusCode ?? 0,
            statusText: response.statusMessage ?? "",
            headers: response.headers,
            body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
          });
        });
      });
      request.on("error", (error: Error & { code?: string }) => {
        // A kept-alive socket the server closed as this request went out (its idle timeout,
        // almost always: it had not read the request); once more on a socket of its own. What
        // skiff sends is safe to repeat: scripts by call id, pushes by their signature.
        const stale = request.reusedSocket && !call.signal?.aborted &&
          (error.code === "ECONNRESET" || error.code === "EPIPE");
        if (retry && stale) once(false).then(resolve, reject);
        else reject(error);
      });
      request.end(body);
    });
  return once(true);
}
