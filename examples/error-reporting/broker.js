// The worker's broker: Redis from the environment, with the Sentry middleware.
import { Redis } from "@upstash/redis";
import { setBroker, UpstashBroker } from "skiff";
import { SentryMiddleware } from "./sentry_middleware.js";

const broker = new UpstashBroker({ redis: Redis.fromEnv({ enableTelemetry: false }) });
broker.addMiddleware(new SentryMiddleware());
setBroker(broker);
