/**
 * The writes a client makes on SQLite outside any lease: cancelling a
 * pending workflow (and, with `children`, its pending descendants), retrying
 * a failed one, and deleting ended ones (retention).
 *
 * @module
 */
import type Database from "better-sqlite3"
import type { RetryRequest } from "../provider.js"
import type { SQLiteChildren } from "./children.js"

function prepare(db: Database.Database, p: string) {
  return {
    cancelWorkflow: db.prepare(
      `UPDATE ${p}workflows SET status = 'cancelled', lease_owner = NULL, lease_token = NULL, updated_at = ?
       WHERE id = ? AND status = 'pending'`,
    ),
    retryWorkflow: db.prepare(
      `UPDATE ${p}workflows SET status = 'pending', lease_owner = NULL, lease_token = NULL, available_at = ?, updated_at = ?,
         recoveries = ?, crashes = ?
       WHERE id = ? AND status = 'failed'`,
    ),
    resumeFailedTask: db.prepare(
      `UPDATE ${p}tasks SET status = 'pending', attempts = 0, updated_at = ? WHERE workflow_id = ? AND seq = ? AND status = 'failed'`,
    ),
    deleteEndedTasks: db.prepare(
      `DELETE FROM ${p}tasks WHERE workflow_id IN
         (SELECT id FROM ${p}workflows INDEXED BY ${p}workflows_ended WHERE status <> 'pending' AND updated_at < ?)`,
    ),
    deleteEndedWorkflows: db.prepare(
      `DELETE FROM ${p}workflows INDEXED BY ${p}workflows_ended WHERE status <> 'pending' AND updated_at < ?`,
    ),
  }
}

/** The statements of cancel, retry and retention, prepared once; each method runs inside the provider's write transaction. */
export class SQLiteClientWrites {
  private readonly s: ReturnType<typeof prepare>

  constructor(
    db: Database.Database,
    p: string,
    private readonly children: Pick<SQLiteChildren, "cancelled">,
  ) {
    this.s = prepare(db, p)
  }

  /** {@link StorageProvider.cancelWorkflow}. */
  cancel(id: string, now: number): boolean {
    if (this.s.cancelWorkflow.run(now, id).changes !== 1) return false
    this.children.cancelled(id, now)
    return true
  }

  /** {@link StorageProvider.retryWorkflow}. */
  retry({ id, now, resumeSeq, counts }: RetryRequest): boolean {
    if (this.s.retryWorkflow.run(now, now, counts.recoveries, counts.crashes, id).changes !== 1) return false
    this.s.resumeFailedTask.run(now, id, resumeSeq)
    return true
  }

  /** {@link StorageProvider.deleteEndedWorkflows}. */
  deleteEnded(endedBefore: number): number {
    this.s.deleteEndedTasks.run(endedBefore)
    return this.s.deleteEndedWorkflows.run(endedBefore).changes
  }
}
