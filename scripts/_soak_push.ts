/**
 * The push soak: the Hono worker endpoint (`workerApp`) served locally on a broker on the
 * faulty path; each message is pushed once, signed, so any 401 it gets is false. Some
 * pushes are then replayed, and some forged: those must get 401. Private to
 * `scripts/soak.ts`.
 *
 * @module
 */
import { Redis } from "@upstash/redis";
import { actor, Message, UpstashBroker } from "../mod.ts";
import { workerApp } from "../src/hono/mod.ts";
import { signPush } from "../src/push/signature.ts";
import type { SoakServices } from "./_soak_services.ts";
import { deleteKeys } from "./_soak_queue.ts";

/** Options of the push soak. */
export interface PushSoakOptions {
  /** How many messages to send and push. */
  pushes: number;
  /** How many pushes are in flight at once. */
  senders: number;
  /** Every this many pushes, replay it (if it was accepted) and forge one: each must get 401. */
  replayEvery: number;
  /** The lease of each claim, in milliseconds. */
  leaseMs: number;
  /** Give up draining what the pushes left after this many milliseconds. */
  timeoutMs: number;
}

/** What the push soak measured. */
export interface PushSoakReport {
  /** Genuine pushes sent (messages whose send succeeded). */
  pushes: number;
  /** Their answers, by HTTP status. */
  statuses: Record<string, number>;
  /** Genuine pushes answered 401. */
  false401: number;
  /** Replays sent, and how many were accepted (2xx). */
  replays: number;
  replaysAccepted: number;
  /** Forgeries sent, and how many were not refused with 401 (before any Redis command). */
  forged: number;
  forgedAccepted: number;
  /** Messages sent that never ran, even after draining the queue. */
  lost: number;
  /** Messages that ran more than once. */
  ranTwice: number;
  /** Sends that failed after the client's retries. */
  sendErrors: number;
}

const SECRET = "soak-signing-key-0123456789";

/**
 * Runs the push soak.
 *
 * @param services The faulty and clean paths.
 * @param options Sizes and timing.
 * @param log Where progress lines go.
 * @returns What it measured.
 */
export async function pushSoak(
  services: SoakServices,
  options: PushSoakOptions,
  log: (line: string) => void,
): Promise<PushSoakReport> {
  const suffix = crypto.randomUUID().slice(0, 8);
  const namespace = `soak-push-${suffix}`;
  const queue = `push-${suffix}`;
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const clean = new Redis({
    url: services.cleanUrl,
    token: services.token,
    enableTelemetry: false,
  });
  const faulty = new Redis({
    url: services.faultyUrl,
    token: services.token,
    enableTelemetry: false,
  });
  const broker = new UpstashBroker({ redis: faulty, namespace, logger: silent });
  const runs = new Map<string, number>();
  const name = `soak.push-${suffix}`;
  actor(name, function () {
    runs.set(this.message.id, (runs.get(this.message.id) ?? 0) + 1);
  }, { queue });
  const app = workerApp({ broker, signingKeys: [SECRET], leaseMs: options.leaseMs });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => app.fetch(request),
  );
  const url = `http://127.0.0.1:${server.addr.port}/messages`;
  const report: PushSoakReport = {
    pushes: 0,
    statuses: {},
    false401: 0,
    replays: 0,
    replaysAccepted: 0,
    forged: 0,
    forgedAccepted: 0,
    lost: 0,
    ranTwice: 0,
    sendErrors: 0,
  };
  const post = async (body: string, signature: string) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "skiff-signature": signature },
      body,
    });
    await response.body?.cancel();
    return response.status;
  };
  const sent: string[] = [];
  try {
    let next = 0;
    await Promise.all(Array.from({ length: options.senders }, async () => {
      while (next < options.pushes) {
        const i = next++;
        const message = new Message({ queue, actor: name, args: [] });
        try {
          await broker.enqueue([message]);
        } catch {
          report.sendErrors++;
          continue;
        }
        sent.push(message.id);
        const body = JSON.stringify({ queue, ids: [message.id] });
        const signature = await signPush(SECRET, { method: "POST", path: "/messages", body });
        const status = await post(body, signature);
        report.pushes++;
        report.statuses[status] = (report.statuses[status] ?? 0) + 1;
        if (status === 401) report.false401++;
        // A replay is a second use of a signature that was accepted: a push refused
        // before its signature was remembered may be sent again.
        if (i % options.replayEvery === 0 && (status === 200 || status === 202)) {
          report.replays++;
          // Refused either way: 401, or 503 when the replay store cannot be reached.
          const again = await post(body, signature);
          if (again >= 200 && again < 300) report.replaysAccepted++;
          const forgery = await signPush("not-the-signing-key-at-all", {
            method: "POST",
            path: "/messages",
            body,
          });
          report.forged++;
          if (await post(body, forgery) !== 401) report.forgedAccepted++;
        }
      }
    }));
    log(`push soak: ${report.pushes} pushes answered; draining what they left`);
    // What a push did not run waits for the next tick or pull: drain it on the clean path.
    const drainer = new UpstashBroker({ redis: clean, namespace, logger: silent });
    await drainer.join(queue, { failFast: false, timeout: options.timeoutMs, leaseMs: 30_000 })
      .catch(() => log("push soak: the queue did not drain in time"));
    for (const id of sent) {
      const count = runs.get(id) ?? 0;
      if (count === 0) report.lost++;
      if (count > 1) report.ranTwice++;
    }
    return report;
  } finally {
    await server.shutdown();
    await deleteKeys(clean, `${namespace}:`);
  }
}
