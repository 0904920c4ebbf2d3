/**
 * The `children` capability of the SQLite provider: the parent link's
 * columns, parking a parent until a child ends, waking it in the transaction
 * that ends the child, and cancelling a workflow's pending descendants.
 *
 * @module
 */
import type Database from "better-sqlite3"
import type { AwaitChildren } from "../provider.js"

/** Adds the parent link (version 5); idempotent, so it serves new and migrated files alike. */
export function createChildColumns(db: Database.Database, p: string): void {
  const columns = new Set((db.prepare(`PRAGMA table_info(${p}workflows)`).all() as Array<{ name: string }>).map((c) => c.name))
  if (!columns.has("parent_id")) db.exec(`ALTER TABLE ${p}workflows ADD COLUMN parent_id TEXT`)
  if (!columns.has("parent_seq")) db.exec(`ALTER TABLE ${p}workflows ADD COLUMN parent_seq INTEGER`)
  // Cancelling a parent finds its children through this; workflows without a parent are not in it.
  db.exec(`CREATE INDEX IF NOT EXISTS ${p}workflows_parent ON ${p}workflows (parent_id) WHERE parent_id IS NOT NULL`)
}

/** The statements of the capability, prepared once. */
export class SQLiteChildren {
  private readonly wake: Database.Statement
  private readonly cancelTree: Database.Statement
  private readonly parentOf: Database.Statement
  private readonly park: Database.Statement
  private readonly pendingChild: Database.Statement
  private readonly updateTask: Database.Statement

  constructor(db: Database.Database, p: string) {
    this.wake = db.prepare(
      `UPDATE ${p}workflows SET available_at = ? WHERE id = ? AND status = 'pending' AND lease_token IS NULL AND available_at > ?`,
    )
    this.cancelTree = db
      .prepare(
        `WITH RECURSIVE tree(id) AS (
           SELECT id FROM ${p}workflows WHERE parent_id = ? AND status = 'pending'
           UNION SELECT w.id FROM ${p}workflows w JOIN tree ON w.parent_id = tree.id WHERE w.status = 'pending'
         )
         UPDATE ${p}workflows SET status = 'cancelled', lease_owner = NULL, lease_token = NULL, updated_at = ?
         WHERE id IN (SELECT id FROM tree) AND status = 'pending' RETURNING id`,
      )
      .pluck()
    this.parentOf = db.prepare(`SELECT parent_id FROM ${p}workflows WHERE id = ?`).pluck()
    this.park = db.prepare(
      `UPDATE ${p}workflows SET updated_at = ?, available_at = ?, lease_owner = NULL, lease_token = NULL, recoveries = ?, crashes = ?
       WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    )
    this.pendingChild = db.prepare(`SELECT 1 FROM ${p}workflows WHERE id = ? AND status = 'pending'`).pluck()
    this.updateTask = db.prepare(
      `UPDATE ${p}tasks SET status = ?, result = ?, error = ?, attempts = ?, updated_at = ?, wake_at = ? WHERE workflow_id = ? AND seq = ?`,
    )
  }

  /** Makes `parentID` claimable at `now` if it is parked (inside the transaction that ended its child). */
  wakeParent(parentID: string, now: number): void {
    this.wake.run(now, parentID, now)
  }

  /** Cancels the pending descendants of `id` and wakes its parent (inside cancelWorkflow's transaction); returns the descendants' IDs. */
  cancelled(id: string, now: number): string[] {
    const parentID = this.parentOf.get(id) as string | null | undefined
    if (parentID) this.wakeParent(parentID, now)
    return this.cancelTree.all(id, now) as string[]
  }

  /** {@link StorageProvider.awaitChildren} (inside a write transaction: SQLite's one writer at a time is the lock). */
  awaitChildren(park: AwaitChildren): number | null {
    // Ended, or no longer stored (ended, then deleted): either way nothing will wake the parent later.
    const anyEnded = park.childIDs.some((id) => this.pendingChild.get(id) === undefined)
    const at = anyEnded ? Math.min(park.now, park.availableAt) : park.availableAt
    const { recoveries, crashes } = park.counts
    if (this.park.run(park.now, at, recoveries, crashes, park.workflowID, park.token).changes !== 1) return null
    for (const t of park.tasks) this.updateTask.run(t.status, t.result, t.error, t.attempts, park.now, t.wakeAt ?? null, park.workflowID, t.seq)
    return at
  }
}
