/**
 * The `inspection` reads and deletes on Postgres (the CLI and the
 * dashboard): filtered, newest-first listing, stats in one snapshot, and the
 * selection of ended workflows by status; and the indexes they use.
 *
 * @module
 */
import type { EndedStatus, EndedWorkflowsSelector, StatsRequest, WorkflowFilter, WorkflowRow, WorkflowStats } from "../provider.js"
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import { endedAtColumn } from "./hot-updates.js"
import type { DatabaseKind } from "./schema.js"
import { WORKFLOW_COLUMNS, type WorkflowRecord, toWorkflowRow } from "./rows.js"

/**
 * The migration adding the inspection indexes: newest-first listing with
 * and without a status (and the oldest pending workflow). Appended to the
 * schema's migrations as its own version.
 */
export function inspectionIndexes(n: PostgresNames): string[] {
  return [
    `CREATE INDEX IF NOT EXISTS ${n.prefix}workflows_created ON ${n.workflows} (created_at, id)`,
    `CREATE INDEX IF NOT EXISTS ${n.prefix}workflows_status_created ON ${n.workflows} (status, created_at, id)`,
  ]
}

/**
 * The migration that drops the index of newest-first listing by status over
 * every workflow (every insert and every status change wrote it: a cost on
 * the hot path) for partial indexes of the rare statuses, written only when
 * a workflow fails or is cancelled. `completed` and `pending` lists walk the
 * time index, or the claim index for a few pending workflows, as the planner
 * picks. Appended to the schema's migrations as its own version.
 */
export function lighterInspectionIndexes(n: PostgresNames): string[] {
  return [
    `DROP INDEX IF EXISTS ${n.schema}.${n.prefix}workflows_status_created`,
    `CREATE INDEX IF NOT EXISTS ${n.prefix}workflows_failed_created ON ${n.workflows} (created_at, id) WHERE status = 'failed'`,
    `CREATE INDEX IF NOT EXISTS ${n.prefix}workflows_cancelled_created ON ${n.workflows} (created_at, id) WHERE status = 'cancelled'`,
  ]
}

const STATUS_LITERALS: Readonly<Record<string, string>> = { pending: "'pending'", completed: "'completed'", failed: "'failed'", cancelled: "'cancelled'" }

/**
 * A workflow status as an SQL literal, so the planner can use the partial
 * indexes of some statuses (a parameter hides its value from them);
 * undefined for a text that is no status (then pass it as a parameter).
 */
export function statusLiteral(status: string): string | undefined {
  return STATUS_LITERALS[status]
}

/** Lists the workflows `filter` selects, in its order (ID, or newest first), without their tasks. */
export async function listFilteredWorkflows(db: PostgresConnection, n: PostgresNames, filter: WorkflowFilter): Promise<WorkflowRow[]> {
  // Only fixed fragments are added: each shape of filter is one prepared statement with its own plan.
  const where: string[] = []
  const params: unknown[] = []
  const param = (value: unknown): string => {
    params.push(value)
    return `$${params.length}`
  }
  const newest = filter.order === "newest"
  // The status as a literal (one of four, checked): the planner can then use a partial index, which a parameter hides.
  if (filter.status !== undefined) where.push(`status = ${statusLiteral(filter.status) ?? param(filter.status)}`)
  // Postgres text cannot hold U+0000, so no stored ID has it; cutting there keeps the comparisons exact.
  if (!newest && filter.afterID !== undefined) where.push(`id > ${param(withoutNul(filter.afterID))}`)
  if (newest && filter.cursor !== undefined) {
    where.push(`(created_at, id) < (${param(filter.cursor.createdAt)}::bigint, ${param(withoutNul(filter.cursor.id))}::text)`)
  }
  if (filter.createdAfter !== undefined) where.push(`created_at >= ${param(filter.createdAfter)}::bigint`)
  if (filter.createdBefore !== undefined) where.push(`created_at < ${param(filter.createdBefore)}::bigint`)
  if (filter.idPrefix !== undefined) {
    if (filter.idPrefix.includes("\u0000")) return []
    // The range bound lets the primary key start at the prefix; left() decides.
    const prefix = param(filter.idPrefix)
    where.push(`id >= ${prefix}::text AND left(id, char_length(${prefix}::text)) = ${prefix}::text`)
  }
  if (filter.runner !== undefined) {
    if (filter.runner.includes("\u0000")) return []
    where.push(`EXISTS (SELECT 1 FROM ${n.tasks} AS t WHERE t.workflow_id = w.id AND t.task = ${param(filter.runner)})`)
  }
  const limit = param(Number.isFinite(filter.limit) ? Math.max(0, Math.floor(filter.limit)) : null)
  const rows = await db.statement<WorkflowRecord>(
    `SELECT ${WORKFLOW_COLUMNS} FROM ${n.workflows} AS w
     ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY ${newest ? "created_at DESC, id DESC" : "id"}
     LIMIT ${limit}`,
    params,
    "idempotent",
  )
  return rows.map(toWorkflowRow)
}

