/**
 * The overview: counts by status, the oldest pending workflow, what ended in
 * the last hour (per minute, and in all), and the latest failures.
 *
 * @module
 */
import { ENDED_STATUSES } from "../../inspection.js"
import { WORKFLOW_STATUSES } from "../../storage/provider.js"
import { ageText, html, timeText, type SafeHTML } from "../html.js"
import { href, statusBadge, workflowPath, type Page, type PageContext } from "../page.js"
import { throughputChart } from "./throughput-chart.js"

const HOUR = 3_600_000

/** Renders the overview. */
export async function overviewPage(context: PageContext): Promise<Page> {
  const stats = await context.client.getWorkflowStats({ windowMS: HOUR })
  const failures = await context.client.listWorkflows({ status: "failed", order: "newest", limit: 10 })
  // A provider may declare inspection without the per-interval read (it came later): then the totals stand alone.
  const series = typeof context.client.storage.countEndsByInterval === "function" ? await context.client.getWorkflowThroughput({ windowMS: HOUR }) : undefined
  const oldest = stats.oldestPending
  const body = html`<h1>Overview</h1>
<div class="cards">
${WORKFLOW_STATUSES.map(
  (status) => html`<a class="card" href="${href(context, "/workflows", { status })}"><div class="n status-${status}" data-count="${status}">${stats.counts[status]}</div><div class="label">${status}</div></a>`,
)}
<div class="card"><div class="n status-failed" data-count="failed-last-hour">${stats.endedInWindow.failed}</div><div class="label">failed in the last hour</div></div>
</div>
<h2>Oldest pending</h2>
<p>${
    oldest
      ? html`<a href="${href(context, workflowPath(oldest.id))}">${oldest.id}</a>, created ${timeText(oldest.createdAt)} (${ageText(oldest.createdAt, context.now)} ago)`
      : html`<span class="muted">none pending</span>`
  }</p>
<h2>Ended in the last hour</h2>
${series ? html`<h3>Per minute</h3>${throughputChart(series)}<h3>In all</h3>` : ""}
${barChart(ENDED_STATUSES.map((status) => ({ label: status, value: stats.endedInWindow[status] })))}
<h2>All workflows by status</h2>
${barChart(WORKFLOW_STATUSES.map((status) => ({ label: status, value: stats.counts[status] })))}
<h2>Latest failures</h2>
${
    failures.length === 0
      ? html`<p class="muted">no failed workflows</p>`
      : html`<table><thead><tr><th>ID</th><th>Status</th><th>Failed at</th></tr></thead><tbody>
${failures.map((w) => html`<tr><td class="id"><a href="${href(context, workflowPath(w.id))}">${w.id}</a></td><td>${statusBadge(w.status)}</td><td>${timeText(w.updatedAt)}</td></tr>`)}
</tbody></table>`
  }`
  return { title: "Overview", body, refresh: true }
}

/**
 * Horizontal bars as SVG attributes: the Content-Security-Policy forbids
 * inline styles, and SVG geometry is markup, not style.
 */
function barChart(bars: Array<{ label: string; value: number }>): SafeHTML {
  const max = Math.max(1, ...bars.map((b) => b.value))
  const width = 420
  const row = 26
  return html`<svg class="chart" role="img" aria-label="${bars.map((b) => `${b.label} ${b.value}`).join(", ")}" width="${width + 160}" height="${bars.length * row + 4}" viewBox="0 0 ${width + 160} ${bars.length * row + 4}">
${bars.map(
  (bar, i) => html`<text x="0" y="${i * row + 17}">${bar.label}</text><rect class="bar-${bar.label}" x="90" y="${i * row + 4}" height="18" width="${Math.round((bar.value / max) * width)}"></rect><text x="${96 + Math.round((bar.value / max) * width)}" y="${i * row + 17}">${bar.value}</text>`,
)}
</svg>`
}
