/**
 * The dashboard's throughput cell: messages processed (acked or dead) per minute over the
 * last minutes, as a number and a sparkline of plain HTML and inline CSS. Private to skiff.
 *
 * @module
 */
import type { ThroughputMinute } from "../broker.ts";

/** The CSS of the cell, added to the page's. */
export const THROUGHPUT_CSS = `
.spark{display:inline-flex;align-items:flex-end;gap:1px;height:1.1em;margin-right:.5rem;
vertical-align:middle}.spark i{display:block;width:4px;min-height:1px;background:#5b7fb0}
.spark i.bad{background:#b42318}td.tp{white-space:nowrap}
`;

/**
 * Renders a queue's throughput: its rate per minute over the window, a bar per minute (red
 * when some died), each with a tooltip of its counts; a hint to switch counting on when
 * the broker does not count.
 *
 * @param minutes The counts, oldest first, or `undefined` when the broker does not count.
 * @returns The content of the cell.
 */
export function throughputCell(minutes: readonly ThroughputMinute[] | undefined): string {
  if (minutes === undefined) {
    return `<span class="muted">enable metrics to see throughput (broker option ` +
      `<code>throughput: true</code>)</span>`;
  }
  const processed = (m: ThroughputMinute) => m.acked + m.dead;
  const total = minutes.reduce((sum, m) => sum + processed(m), 0);
  const highest = Math.max(1, ...minutes.map(processed));
  const bars = minutes.map((m) => {
    const height = Math.round((processed(m) / highest) * 100);
    const at = new Date(m.at).toISOString().slice(11, 16);
    const title = `${at}Z: ${m.acked} acked, ${m.dead} dead, ${m.retried} retried`;
    return `<i${m.dead > 0 ? ' class="bad"' : ""} style="height:${height}%" title="${title}"></i>`;
  }).join("");
  return `<span class="spark">${bars}</span><span class="rate">${
    perMinute(total / minutes.length)
  }/min</span> <span class="muted">(${total} in ${minutes.length} min)</span>`;
}

/** A rate as the page shows it: whole above 10, else one decimal (no trailing ".0"). */
function perMinute(rate: number): string {
  return rate >= 10 ? String(Math.round(rate)) : String(Math.round(rate * 10) / 10);
}
