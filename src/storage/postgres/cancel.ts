/**
 * `cancelWorkflow` on Postgres.
 *
 * @module
 */
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"

/**
 * Cancels a pending workflow whoever holds its lease; `false` if there is no
 * pending workflow with that ID. With `notify`, the cancel channel carries the
 * ID to every listening runner at commit, so the one running the workflow
 * stops its task at once (see `onWorkflowsCancelled`).
 */
export async function cancelWorkflow(db: PostgresConnection, n: PostgresNames, notify: boolean, id: string, now: number): Promise<boolean> {
  if (id.includes("\u0000")) return false
  const rows = await db.statement<{ id: string }>(
    `UPDATE ${n.workflows} SET status = 'cancelled', lease_owner = NULL, lease_token = NULL, updated_at = $2
     WHERE id = $1 AND status = 'pending'
     RETURNING id${notify ? `, pg_notify('${n.cancelChannel}', id)::text AS notified` : ""}`,
    [id, now],
    "once",
  )
  return rows.length === 1
}
