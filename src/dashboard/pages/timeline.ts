/**
 * The workflow page's timeline: each task's attempts placed on one time axis
 * (from the workflow's creation to its last change) as SVG bars, since the
 * Content-Security-Policy forbids inline styles; and a list of every attempt
 * with its start, end, outcome, error and runnerID.
 *
 * @module
 */
import type { AttemptInfo, TaskInfo, WorkflowInfo } from "../../info.js"
import { html, type SafeHTML } from "../html.js"
import { statusBadge } from "../page.js"

const WIDTH = 720

/** A time to the millisecond (attempts can be milliseconds apart): `2024-05-01 12:00:00.123Z`, or a dash. */
function msText(value: Date | null): string {
  return value ? value.toISOString().replace("T", " ") : "–"
}
const ROW = 22
const LABEL = 160

/** The timeline section of a workflow's page. */
export function timelineSection(workflow: WorkflowInfo): SafeHTML {
  const tasks = workflow.tasks.filter((t) => t.kind === "task")
  const attempts = tasks.reduce((n, t) => n + t.attemptHistory.length, 0)
  if (attempts === 0) return html`<h2>Timeline</h2><p class="muted" id="timeline-empty">No attempt has ended yet.</p>`
  return html`<h2>Timeline</h2>
${timelineChart(workflow, tasks)}
<table id="attempts"><thead><tr><th>Task</th><th>Attempt</th><th>Outcome</th><th>Started</th><th>Ended</th><th>Took</th><th>Runner</th><th>Error</th></tr></thead><tbody>
${tasks.flatMap((task) => task.attemptHistory.map((attempt, i) => attemptRow(task, attempt, i)))}
</tbody></table>`
}

function attemptRow(task: TaskInfo, a: AttemptInfo, i: number): SafeHTML {
  const took = a.startedAt && a.endedAt ? `${a.endedAt.getTime() - a.startedAt.getTime()} ms` : "–"
  return html`<tr class="attempt" data-seq="${task.seq}" data-outcome="${a.outcome}"><td>#${task.seq} ${task.name}</td><td>${i + 1}</td>
<td>${statusBadge(a.outcome)}</td>
<td>${a.startedAt ? msText(a.startedAt) : html`<span class="muted">unknown</span>`}</td><td>${msText(a.endedAt)}</td><td>${took}</td>
<td>${a.runnerID ?? html`<span class="muted">unknown</span>`}</td>
<td>${a.error === null ? html`<span class="muted">–</span>` : html`<pre class="error">${a.error}</pre>`}</td></tr>`
}

/** One row per task, one bar per attempt with a known start (an interrupted one is a tick at the time it was found). */
function timelineChart(workflow: WorkflowInfo, tasks: readonly TaskInfo[]): SafeHTML {
  const from = workflow.createdAt.getTime()
  const ends = tasks.flatMap((t) => t.attemptHistory.map((a) => a.endedAt?.getTime() ?? from))
  const to = Math.max(from + 1, workflow.updatedAt.getTime(), ...ends)
  const x = (time: number) => LABEL + ((time - from) / (to - from)) * (WIDTH - LABEL - 4)
  const height = tasks.length * ROW + 18
  return html`<svg class="chart timeline" role="img" aria-label="attempts of each task over time" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">
${tasks.map((task, row) => {
  const y = row * ROW
  return html`<g><text x="0" y="${y + 15}">#${task.seq} ${task.name.slice(0, 22)}</text>
${task.attemptHistory.map((a, i) => {
  const end = a.endedAt?.getTime() ?? to
  const start = a.startedAt?.getTime() ?? end
  const left = x(start)
  const title = `attempt ${i + 1}: ${a.outcome}, ${a.startedAt ? msText(a.startedAt) : "start unknown"} to ${msText(a.endedAt)}${a.runnerID ? ` on ${a.runnerID}` : ""}${a.error ? `: ${a.error}` : ""}`
  return html`<rect class="bar-${a.outcome === "completed" ? "completed" : a.outcome === "failed" ? "failed" : "cancelled"}" x="${left.toFixed(1)}" y="${y + 4}" width="${Math.max(2, x(end) - left).toFixed(1)}" height="${ROW - 8}"><title>${title}</title></rect>`
})}</g>`
})}
<text x="${LABEL}" y="${height - 4}">${msText(workflow.createdAt).slice(11)}</text>
<text x="${WIDTH - 100}" y="${height - 4}">${msText(new Date(to)).slice(11)}</text>
</svg>`
}
