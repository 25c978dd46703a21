/** Plain-text tables for the operations commands: left-aligned text, right-aligned numbers. */

/**
 * Lays out rows under a header, columns two spaces apart.
 *
 * @param header The column names.
 * @param rows The cells, as text; a column whose cells are all numbers aligns right.
 * @returns The lines.
 */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((name, i) => Math.max(name.length, ...rows.map((r) => r[i].length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^\d+$/.test(r[i])));
  const line = (cells: string[]) =>
    cells.map((cell, i) => numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))
      .join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A time as ISO 8601, or a dash. */
export function isoTime(ms: number | null | undefined): string {
  return typeof ms === "number" && Number.isFinite(ms) ? new Date(ms).toISOString() : "-";
}
