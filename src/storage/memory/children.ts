/**
 * The `children` capability of the in-memory provider: parking a parent
 * until a child ends, waking it when one does, and cancelling a workflow's
 * pending descendants with it.
 *
 * @module
 */
import type { AwaitChildren, TaskRow, WorkflowWithTasks } from "../provider.js"

/** {@link StorageProvider.awaitChildren} on a map of workflows (one synchronous step, hence atomic). */
export function awaitChildren(workflows: ReadonlyMap<string, WorkflowWithTasks>, park: AwaitChildren): number | null {
  const entry = workflows.get(park.workflowID)
  if (!entry || entry.workflow.status !== "pending" || entry.workflow.leaseToken !== park.token) return null
  if (park.tasks.some((c) => !entry.tasks[c.seq])) return null
  for (const change of park.tasks) {
    const task = entry.tasks[change.seq] as TaskRow
    Object.assign(task, { status: change.status, result: change.result, error: change.error, attempts: change.attempts, wakeAt: change.wakeAt ?? null })
    task.updatedAt = park.now
  }
  // Ended, or no longer stored (ended, then deleted): either way nothing will wake the parent later.
  const anyEnded = park.childIDs.some((id) => workflows.get(id)?.workflow.status !== "pending")
  const w = entry.workflow
  w.availableAt = anyEnded ? Math.min(park.now, park.availableAt) : park.availableAt
  w.leaseOwner = null
  w.leaseToken = null
  w.updatedAt = park.now
  w.recoveries = park.counts.recoveries
  w.crashes = park.counts.crashes
  return w.availableAt
}

/** Makes the parent of a workflow that has just ended claimable at `now`, if it is parked (pending, unleased, later). */
export function wakeParent(workflows: ReadonlyMap<string, WorkflowWithTasks>, ended: WorkflowWithTasks, now: number): void {
  const parentID = ended.workflow.parentID
  if (!parentID) return
  const parent = workflows.get(parentID)?.workflow
  if (parent && parent.status === "pending" && parent.leaseToken === null && parent.availableAt > now) parent.availableAt = now
}

/** The pending descendants of workflow `id` (children, their children, …). */
export function pendingDescendants(workflows: ReadonlyMap<string, WorkflowWithTasks>, id: string): WorkflowWithTasks[] {
  const found: WorkflowWithTasks[] = []
  const parents = new Set([id])
  let grew = true
  while (grew) {
    grew = false
    for (const entry of workflows.values()) {
      const w = entry.workflow
      if (w.status === "pending" && w.parentID && parents.has(w.parentID) && !parents.has(w.id)) {
        parents.add(w.id)
        found.push(entry)
        grew = true
      }
    }
  }
  return found
}
