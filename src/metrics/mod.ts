/**
 * `skiff/metrics`: Prometheus metrics of a long-running worker (`skiff worker
 * --metrics-port`), or of any process that sends or processes messages.
 *
 * ```ts ignore
 * // Deno
 * import { metrics } from "@skiff/skiff/metrics";
 * // Node and Bun
 * import { metrics } from "skiff/metrics";
 * ```
 *
 * @module
 */
export { DURATION_BUCKETS, Metrics, metrics, type MetricsOptions } from "./metrics.ts";
