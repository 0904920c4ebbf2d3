/**
 * `cancelWorkflow` on Postgres: the workflow and its pending descendants (see children.ts).
 *
 * @module
 */
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import { cancelTreeSQL } from "./children.js"

/**
 * Cancels a pending workflow whoever holds its lease; `false` if there is no
 * pending workflow with that ID. With `notify`, the cancel channel carries the
 * ID to every listening runner at commit, so the one running the workflow
 * stops its task at once (see `onWorkflowsCancelled`).
 */
export async function cancelWorkflow(db: PostgresConnection, n: PostgresNames, notify: boolean, id: string, now: number): Promise<boolean> {
  if (id.includes("\u0000")) return false
  const rows = await db.statement<{ id: string }>(cancelTreeSQL(n, notify), [id, now], "once")
  return rows.some((r) => r.id === id)
}
