/**
 * `skiff/otel`: OpenTelemetry spans for every message sent and processed, through
 * `@opentelemetry/api` (an optional peer dependency: install it and an SDK).
 *
 * ```ts ignore
 * // Deno
 * import { OpenTelemetry } from "@skiff/skiff/otel";
 * // Node and Bun
 * import { OpenTelemetry } from "skiff/otel";
 * ```
 *
 * @module
 */
export { OpenTelemetry, type OpenTelemetryOptions } from "./open_telemetry.ts";
