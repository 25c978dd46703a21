// Loaded first (node --import ./instrument.js), as Sentry's Node SDK asks.
import process from "node:process";
import * as Sentry from "@sentry/node";

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  // Errors only: no tracing.
  tracesSampleRate: 0,
});
