/**
 * A workflow's page: its facts, its tasks (state, attempts, error, times,
 * payloads cut short with a link to the whole), the timeline of their
 * attempts (pages/timeline.ts), and the cancel and retry
 * buttons, which lead to a confirm step; and that confirm step, and the
 * whole-payload view.
 *
 * @module
 */
import type { TaskInfo, WorkflowInfo } from "../../info.js"
import { html, timeText, type SafeHTML } from "../html.js"
import { href, statusBadge, workflowPath, type Page, type PageContext } from "../page.js"
import { timelineSection } from "./timeline.js"

/** Characters of a payload shown inline; the rest is a link away. */
export const PAYLOAD_PREVIEW_CHARS = 300

/** The actions a workflow page offers. */
export type WorkflowAction = "cancel" | "retry"

/** Whether an action applies to a workflow in its current status. */
export function actionApplies(action: WorkflowAction, workflow: WorkflowInfo): boolean {
  return action === "cancel" ? workflow.status === "pending" : workflow.status === "failed"
}

/** Renders a workflow's page, or a 404 page. */
export async function workflowPage(context: PageContext, id: string): Promise<Page> {
  const workflow = await context.client.getWorkflow(id)
  if (!workflow) return notFound(context, id)
  const done = context.query.get("done")
  const body = html`<h1>Workflow <span class="id">${workflow.id}</span></h1>
${done === "cancel" ? html`<p class="notice">Cancelled.</p>` : done === "retry" ? html`<p class="notice">Retried: it runs again from the task that failed.</p>` : ""}
${done === "stale" ? html`<p class="problem">Nothing was changed: the workflow's status changed meanwhile.</p>` : ""}
<dl class="facts">
<dt>Status</dt><dd id="workflow-status">${statusBadge(workflow.status, workflow.state)}</dd>
<dt>Created</dt><dd>${timeText(workflow.createdAt)}</dd>
<dt>Updated</dt><dd>${timeText(workflow.updatedAt)}</dd>
${workflow.lease ? html`<dt>Running on</dt><dd>${workflow.lease.owner} (lease until ${timeText(workflow.lease.expiresAt)})</dd>` : ""}
${workflow.nextRunAt ? html`<dt>Next run</dt><dd>${timeText(workflow.nextRunAt)}</dd>` : ""}
${workflow.recoveries > 0 ? html`<dt>Recoveries</dt><dd>${workflow.recoveries}</dd>` : ""}
${workflow.crashes > 0 ? html`<dt>Crashes</dt><dd>${workflow.crashes}</dd>` : ""}
</dl>
${context.readOnly ? "" : actionButtons(context, workflow)}
<h2>Tasks</h2>
<table id="tasks"><thead><tr><th>#</th><th>Name</th><th>Runner or kind</th><th>Status</th><th>Attempts</th><th>Error</th><th>Data</th><th>Result</th><th>Started</th><th>Ended</th><th>Updated</th></tr></thead><tbody>
${workflow.tasks.map((task) => taskRow(context, workflow.id, task))}
</tbody></table>
${timelineSection(workflow)}`
  return { title: `Workflow ${workflow.id}`, body, refresh: workflow.status === "pending" }
}

/** The confirm step before an action: a form that POSTs with the CSRF token. */
export async function confirmPage(context: PageContext, id: string, action: WorkflowAction): Promise<Page> {
  const workflow = await context.client.getWorkflow(id)
  if (!workflow) return notFound(context, id)
  const back = href(context, workflowPath(id))
  if (!actionApplies(action, workflow)) {
    return {
      status: 409,
      title: `${action} ${id}`,
      body: html`<p class="problem">Only a ${action === "cancel" ? "pending" : "failed"} workflow can be ${action === "cancel" ? "cancelled" : "retried"}; this one is ${workflow.status}.</p><p><a href="${back}">back</a></p>`,
      refresh: false,
    }
  }
  const what = action === "cancel" ? "Cancel this workflow? Its running task is told to stop, and no further task starts." : "Retry this workflow? It runs again from the task that failed."
  const body = html`<h1>${action === "cancel" ? "Cancel" : "Retry"} <span class="id">${id}</span></h1>
<p>${what}</p>
<form method="post" action="${href(context, workflowPath(id, `/${action}`))}">
<input type="hidden" name="csrf" value="${context.csrfToken}">
<button class="${action === "cancel" ? "danger" : "primary"}" id="confirm">Yes, ${action}</button> <a href="${back}">no, go back</a>
</form>`
  return { title: `${action} ${id}`, body, refresh: false }
}

/** A task's data or result in full, as JSON text, or `undefined` if there is no such task. */
export async function payloadText(context: PageContext, id: string, seq: number, which: "data" | "result"): Promise<string | undefined> {
  const workflow = await context.client.getWorkflow(id)
  const task = workflow?.tasks.find((t) => t.seq === seq)
  if (!task) return undefined
  return jsonText(task[which])
}

function actionButtons(context: PageContext, workflow: WorkflowInfo): SafeHTML {
  const buttons = (["retry", "cancel"] as const).filter((a) => actionApplies(a, workflow))
  if (buttons.length === 0) return html``
  return html`<div class="actions">${buttons.map(
    (a) => html`<a id="${a}-link" href="${href(context, workflowPath(workflow.id, `/${a}`))}"><button class="${a === "cancel" ? "danger" : "primary"}" tabindex="-1">${a === "cancel" ? "Cancel…" : "Retry…"}</button></a>`,
  )}</div>`
}

function taskRow(context: PageContext, id: string, task: TaskInfo): SafeHTML {
  return html`<tr data-seq="${task.seq}"><td>${task.seq}</td><td>${task.name}</td><td>${runnerOrKind(task)}</td><td>${statusBadge(task.status)}${stateLine(task)}</td><td>${task.attempts}</td>
<td>${task.error === null ? html`<span class="muted">–</span>` : html`<pre class="error">${task.error}</pre>`}</td>
<td>${payloadCell(context, id, task, "data")}</td><td>${payloadCell(context, id, task, "result")}</td>
<td class="started">${timeText(task.startedAt)}</td><td class="ended">${timeText(task.endedAt)}</td><td>${timeText(task.updatedAt)}</td></tr>`
}

/** A task's runner; another step's kind (sleep, waitForEvent, workflow, parallel). */
function runnerOrKind(task: TaskInfo): SafeHTML {
  return task.kind === "task" ? html`${task.task}` : html`<span class="kind">${task.kind}</span>`
}

/** What a step waits for (sleeping until, waiting for an event or a child), when that says more than its status. */
function stateLine(task: TaskInfo): SafeHTML {
  return task.state === task.status ? html`` : html`<div class="state muted">${task.state}</div>`
}

function payloadCell(context: PageContext, id: string, task: TaskInfo, which: "data" | "result"): SafeHTML {
  const value = task[which]
  if (value === undefined || value === null) return html`<span class="muted">–</span>`
  const text = jsonText(value)
  if (text.length <= PAYLOAD_PREVIEW_CHARS) return html`<pre>${text}</pre>`
  return html`<pre>${text.slice(0, PAYLOAD_PREVIEW_CHARS)}…</pre><a href="${href(context, workflowPath(id, `/tasks/${task.seq}/${which}`))}">whole ${which} (${text.length} characters)</a>`
}

function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "undefined"
}

function notFound(context: PageContext, id: string): Page {
  return {
    status: 404,
    title: "Not found",
    body: html`<h1>No workflow <span class="id">${id}</span></h1><p>It may have been purged. <a href="${href(context, "/workflows")}">All workflows</a></p>`,
    refresh: false,
  }
}
