/**
 * The Prometheus text exposition format (version 0.0.4): metric families with `# HELP` and
 * `# TYPE`, then one sample per line. Private to skiff.
 *
 * @module
 */

/** One sample: its labels and value; `suffix` for a histogram's `_bucket`, `_sum`, `_count`. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
  suffix?: string;
}

/** A metric family. */
export interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples: Sample[];
}

/** Escapes a label value: backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * Renders families as exposition text.
 *
 * @param families The families, in order.
 * @returns The text, ending with a line feed.
 */
export function exposition(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels)
        .map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(",");
      lines.push(
        `${family.name}${sample.suffix ?? ""}${labels ? `{${labels}}` : ""} ${
          formatValue(sample.value)
        }`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
