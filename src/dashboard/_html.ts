/**
 * The dashboard's page: server-rendered HTML, inline CSS, no script. Every value that came
 * from Redis or a request is escaped. Private to skiff.
 *
 * @module
 */
import type { Message } from "../message.ts";
import { VERSION } from "../version.ts";
import type { DashboardView, QueueView } from "./_read.ts";
import { THROUGHPUT_CSS, throughputCell } from "./_throughput_cell.ts";

/** How arguments are shown: see `DashboardOptions.showArguments`. */
export type ShowArguments = boolean | ((args: readonly unknown[], message: Message) => unknown);

/** Escapes text for HTML content and quoted attributes. */
export function escape(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const time = (ms: number | null | undefined): string =>
  typeof ms === "number" && Number.isFinite(ms)
    ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")
    : "-";

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d232b;background:#fafbfc}
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1.6rem 0 .5rem}
h3{font-size:.95rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:.5rem}
th,td{border:1px solid #dde2e8;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,monospace}.muted{color:#6a7480}.bad{color:#b42318}
.note{padding:.5rem .8rem;background:#e8f3ea;border:1px solid #b7dcbf;margin:.8rem 0}
form{display:inline;margin:0 .2rem 0 0}button{font:inherit;padding:.1rem .5rem;cursor:pointer}
button.danger{color:#b42318}details summary{cursor:pointer}
`;

/**
 * Renders the page.
 *
 * @param view What was read.
 * @param options Where the page is (its actions are below it), how arguments are shown,
 *   and a note to show (what the last action did).
 * @returns The HTML document.
 */
export function renderPage(
  view: DashboardView,
  options: { base: string; showArguments: ShowArguments; note?: string },
): string {
  const { base } = options;
  const queueRows = view.queues.map((q) =>
    `<tr><td><a href="#q-${escape(q.name)}">${escape(q.name)}</a></td>` +
    `<td class="n">${q.stats.ready}</td><td class="n">${q.stats.delayed}</td>` +
    `<td class="n">${q.stats.leased}</td><td class="n${q.stats.dead ? " bad" : ""}">` +
    `${q.stats.dead}</td><td class="tp">${throughputCell(q.throughput)}</td></tr>`
  ).join("");
  const schedules = view.schedules.length === 0
    ? `<p class="muted">No schedule given to the dashboard.</p>`
    : `<table id="schedules"><tr><th>schedule</th><th>cron</th><th>zone</th><th>actor</th>` +
      `<th>queue</th><th>last slot</th><th>next slot</th></tr>${
        view.schedules.map((s) =>
          `<tr><td>${escape(s.name)}</td><td><code>${escape(s.cron)}</code></td>` +
          `<td>${escape(s.timezone)}</td><td>${escape(s.actor)}</td><td>${escape(s.queue)}</td>` +
          `<td>${s.last === undefined ? "unknown" : time(s.last)}</td><td>${time(s.next)}</td></tr>`
        ).join("")
      }</table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>skiff dashboard</title><style>${CSS}${THROUGHPUT_CSS}</style></head>
<body>
<h1>skiff dashboard</h1>
<p class="muted">skiff ${escape(VERSION)} · read at ${time(view.now)} · <a href="${
    escape(base)
  }/">refresh</a></p>
${options.note ? `<p class="note" id="note">${escape(options.note)}</p>` : ""}
<h2>Queues</h2>
<table id="queues"><tr><th>queue</th><th>ready</th><th>delayed</th><th>leased</th><th>dead</th>
<th>processed</th></tr>
${queueRows}</table>
${view.queues.map((q) => queueSection(q, view.now, options)).join("\n")}
<h2>Schedules</h2>
${schedules}
</body></html>
`;
}

function queueSection(
  q: QueueView,
  now: number,
  options: { base: string; showArguments: ShowArguments },
): string {
  const action = (path: string, fields: Record<string, string>, label: string, extra = "") =>
    `<form method="post" action="${escape(options.base)}/${path}">${
      Object.entries(fields).map(([k, v]) =>
        `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`
      ).join("")
    }${extra}<button${path === "purge" ? ' class="danger"' : ""}>${escape(label)}</button></form>`;
  const inFlight = q.inFlight === undefined
    ? `<p class="muted">This broker cannot list its leased messages.</p>`
    : q.inFlight.length === 0
    ? `<p class="muted">None.</p>`
    : `<table class="in-flight"><tr><th>id</th><th>actor</th><th>attempt</th><th>lease until</th>` +
      `<th>progress</th><th>arguments</th></tr>${
        q.inFlight.map((m) =>
          `<tr><td><code>${escape(m.id)}</code></td><td>${escape(m.message?.actor ?? "?")}</td>` +
          `<td class="n">${m.message ? m.message.retries + 1 : "?"}</td>` +
          `<td${m.leaseUntil < now ? ' class="bad"' : ""}>${time(m.leaseUntil)}${
            m.leaseUntil < now ? " (expired)" : ""
          }</td><td class="progress">${progress(m.progress)}</td><td>${
            args(m.message, options.showArguments)
          }</td></tr>`
        ).join("")
      }</table>`;
  const dead = q.dead.length === 0
    ? `<p class="muted">None.</p>`
    : `<table class="dead"><tr><th>id</th><th>actor</th><th>died</th><th>retries</th>` +
      `<th>reason</th><th>arguments</th><th></th></tr>${
        q.dead.map((d) =>
          `<tr data-id="${escape(d.id)}"><td><code>${escape(d.id)}</code></td>` +
          `<td>${escape(d.message?.actor ?? "?")}</td><td>${time(d.deadAt)}</td>` +
          `<td class="n">${d.message?.retries ?? "?"}</td>` +
          `<td class="reason">${reason(d.reason)}</td>` +
          `<td>${args(d.message, options.showArguments)}</td><td>${
            action("requeue", { queue: q.name, id: d.id }, "Requeue")
          }${action("purge", { queue: q.name, id: d.id }, "Purge")}</td></tr>`
        ).join("")
      }</table>${
        q.stats.dead > q.dead.length
          ? `<p class="muted">Showing ${q.dead.length} of ${q.stats.dead}.</p>`
          : ""
      }<p>${action("requeue", { queue: q.name, all: "1" }, `Requeue all ${q.stats.dead}`)}${
        action(
          "purge",
          { queue: q.name, all: "1" },
          `Purge all ${q.stats.dead}`,
          '<label><input type="checkbox" name="confirm" value="1" required> sure</label> ',
        )
      }</p>`;
  return `<section id="q-${escape(q.name)}"><h2>Queue ${escape(q.name)}</h2>
<h3>In flight (${q.stats.leased})</h3>${inFlight}
<h3>Dead letters (${q.stats.dead})</h3>${dead}</section>`;
}

function reason(text: string): string {
  const [first, ...rest] = text.split("\n");
  return rest.length === 0
    ? escape(first)
    : `<details><summary>${escape(first)}</summary><pre>${escape(rest.join("\n"))}</pre></details>`;
}

function args(message: Message | undefined, show: ShowArguments): string {
  if (!message) return `<span class="muted">unreadable</span>`;
  if (show === false) {
    return `<span class="muted">${message.args.length} hidden</span>`;
  }
  let value: unknown;
  try {
    value = show === true ? message.args : show(message.args, message);
  } catch {
    return `<span class="muted">hidden (showArguments failed)</span>`;
  }
  let json = JSON.stringify(value) ?? "undefined";
  if (json.length > 500) json = `${json.slice(0, 499)}…`;
  return `<code>${escape(json)}</code>`;
}

/** A progress report as the page shows it: a number as is, anything else as short JSON. */
function progress(value: unknown): string {
  if (value === undefined) return "";
  const text = typeof value === "number" ? String(value) : JSON.stringify(value);
  return escape(text.length > 80 ? `${text.slice(0, 79)}…` : text);
}
