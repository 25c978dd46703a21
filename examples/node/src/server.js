// The web server: a Hono app on Node with skiff's endpoint mounted under /skiff.
import process from "node:process";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { workerApp } from "skiff/hono";
import { required } from "./broker.js";
import { buildReport } from "./reports/tasks.js";
import { sendWelcome } from "./signup/tasks.js";

const app = new Hono();

app.post("/api/signup", async (c) => {
  /** @type {{ userId: number }} */
  const { userId } = await c.req.json();
  const message = await sendWelcome.send(userId);
  return c.json({ queued: message.id }, 202);
});

app.post("/api/reports", async (c) => {
  /** @type {{ month: string }} */
  const { month } = await c.req.json();
  const message = await buildReport.send(month);
  return c.json({ queued: message.id }, 202);
});

app.route(
  "/skiff",
  workerApp({ signingKeys: [required("SKIFF_SIGNING_KEY")], tick: { queues: ["signup"] } }),
);

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) }, (info) => {
  console.log(`listening on http://localhost:${info.port}`);
});
