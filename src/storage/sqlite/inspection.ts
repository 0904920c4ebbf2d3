/**
 * The `inspection` reads and deletes of the SQLite provider (the CLI and the
 * dashboard): filtered, newest-first listing, stats, and the selection of
 * ended workflows by status.
 *
 * @module
 */
import type Database from "better-sqlite3"
import type { EndedWorkflowsSelector, StatsRequest, WorkflowFilter, WorkflowStats, WorkflowStatus } from "../provider.js"

/**
 * Indexes for newest-first listing, created on open (`IF NOT EXISTS`, so no
 * schema version is needed for them).
 *
 * Only `(created_at, id)` is on every workflow: written once, at insert, at
 * the right end of the tree (creation times grow), and never again, since
 * neither column changes. A status filter does not get an index over every
 * workflow (it would be written by every insert and every status change, the
 * hot path: it cost 15 % of end-to-end throughput): `completed` and
 * `pending` workflows walk the time index (the newest are mostly completed,
 * or pending when a backlog builds up), or for a few pending ones their
 * claim index; `failed` and `cancelled`, which are rare and where a walk
 * could go far, have partial indexes of their own, written only when a
 * workflow fails or is cancelled (or retried).
 */
export function createInspectionIndexes(db: Database.Database, p: string): void {
  db.exec(`
    CREATE INDEX IF NOT EXISTS ${p}workflows_created ON ${p}workflows (created_at, id);
    DROP INDEX IF EXISTS ${p}workflows_status_created;
    CREATE INDEX IF NOT EXISTS ${p}workflows_failed_created ON ${p}workflows (created_at, id) WHERE status = 'failed';
    CREATE INDEX IF NOT EXISTS ${p}workflows_cancelled_created ON ${p}workflows (created_at, id) WHERE status = 'cancelled';
  `)
}

/**
 * Up to this many pending workflows, a newest-first list of pending ones (and
 * the oldest pending one) reads them all through the claim index and sorts
 * them; beyond, it walks the time index, where a backlog that large sits.
 */
export const FEW_PENDING = 2_000

/** The SQL of one shape of `listWorkflows` filter, and its parameters. */
function listQuery(p: string, columns: string, filter: WorkflowFilter, fewPending: boolean): { key: string; sql: string; params: unknown[] } {
  // Only fixed fragments are added, so each shape is one cached statement.
  const where: string[] = []
  const params: unknown[] = []
  const newest = filter.order === "newest"
  let from = `${p}workflows AS w`
  if (filter.status !== undefined) {
    // The status is a literal (one of four, checked): a partial index is usable only for a condition the SQL states.
    const status = STATUS_LITERALS[filter.status] as string | undefined
    if (status === undefined) {
      // Not a status this library writes: no row has it, and no index is meant for it.
      where.push("w.status = ?")
      params.push(filter.status)
    } else {
      where.push(`w.status = ${status}`)
      if (newest) from = `${p}workflows AS w INDEXED BY ${p}${newestIndex(filter.status, fewPending)}`
    }
  }
  if (!newest && filter.afterID !== undefined) {
    where.push("w.id > ?")
    params.push(filter.afterID)
  }
  if (newest && filter.cursor !== undefined) {
    // A row value, not an OR of two comparisons: the index seeks to the cursor instead of scanning from the newest.
    where.push("(w.created_at, w.id) < (?, ?)")
    params.push(filter.cursor.createdAt, filter.cursor.id)
  }
  if (filter.createdAfter !== undefined) {
    where.push("w.created_at >= ?")
    params.push(filter.createdAfter)
  }
  if (filter.createdBefore !== undefined) {
    where.push("w.created_at < ?")
    params.push(filter.createdBefore)
  }
  if (filter.idPrefix !== undefined) {
    // The range bound lets the primary-key index start at the prefix; substr decides.
    where.push("w.id >= ? AND substr(w.id, 1, length(?)) = ?")
    params.push(filter.idPrefix, filter.idPrefix, filter.idPrefix)
  }
  if (filter.runner !== undefined) {
    where.push(`EXISTS (SELECT 1 FROM ${p}tasks AS t WHERE t.workflow_id = w.id AND t.task = ?)`)
    params.push(filter.runner)
  }
  params.push(Math.max(0, Math.floor(filter.limit)))
  const sql =
    `SELECT ${columns} FROM ${from} ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ` +
    `ORDER BY ${newest ? "w.created_at DESC, w.id DESC" : "w.id"} LIMIT ?`
  return { key: sql, sql, params }
}

const STATUS_LITERALS: Record<WorkflowStatus, string> = { pending: "'pending'", completed: "'completed'", failed: "'failed'", cancelled: "'cancelled'" }

/** The index a newest-first list of one status reads (see {@link createInspectionIndexes}). */
function newestIndex(status: WorkflowStatus, fewPending: boolean): string {
  switch (status) {
    case "failed":
      return "workflows_failed_created"
    case "cancelled":
      return "workflows_cancelled_created"
    case "pending":
      return fewPending ? "workflows_claimable" : "workflows_created"
    case "completed":
      return "workflows_created"
  }
}

