/**
 * `skiff/deno`'s HTTP client: HTTP/1.1 (`../_socket_http.ts`) over `Deno.connect` and
 * `Deno.connectTls`, Nagle off. Private to skiff.
 */
import { http1Client } from "../_socket_http.ts";

interface DenoConnection {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
}

interface DenoNet {
  connect(options: { hostname: string; port: number }): Promise<DenoConnection>;
  connectTls(
    options: { hostname: string; port: number; caCerts?: string[] },
  ): Promise<DenoConnection>;
}

/** Sends one request and reads its whole answer; `closeIdle()` closes the pooled connections. */
export const { send: httpSend, closeIdle } = http1Client(
  async (secure, hostname, port, caCerts) => {
    const net = (globalThis as unknown as { Deno: DenoNet }).Deno;
    const connection = secure
      ? await net.connectTls({ hostname, port, ...(caCerts ? { caCerts } : {}) })
      : await net.connect({ hostname, port });
    connection.setNoDelay?.(true);
    // Deno keeps no process alive for a connection no read or write is pending on.
    return connection;
  },
);
