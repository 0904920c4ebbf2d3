/**
 * The SQLite provider's tables: created on open, and migrated from what
 * older versions made (versions 1 to SCHEMA_VERSION), in one transaction.
 *
 * @module
 */
import type Database from "better-sqlite3"
import { createInspectionIndexes } from "./inspection.js"
import { createScheduleTables } from "./schedules.js"
import { createChildColumns } from "./children.js"
import { createEventTables } from "./events.js"

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = 7

/**
 * Rowid tables rather than WITHOUT ROWID ones clustered by workflow ID: rows
 * sit in insertion order, so workflows added together share pages, and a
 * commit of the updates of the workflows in flight writes a few pages rather
 * than one per row (random IDs such as UUIDs scatter a table clustered by ID
 * over the whole file). Lookups by ID go through the primary-key index, which
 * updates never change.
 */
export function createSchema(db: Database.Database, p: string): void {
  const create = db.transaction(() => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${p}schema (version INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS ${p}workflows (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        available_at INTEGER NOT NULL,
        lease_owner TEXT,
        lease_token TEXT,
        task_count INTEGER NOT NULL,
        recoveries INTEGER NOT NULL DEFAULT 0,
        crashes INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS ${p}tasks (
        workflow_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        task TEXT NOT NULL,
        data TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT,
        error TEXT,
        attempts INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        kind TEXT NOT NULL DEFAULT 'task',
        wake_at INTEGER,
        started_at INTEGER,
        ended_at INTEGER,
        runner_id TEXT,
        attempt_history TEXT,
        PRIMARY KEY (workflow_id, seq)
      );
      CREATE INDEX IF NOT EXISTS ${p}workflows_claimable ON ${p}workflows (available_at) WHERE status = 'pending';
      -- Replaced by workflows_lease, which also finds the leases of an owner's other lives without reading its current ones.
      DROP INDEX IF EXISTS ${p}workflows_leased;
      CREATE INDEX IF NOT EXISTS ${p}workflows_lease ON ${p}workflows (lease_owner, lease_token) WHERE status = 'pending';
      CREATE INDEX IF NOT EXISTS ${p}workflows_ended ON ${p}workflows (updated_at) WHERE status <> 'pending';
      CREATE INDEX IF NOT EXISTS ${p}workflows_status ON ${p}workflows (status, id);
    `)
    // Version 3: schedules (sqlite/schedules.ts), created here on new and migrated files alike.
    createScheduleTables(db, p)
    createInspectionIndexes(db, p)
    // Version 5: the parent link of child workflows (sqlite/children.ts), added to new and migrated files alike.
    createChildColumns(db, p)
    // Version 6: events (sqlite/events.ts), created here on new and migrated files alike.
    createEventTables(db, p)
    const row = db.prepare(`SELECT version FROM ${p}schema`).get() as { version: number } | undefined
    if (!row) db.prepare(`INSERT INTO ${p}schema (version) VALUES (?)`).run(SCHEMA_VERSION)
    else if (row.version > SCHEMA_VERSION) {
      throw new Error(`the database has durabletasks schema version ${row.version}, newer than this library's ${SCHEMA_VERSION}: upgrade durabletasks`)
    } else if (row.version < SCHEMA_VERSION) {
      migrate(db, p, row.version)
      db.prepare(`UPDATE ${p}schema SET version = ?`).run(SCHEMA_VERSION)
    }
  })
  create.immediate()
}

/** Brings tables made by an older version up to SCHEMA_VERSION (inside createSchema's transaction). */
function migrate(db: Database.Database, p: string, from: number): void {
  if (from < 2) {
    // Version 2: crash-loop detection (see WorkflowRow.recoveries and .crashes).
    const columns = new Set((db.prepare(`PRAGMA table_info(${p}workflows)`).all() as Array<{ name: string }>).map((c) => c.name))
    if (!columns.has("recoveries")) db.exec(`ALTER TABLE ${p}workflows ADD COLUMN recoveries INTEGER NOT NULL DEFAULT 0`)
    if (!columns.has("crashes")) db.exec(`ALTER TABLE ${p}workflows ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0`)
  }
  // Version 3 (schedules) adds tables only: createScheduleTables, run by createSchema before this, made them.
  if (from < 4) {
    // Version 4: step kinds and the wake time of waiting steps (the "waits" capability). Every existing row is a task.
    const columns = new Set((db.prepare(`PRAGMA table_info(${p}tasks)`).all() as Array<{ name: string }>).map((c) => c.name))
    if (!columns.has("kind")) db.exec(`ALTER TABLE ${p}tasks ADD COLUMN kind TEXT NOT NULL DEFAULT 'task'`)
    if (!columns.has("wake_at")) db.exec(`ALTER TABLE ${p}tasks ADD COLUMN wake_at INTEGER`)
  }
  // Version 6 (events) adds a table and columns: createEventTables, run by createSchema before this, made them.
  if (from < 7) {
    // Version 7: the last attempt of each task and the earlier ones (the "attempt-history" capability); none before it.
    const columns = new Set((db.prepare(`PRAGMA table_info(${p}tasks)`).all() as Array<{ name: string }>).map((c) => c.name))
    for (const [column, type] of [["started_at", "INTEGER"], ["ended_at", "INTEGER"], ["runner_id", "TEXT"], ["attempt_history", "TEXT"]]) {
      if (!columns.has(column!)) db.exec(`ALTER TABLE ${p}tasks ADD COLUMN ${column} ${type}`)
    }
  }
}