/** The inspection statements of one SQLite store (tables with prefix `p`). */
export class SQLiteInspection {
  private readonly listStatements = new Map<string, Database.Statement>()
  private readonly countByStatus: Database.Statement
  private readonly oldestPending: Database.Statement
  private readonly oldestPendingOfMany: Database.Statement
  private readonly pendingUpTo: Database.Statement
  private readonly endedSince: Database.Statement

  /** @param columns - the workflow columns to select, aliased `w` (the provider's row order) */
  constructor(
    private readonly db: Database.Database,
    private readonly p: string,
    private readonly columns: string,
  ) {
    this.countByStatus = db.prepare(`SELECT status, count(*) FROM ${p}workflows INDEXED BY ${p}workflows_status GROUP BY status`).raw()
    this.oldestPending = db
      .prepare(
        `SELECT id, created_at FROM ${p}workflows INDEXED BY ${p}workflows_claimable
         WHERE status = 'pending' ORDER BY created_at, id LIMIT 1`,
      )
      .raw()
    this.oldestPendingOfMany = db
      .prepare(
        `SELECT id, created_at FROM ${p}workflows INDEXED BY ${p}workflows_created
         WHERE status = 'pending' ORDER BY created_at, id LIMIT 1`,
      )
      .raw()
    // Counts pending workflows up to a bound, from the claim index alone.
    this.pendingUpTo = db
      .prepare(`SELECT count(*) FROM (SELECT 1 FROM ${p}workflows INDEXED BY ${p}workflows_claimable WHERE status = 'pending' LIMIT ?)`)
      .pluck()
    this.endedSince = db
      .prepare(
        `SELECT status, count(*) FROM ${p}workflows INDEXED BY ${p}workflows_ended
         WHERE status <> 'pending' AND updated_at >= ? GROUP BY status`,
      )
      .raw()
  }

  /** Rows (arrays, in the provider's column order) of the workflows `filter` selects. */
  list(filter: WorkflowFilter): unknown[][] {
    const fewPending = filter.status === "pending" && filter.order === "newest" && this.fewPending()
    const { key, sql, params } = listQuery(this.p, this.columns, filter, fewPending)
    let statement = this.listStatements.get(key)
    if (statement === undefined) {
      statement = this.db.prepare(sql).raw()
      this.listStatements.set(key, statement)
    }
    return statement.all(...params) as unknown[][]
  }

  /** Counts, oldest pending and recent ends, read in one transaction (one snapshot). */
  stats(request: StatsRequest): WorkflowStats {
    return this.db.transaction(() => {
      const stats: WorkflowStats = {
        counts: { pending: 0, completed: 0, failed: 0, cancelled: 0 },
        oldestPending: null,
        endedSince: { completed: 0, failed: 0, cancelled: 0 },
      }
      for (const [status, count] of this.countByStatus.all() as Array<[string, number]>) {
        if (status in stats.counts) stats.counts[status as keyof WorkflowStats["counts"]] = count
      }
      const oldest = (this.fewPending() ? this.oldestPending : this.oldestPendingOfMany).get() as [string, number] | undefined
      if (oldest) stats.oldestPending = { id: oldest[0], createdAt: oldest[1] }
      for (const [status, count] of this.endedSince.all(request.endedSince) as Array<[string, number]>) {
        if (status in stats.endedSince) stats.endedSince[status as keyof WorkflowStats["endedSince"]] = count
      }
      return stats
    })()
  }

  /** Whether at most {@link FEW_PENDING} workflows are pending (read from the claim index, up to that bound). */
  private fewPending(): boolean {
    return (this.pendingUpTo.get(FEW_PENDING + 1) as number) <= FEW_PENDING
  }

  /** How many workflows `selector` selects. */
  countEnded(selector: EndedWorkflowsSelector): number {
    const { sql, params } = endedWhere(selector)
    if (params.length === 1) return 0
    return this.db.prepare(`SELECT count(*) FROM ${this.p}workflows WHERE ${sql}`).pluck().get(...params) as number
  }

  /** Deletes the workflows `selector` selects, and their tasks (call inside a write transaction). */
  deleteEnded(selector: EndedWorkflowsSelector): number {
    const { sql, params } = endedWhere(selector)
    if (params.length === 1) return 0
    this.db.prepare(`DELETE FROM ${this.p}tasks WHERE workflow_id IN (SELECT id FROM ${this.p}workflows WHERE ${sql})`).run(...params)
    return this.db.prepare(`DELETE FROM ${this.p}workflows WHERE ${sql}`).run(...params).changes
  }
}

/** The condition selecting ended workflows; with no statuses, its parameters are only the cutoff (selects none). */
function endedWhere(selector: EndedWorkflowsSelector): { sql: string; params: unknown[] } {
  const statuses = [...new Set(selector.statuses)].filter((s) => s === "completed" || s === "failed" || s === "cancelled")
  return {
    sql: `status <> 'pending' AND updated_at < ? AND status IN (${statuses.map(() => "?").join(", ")})`,
    params: [selector.endedBefore, ...statuses],
  }
}
