/**
 * `applyWorkflowWrites` on SQLite: the fenced writes of a workflow's state,
 * one small statement per kind of write, and the task change each carries.
 * Only a pending workflow leased under the writer's token changes.
 *
 * @module
 */
import type Database from "better-sqlite3"
import type { WorkflowWrite } from "../provider.js"
import type { SQLiteChildren } from "./children.js"
import type { SQLiteEventStore } from "./events.js"

function prepare(db: Database.Database, p: string) {
  return {
    // Each stores the crash-loop counters it is given.
    touchWorkflow: db.prepare(
      `UPDATE ${p}workflows SET updated_at = ?, recoveries = ?, crashes = ? WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
    endWorkflow: db
      .prepare(
        `UPDATE ${p}workflows SET updated_at = ?, status = ?, lease_owner = NULL, lease_token = NULL, recoveries = ?, crashes = ?
         WHERE id = ? AND lease_token = ? AND status = 'pending' RETURNING parent_id`,
      )
      .pluck(),
    releaseWorkflowUntil: db.prepare(
      `UPDATE ${p}workflows SET updated_at = ?, available_at = ?, lease_owner = NULL, lease_token = NULL, recoveries = ?, crashes = ?
       WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
    updateTask: db.prepare(
      // The attempt columns (attempt-history) are kept when a change carries none (a step that is not an attempt).
      `UPDATE ${p}tasks SET status = ?, result = ?, error = ?, attempts = ?, updated_at = ?, wake_at = ?,
         started_at = COALESCE(?, started_at), ended_at = COALESCE(?, ended_at), runner_id = COALESCE(?, runner_id),
         attempt_history = COALESCE(?, attempt_history)
       WHERE workflow_id = ? AND seq = ?`,
    ),
  }
}

/** The statements of the fenced writes, prepared once; `apply` runs inside the provider's write transaction. */
export class SQLiteUpdates {
  private readonly s: ReturnType<typeof prepare>

  constructor(
    db: Database.Database,
    p: string,
    private readonly children: Pick<SQLiteChildren, "wakeParent">,
    private readonly events: Pick<SQLiteEventStore, "storeTaken">,
  ) {
    this.s = prepare(db, p)
  }

  /** Applies each write in order; returns, per input, whether it applied (`false`: fenced off). */
  apply(writes: WorkflowWrite[]): boolean[] {
    const s = this.s
    const applied: boolean[] = []
    for (const u of writes) {
      // One small statement per kind of write: cheaper to bind and run than one statement with CASEs for all.
      const { recoveries, crashes } = u.counts
      let ok: boolean
      switch (u.kind) {
        case "recordTask":
        case "markCrash":
          ok = s.touchWorkflow.run(u.now, recoveries, crashes, u.workflowID, u.token).changes === 1
          break
        case "parkUntil":
          ok = s.releaseWorkflowUntil.run(u.now, u.availableAt, recoveries, crashes, u.workflowID, u.token).changes === 1
          break
        case "endWorkflow": {
          // The ended workflow's parent link comes back with the update: a child's end wakes its parent in this transaction.
          const parentID = s.endWorkflow.get(u.now, u.status, recoveries, crashes, u.workflowID, u.token) as string | null | undefined
          ok = parentID !== undefined
          if (parentID) this.children.wakeParent(parentID, u.now)
          break
        }
      }
      const t = u.kind === "markCrash" ? undefined : u.task
      if (ok && t) {
        const startedAt = t.startedAt ?? null
        s.updateTask.run(t.status, t.result, t.error, t.attempts, u.now, t.wakeAt ?? null, startedAt, startedAt === null ? null : u.now, t.runnerID ?? null, t.history ?? null, u.workflowID, t.seq)
        if (t.eventSeq !== undefined) this.events.storeTaken(u.workflowID, t.seq, t.eventSeq)
      }
      applied.push(ok)
    }
    return applied
  }
}
