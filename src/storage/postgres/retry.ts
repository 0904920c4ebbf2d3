/**
 * `retryWorkflow` on Postgres.
 *
 * @module
 */
import type { RetryRequest } from "../provider.js"
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import { notifyColumn } from "./notifier.js"

/**
 * Resumes a failed workflow: pending, unleased, claimable at `now`, with the
 * given counters, and its task `resumeSeq` pending again with attempts 0
 * (error kept) if it failed. One statement; the task changes only if the
 * workflow did. Wakes listeners.
 */
export async function retryWorkflow(db: PostgresConnection, n: PostgresNames, notify: boolean, retry: RetryRequest): Promise<boolean> {
  const { id, now, resumeSeq, counts } = retry
  if (id.includes("\u0000")) return false
  const rows = await db.statement<{ id: string }>(
    `WITH resumed AS (
       UPDATE ${n.workflows} SET status = 'pending', lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, available_at = $2, updated_at = $2,
         recoveries = $4, crashes = $5
       WHERE id = $1 AND status = 'failed'
       RETURNING id
     ), resumed_task AS (
       UPDATE ${n.tasks} SET status = 'pending', attempts = 0, updated_at = $2
       WHERE workflow_id = $1 AND seq = $3 AND status = 'failed' AND EXISTS (SELECT 1 FROM resumed)
     )
     SELECT id${notifyColumn(n, notify, "TRUE")} FROM resumed`,
    [id, now, resumeSeq, counts.recoveries, counts.crashes],
    "once",
  )
  return rows.length === 1
}
