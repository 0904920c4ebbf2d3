/**
 * The `inspection` reads of the memory provider: the list filters, stats and
 * the selection of ended workflows, over the provider's map of workflows.
 *
 * @module
 */
import type { EndedStatus, EndedWorkflowsSelector, StatsRequest, WorkflowFilter, WorkflowRow, WorkflowStats, WorkflowWithTasks } from "../provider.js"

/** The workflows `filter` selects, in its order, at most `filter.limit` (copies). */
export function listFiltered(entries: Iterable<WorkflowWithTasks>, filter: WorkflowFilter): WorkflowRow[] {
  const newest = filter.order === "newest"
  const cursor = filter.cursor
  const matches: WorkflowRow[] = []
  for (const { workflow: w, tasks } of entries) {
    if (filter.status !== undefined && w.status !== filter.status) continue
    if (!newest && filter.afterID !== undefined && !(w.id > filter.afterID)) continue
    if (newest && cursor !== undefined && compareNewest(w, cursor) <= 0) continue
    if (filter.createdAfter !== undefined && w.createdAt < filter.createdAfter) continue
    if (filter.createdBefore !== undefined && w.createdAt >= filter.createdBefore) continue
    if (filter.idPrefix !== undefined && !w.id.startsWith(filter.idPrefix)) continue
    if (filter.runner !== undefined && !tasks.some((t) => t.task === filter.runner)) continue
    matches.push(w)
  }
  matches.sort(newest ? compareNewest : (a, b) => compareIDs(a.id, b.id))
  return matches.slice(0, Math.max(0, filter.limit)).map((w) => ({ ...w }))
}

/** Counts of every status, the oldest pending workflow, and the ends since `request.endedSince`. */
export function statsOf(entries: Iterable<WorkflowWithTasks>, request: StatsRequest): WorkflowStats {
  const stats: WorkflowStats = {
    counts: { pending: 0, completed: 0, failed: 0, cancelled: 0 },
    oldestPending: null,
    endedSince: { completed: 0, failed: 0, cancelled: 0 },
  }
  for (const { workflow: w } of entries) {
    stats.counts[w.status]++
    if (w.status === "pending") {
      const oldest = stats.oldestPending
      if (oldest === null || w.createdAt < oldest.createdAt || (w.createdAt === oldest.createdAt && compareIDs(w.id, oldest.id) < 0)) {
        stats.oldestPending = { id: w.id, createdAt: w.createdAt }
      }
    } else if (w.updatedAt >= request.endedSince) {
      stats.endedSince[w.status]++
    }
  }
  return stats
}

/** Whether `row` is an ended workflow `selector` selects. */
export function isSelectedEnded(row: WorkflowRow, selector: EndedWorkflowsSelector): boolean {
  return row.status !== "pending" && selector.statuses.includes(row.status as EndedStatus) && row.updatedAt < selector.endedBefore
}

/** Newest first: later `createdAt` first, equal times by ID descending. */
function compareNewest(a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number {
  return b.createdAt - a.createdAt || compareIDs(b.id, a.id)
}

/** JavaScript string order, as the memory provider's ID-ordered listing has always used. */
function compareIDs(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
