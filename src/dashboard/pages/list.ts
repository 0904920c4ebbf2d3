/**
 * The workflow list: the CLI's filters (status, runner, created after/before,
 * ID prefix), newest first, a page at a time by keyset (the last row's
 * creation time and ID, carried in the "next" link).
 *
 * @module
 */
import { parseTime } from "../../durations.js"
import type { ListWorkflowsFilter } from "../../inspection.js"
import { WORKFLOW_STATUSES, type WorkflowStatus } from "../../storage/provider.js"
import { html, timeText } from "../html.js"
import { href, statusBadge, workflowPath, type Page, type PageContext } from "../page.js"

/** Rows per page. */
export const PAGE_SIZE = 25

/** The query parameters the list understands, which its filter form and links carry. */
const FILTER_KEYS = ["status", "runner", "idPrefix", "createdAfter", "createdBefore"] as const

/** Renders the list. */
export async function listPage(context: PageContext): Promise<Page> {
  const q = context.query
  const given = Object.fromEntries(FILTER_KEYS.map((k) => [k, q.get(k)?.trim() || undefined])) as Record<(typeof FILTER_KEYS)[number], string | undefined>
  let filter: ListWorkflowsFilter
  try {
    filter = toFilter(given, q, context.now)
  } catch (error) {
    return { status: 400, title: "Workflows", body: html`${filterForm(context, given)}<p class="problem">${(error as Error).message}</p>`, refresh: false }
  }
  const page = await context.client.listWorkflows(filter)
  const last = page.at(-1)
  const next = last && page.length === PAGE_SIZE ? href(context, "/workflows", { ...given, after: last.id, afterCreated: String(last.createdAt.getTime()) }) : undefined
  const paged = q.has("after")
  const body = html`<h1>Workflows</h1>
${filterForm(context, given)}
${
    page.length === 0
      ? html`<p class="muted">no workflows${paged ? " after this point" : " match"}</p>`
      : html`<table id="workflows"><thead><tr><th>ID</th><th>Status</th><th>Tasks</th><th>Created</th><th>Updated</th></tr></thead><tbody>
${page.map(
  (w) =>
    html`<tr><td class="id"><a href="${href(context, workflowPath(w.id))}">${w.id}</a></td><td>${statusBadge(w.status, w.state)}</td><td>${w.taskCount}</td><td>${timeText(w.createdAt)}</td><td>${timeText(w.updatedAt)}</td></tr>`,
)}
</tbody></table>`
  }
<div class="pager">${paged ? html`<a href="${href(context, "/workflows", given)}">« newest</a>` : ""}${next ? html`<a rel="next" href="${next}">older »</a>` : ""}</div>`
  // Only the first page refreshes: a later page would shift under the reader as new workflows arrive.
  return { title: "Workflows", body, refresh: !paged }
}

function toFilter(given: Record<(typeof FILTER_KEYS)[number], string | undefined>, q: URLSearchParams, now: number): ListWorkflowsFilter {
  const filter: ListWorkflowsFilter = { order: "newest", limit: PAGE_SIZE }
  if (given.status !== undefined) {
    if (!(WORKFLOW_STATUSES as readonly string[]).includes(given.status)) throw new Error(`status must be one of ${WORKFLOW_STATUSES.join(", ")}`)
    filter.status = given.status as WorkflowStatus
  }
  if (given.runner !== undefined) filter.runner = given.runner
  if (given.idPrefix !== undefined) filter.idPrefix = given.idPrefix
  if (given.createdAfter !== undefined) filter.createdAfter = parseTime(given.createdAfter, "created after", now)
  if (given.createdBefore !== undefined) filter.createdBefore = parseTime(given.createdBefore, "created before", now)
  const after = q.get("after")
  const afterCreated = Number(q.get("afterCreated"))
  if (after !== null && after !== "") {
    if (!Number.isFinite(afterCreated)) throw new Error("the page link is damaged (afterCreated): start again from the newest")
    filter.cursor = { id: after, createdAt: afterCreated }
  }
  return filter
}

function filterForm(context: PageContext, given: Record<(typeof FILTER_KEYS)[number], string | undefined>) {
  return html`<form class="filters" method="get" action="${href(context, "/workflows")}">
<label>Status<select name="status"><option value="">any</option>${WORKFLOW_STATUSES.map(
    (s) => html`<option value="${s}"${given.status === s ? html` selected` : ""}>${s}</option>`,
  )}</select></label>
<label>Runner<input name="runner" value="${given.runner ?? ""}" placeholder="task runner name"></label>
<label>ID prefix<input name="idPrefix" value="${given.idPrefix ?? ""}"></label>
<label>Created after<input name="createdAfter" value="${given.createdAfter ?? ""}" placeholder="2024-05-01 or 2h"></label>
<label>Created before<input name="createdBefore" value="${given.createdBefore ?? ""}" placeholder="2024-05-01 or 2h"></label>
<button class="primary">Filter</button> <a href="${href(context, "/workflows")}">clear</a>
</form>`
}