/** Counts by status, the oldest pending workflow and the ends since `endedSince`, in one statement (one snapshot). */
export async function getWorkflowStats(db: PostgresConnection, n: PostgresNames, request: StatsRequest, kind: DatabaseKind = "postgres"): Promise<WorkflowStats> {
  const rows = await db.statement<{ kind: string; key: string; n: string; created_at: string | null }>(
    `WITH counts AS (SELECT status, count(*) AS n FROM ${n.workflows} GROUP BY status),
     ended AS (SELECT status, count(*) AS n FROM ${n.workflows} WHERE status <> 'pending' AND ${endedAtColumn(kind)} >= $1 GROUP BY status),
     oldest AS (SELECT id, created_at FROM ${n.workflows} WHERE status = 'pending' ORDER BY created_at, id LIMIT 1)
     SELECT 'count' AS kind, status AS key, n, NULL::bigint AS created_at FROM counts
     UNION ALL SELECT 'ended', status, n, NULL FROM ended
     UNION ALL SELECT 'oldest', id, 0, created_at FROM oldest`,
    [request.endedSince],
    "idempotent",
  )
  const stats: WorkflowStats = {
    counts: { pending: 0, completed: 0, failed: 0, cancelled: 0 },
    oldestPending: null,
    endedSince: { completed: 0, failed: 0, cancelled: 0 },
  }
  for (const row of rows) {
    if (row.kind === "count" && row.key in stats.counts) stats.counts[row.key as keyof WorkflowStats["counts"]] = Number(row.n)
    else if (row.kind === "ended" && row.key in stats.endedSince) stats.endedSince[row.key as EndedStatus] = Number(row.n)
    else if (row.kind === "oldest") stats.oldestPending = { id: row.key, createdAt: Number(row.created_at) }
  }
  return stats
}

/** How many workflows `selector` selects. */
export async function countEndedWorkflows(
  db: PostgresConnection,
  n: PostgresNames,
  selector: EndedWorkflowsSelector,
  kind: DatabaseKind = "postgres",
): Promise<number> {
  const rows = await db.statement<{ n: string }>(
    `SELECT count(*) AS n FROM ${n.workflows} WHERE status <> 'pending' AND ${endedAtColumn(kind)} < $1 AND status = ANY($2::text[])`,
    [selector.endedBefore, endedStatuses(selector)],
    "idempotent",
  )
  return Number(rows[0]?.n ?? 0)
}

/**
 * Deletes the workflows `selector` selects, with their tasks, in one
 * statement; returns how many. A workflow resumed meanwhile is rechecked
 * after its row lock and kept.
 */
export async function deleteEndedWorkflowsByStatus(
  db: PostgresConnection,
  n: PostgresNames,
  selector: EndedWorkflowsSelector,
  kind: DatabaseKind = "postgres",
): Promise<number> {
  const rows = await db.statement<{ deleted: string }>(
    `WITH ended AS (
       DELETE FROM ${n.workflows}
       WHERE status <> 'pending' AND ${endedAtColumn(kind)} < $1 AND status = ANY($2::text[])
       RETURNING id
     ), ended_tasks AS (
       DELETE FROM ${n.tasks} WHERE workflow_id IN (SELECT id FROM ended)
     )
     SELECT count(*) AS deleted FROM ended`,
    [selector.endedBefore, endedStatuses(selector)],
    "once",
  )
  return Number(rows[0]?.deleted ?? 0)
}

function endedStatuses(selector: EndedWorkflowsSelector): string[] {
  return [...new Set(selector.statuses)].filter((s) => s === "completed" || s === "failed" || s === "cancelled")
}

function withoutNul(text: string): string {
  return text.split("\u0000")[0] ?? ""
}
