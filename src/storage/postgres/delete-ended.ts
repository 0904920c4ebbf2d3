/**
 * `deleteEndedWorkflows` on Postgres.
 *
 * @module
 */
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import { endedAtColumn } from "./hot-updates.js"
import type { DatabaseKind } from "./schema.js"

/**
 * Deletes ended workflows last updated before `endedBefore`, with their tasks,
 * in one statement; returns how many workflows it deleted. A workflow resumed
 * meanwhile is rechecked after its row lock and kept.
 */
export async function deleteEndedWorkflows(db: PostgresConnection, n: PostgresNames, endedBefore: number, kind: DatabaseKind = "postgres"): Promise<number> {
  const rows = await db.statement<{ deleted: string | number }>(
    `WITH ended AS (
       DELETE FROM ${n.workflows}
       WHERE status <> 'pending' AND ${endedAtColumn(kind)} < $1
       RETURNING id
     ), ended_tasks AS (
       DELETE FROM ${n.tasks} WHERE workflow_id IN (SELECT id FROM ended)
     )
     SELECT count(*) AS deleted FROM ended`,
    [endedBefore],
    "once",
  )
  return Number(rows[0]?.deleted ?? 0)
}
