/**
 * `getWorkflow` and `listWorkflows` on Postgres.
 *
 * @module
 */
import type { WorkflowFilter, WorkflowRow, WorkflowStatus, WorkflowWithTasks } from "../provider.js"
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import { statusLiteral } from "./inspection.js"
import {
  JOINED_COLUMNS,
  type JoinedRecord,
  WORKFLOW_COLUMNS,
  type WorkflowRecord,
  fromJoinedRows,
  toWorkflowRow,
  workflowStatus,
} from "./rows.js"

/** Reads one workflow with its tasks (one statement, so one snapshot), or `null`. */
export async function getWorkflow(db: PostgresConnection, n: PostgresNames, id: string): Promise<WorkflowWithTasks | null> {
  // Postgres text cannot hold U+0000, so no stored ID has it (and the query would fail).
  if (id.includes("\u0000")) return null
  const rows = await db.statement<JoinedRecord>(
    `SELECT ${JOINED_COLUMNS}
     FROM ${n.workflows} AS w LEFT JOIN ${n.tasks} AS t ON t.workflow_id = w.id
     WHERE w.id = $1
     ORDER BY t.seq`,
    [id],
    "idempotent",
  )
  return fromJoinedRows(rows)[0] ?? null
}

/** Reads the given workflows with their tasks in one statement (one snapshot); IDs with no workflow are left out. */
export async function getWorkflows(db: PostgresConnection, n: PostgresNames, ids: string[]): Promise<WorkflowWithTasks[]> {
  // Postgres text cannot hold U+0000, so no stored ID has it (and the array would be refused).
  const wanted = [...new Set(ids)].filter((id) => !id.includes("\u0000"))
  if (wanted.length === 0) return []
  const rows = await db.statement<JoinedRecord>(
    `SELECT ${JOINED_COLUMNS}
     FROM ${n.workflows} AS w LEFT JOIN ${n.tasks} AS t ON t.workflow_id = w.id
     WHERE w.id = ANY($1::text[])
     ORDER BY w.id, t.seq`,
    [wanted],
    "idempotent",
  )
  return fromJoinedRows(rows)
}

/** Reads the statuses of the given workflows in one statement; IDs with no workflow are left out. */
export async function getWorkflowStatuses(
  db: PostgresConnection,
  n: PostgresNames,
  ids: string[],
): Promise<Array<{ id: string; status: WorkflowStatus }>> {
  // Postgres text cannot hold U+0000, so no stored ID has it (and the array would be refused).
  const wanted = [...new Set(ids)].filter((id) => !id.includes("\u0000"))
  if (wanted.length === 0) return []
  const rows = await db.statement<{ id: string; status: string }>(
    `SELECT id, status FROM ${n.workflows} WHERE id = ANY($1::text[])`,
    [wanted],
    "idempotent",
  )
  return rows.map((r) => ({ id: r.id, status: workflowStatus(r.status, r.id) }))
}

/** Lists workflows in ID order (byte order: the ID columns are `COLLATE "C"`), without their tasks. */
export async function listWorkflows(db: PostgresConnection, n: PostgresNames, filter: WorkflowFilter): Promise<WorkflowRow[]> {
  // Only fixed fragments are added: each filter gets its own plan and index.
  const where: string[] = []
  const params: unknown[] = []
  if (filter.status !== undefined) {
    // As a literal when it is a status: the planner can then use the partial index of workflows not completed.
    const literal = statusLiteral(filter.status)
    if (literal === undefined) params.push(filter.status)
    where.push(`status = ${literal ?? `$${params.length}`}`)
  }
  if (filter.afterID !== undefined) {
    // No stored ID has U+0000, so "after x\0y" is exactly "after x".
    params.push(filter.afterID.split("\u0000")[0])
    where.push(`id > $${params.length}`)
  }
  params.push(Number.isFinite(filter.limit) ? Math.max(0, Math.floor(filter.limit)) : null)
  const rows = await db.statement<WorkflowRecord>(
    `SELECT ${WORKFLOW_COLUMNS} FROM ${n.workflows}
     ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY id
     LIMIT $${params.length}`,
    params,
    "idempotent",
  )
  return rows.map(toWorkflowRow)
}
