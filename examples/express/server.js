// An existing Express app with skiff's endpoint mounted at /skiff and a route that sends.
import process from "node:process";
import { getRequestListener } from "@hono/node-server";
import { Redis } from "@upstash/redis";
import express from "express";
import { Hono } from "hono";
import { Push, setBroker, UpstashBroker } from "skiff";
import { workerApp } from "skiff/hono";
import { confirmOrder } from "./tasks.js";

/**
 * Reads a required environment variable; the error names it, never a value.
 * @param {string} name
 * @returns {string}
 */
function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`Cannot start: set the environment variable ${name}`);
  return value;
}

const signingKey = required("SKIFF_SIGNING_KEY");
const broker = new UpstashBroker({ redis: Redis.fromEnv({ enableTelemetry: false }) });
broker.addMiddleware(new Push({ url: required("SKIFF_PUSH_URL"), signingKey }));
setBroker(broker);

const app = express();

// skiff's endpoint (a Hono app), mounted before any body parser: it checks signatures over
// the raw body. A route (`app.all`), not `app.use`, so that the path keeps its /skiff prefix.
const skiff = new Hono().route("/skiff", workerApp({ signingKeys: [signingKey] }));
app.all("/skiff/*path", getRequestListener(skiff.fetch));

app.use(express.json());
app.post("/orders", async (req, res) => {
  const message = await confirmOrder.send(Number(req.body.orderId));
  res.status(202).json({ queued: message.id });
});

const port = Number(process.env.PORT ?? 3000);
app.listen(port, () => console.log(`listening on http://localhost:${port}`));
