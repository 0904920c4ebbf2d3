/**
 * The Postgres provider's tables and their versioned migrations.
 *
 * @module
 */
import type { PostgresConnection, Queryable } from "./connection.js"
import { inspectionIndexes, lighterInspectionIndexes } from "./inspection.js"
import type { PostgresNames } from "./names.js"
import { scheduleTables } from "./schedules.js"
import { childColumns } from "./children.js"
import { eventTables } from "./events.js"
import { hotUpdateColumns } from "./hot-updates.js"

/** Which Postgres-compatible server this is, as far as the SQL must care. */
export type DatabaseKind = "postgres" | "cockroachdb" | "yugabytedb"

/**
 * Migrations by version (index 0 is version 1). Each runs once, in order,
 * under the init lock, and records its version. Append; never edit a
 * released one.
 */
const MIGRATIONS: ReadonlyArray<(n: PostgresNames, kind: DatabaseKind) => string[]> = [
  (n, kind) => [
    // IDs compare bytewise ("C"): the same order as SQLite, and cheaper than a locale's.
    // CockroachDB always compares bytewise and refuses "C" on a column.
    `CREATE TABLE IF NOT EXISTS ${n.workflows} (
      id text${kind === "cockroachdb" ? "" : ' COLLATE "C"'} PRIMARY KEY,
      status text NOT NULL,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      available_at bigint NOT NULL,
      lease_owner text,
      lease_token text,
      task_count integer NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS ${n.tasks} (
      workflow_id text${kind === "cockroachdb" ? "" : ' COLLATE "C"'} NOT NULL,
      seq integer NOT NULL,
      name text NOT NULL,
      task text NOT NULL,
      data text NOT NULL,
      status text NOT NULL,
      result text,
      error text,
      attempts integer NOT NULL,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      PRIMARY KEY (workflow_id, seq)
    )`,
    // Claims scan only pending rows, due ones in available_at order ...
    `CREATE INDEX IF NOT EXISTS ${n.indexes.claimable} ON ${n.workflows} (available_at) WHERE status = 'pending'`,
    // ... and a restarted runner's own earlier leases by owner (dropped in version 10).
    `CREATE INDEX IF NOT EXISTS ${n.prefix}workflows_leased ON ${n.workflows} (lease_owner) WHERE status = 'pending'`,
    // Retention deletes ended rows by age without touching pending ones (by ended_at from version 10).
    `CREATE INDEX IF NOT EXISTS ${n.prefix}workflows_ended ON ${n.workflows} (updated_at) WHERE status <> 'pending'`,
    // Listing by status pages through IDs (from version 10, of workflows not completed only).
    `CREATE INDEX IF NOT EXISTS ${n.prefix}workflows_status ON ${n.workflows} (status, id)`,
  ],
  // Version 2: crash-loop detection (see WorkflowRow.recoveries and .crashes).
  (n) => [
    `ALTER TABLE ${n.workflows} ADD COLUMN IF NOT EXISTS recoveries integer NOT NULL DEFAULT 0`,
    `ALTER TABLE ${n.workflows} ADD COLUMN IF NOT EXISTS crashes integer NOT NULL DEFAULT 0`,
  ],
  // ---- Version 3: schedules (issue 12; see postgres/schedules.ts). A step of its own, adding tables only. ----
  (n, kind) => scheduleTables(n, kind),
  // ---- Version 4: newest-first listing for the CLI and the dashboard (issue 13; see inspection.ts). Indexes only. ----
  (n) => inspectionIndexes(n),
  // ---- Version 5: step kinds and the wake time of waiting steps (issue 11, the "waits" capability). Every existing row is a task. ----
  (n) => [
    `ALTER TABLE ${n.tasks} ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'task'`,
    `ALTER TABLE ${n.tasks} ADD COLUMN IF NOT EXISTS wake_at bigint`,
  ],
  // ---- Version 6: the parent link of child workflows (issue 11, the "children" capability; see postgres/children.ts). ----
  (n) => childColumns(n),
  // ---- Version 7: events (issue 11, the "events" capability; see postgres/events.ts). A table, and columns of waitForEvent steps. ----
  (n) => eventTables(n),
  // ---- Version 8: each task's last attempt and the earlier ones (issue 13, the "attempt-history" capability). ----
  (n) => [
    `ALTER TABLE ${n.tasks} ADD COLUMN IF NOT EXISTS started_at bigint`,
    `ALTER TABLE ${n.tasks} ADD COLUMN IF NOT EXISTS ended_at bigint`,
    `ALTER TABLE ${n.tasks} ADD COLUMN IF NOT EXISTS runner_id text`,
    `ALTER TABLE ${n.tasks} ADD COLUMN IF NOT EXISTS attempt_history text`,
  ],
  // ---- Version 9: newest-first listing by status without an index over every workflow (issue 13; see inspection.ts). ----
  (n) => lighterInspectionIndexes(n),
  // ---- Version 10: a run's writes are HOT updates (issue 14; see postgres/hot-updates.ts). ----
  (n, kind) => hotUpdateColumns(n, kind),
]

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the schema up to {@link SCHEMA_VERSION} and tells which kind of
 * server this is. An up-to-date schema is recognised by one read, which needs
 * no DDL privilege; otherwise the migrations run in one transaction under an
 * advisory lock, so processes that start together take turns and later ones
 * find the work done.
 *
 * @throws Error if the database has a newer schema version than this code
 */
export async function migrate(db: PostgresConnection, n: PostgresNames): Promise<DatabaseKind> {
  const kind = await databaseKind(db)
  if ((await readVersion(db, n)) === SCHEMA_VERSION) return kind
  await db.transaction(async (client) => {
    await lockInit(client, n)
    // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists.
    const schema = await client.query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", [n.schema])
    if (schema.rows.length === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${n.schema}`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${n.schemaVersion} (version integer PRIMARY KEY)`)
    const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${n.schemaVersion}`)
    const current = Number(rows[0]?.version ?? 0)
    assertNotNewer(current, n)
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      const migration = MIGRATIONS[version - 1] as (n: PostgresNames, kind: DatabaseKind) => string[]
      for (const sql of migration(n, kind)) await client.query(sql)
      await client.query(`INSERT INTO ${n.schemaVersion} (version) VALUES ($1)`, [version])
    }
  })
  return kind
}

async function databaseKind(db: PostgresConnection): Promise<DatabaseKind> {
  const rows = await db.statement<{ server: string }>("SELECT version() AS server", [], "idempotent")
  const server = rows[0]?.server ?? ""
  if (/CockroachDB/i.test(server)) return "cockroachdb"
  if (/-YB-/.test(server)) return "yugabytedb"
  return "postgres"
}

/**
 * Takes the init lock for the rest of the transaction. Servers without
 * advisory locks (older CockroachDB, YugabyteDB with them off) go on without:
 * `IF NOT EXISTS` and the version table keep a lone init correct there.
 */
async function lockInit(client: Queryable, n: PostgresNames): Promise<void> {
  await client.query("SAVEPOINT durabletasks_init_lock")
  try {
    await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [n.initLockKey])
    await client.query("RELEASE SAVEPOINT durabletasks_init_lock")
  } catch (error) {
    const code = (error as { code?: unknown }).code
    // undefined_function, feature_not_supported
    if (code !== "42883" && code !== "0A000") throw error
    await client.query("ROLLBACK TO SAVEPOINT durabletasks_init_lock")
  }
}

/** The recorded schema version, or `undefined` if there is no version table yet. */
async function readVersion(db: PostgresConnection, n: PostgresNames): Promise<number | undefined> {
  try {
    const rows = await db.statement<{ version: number | null }>(`SELECT max(version) AS version FROM ${n.schemaVersion}`, [], "idempotent")
    const version = Number(rows[0]?.version ?? 0)
    assertNotNewer(version, n)
    return version
  } catch (error) {
    const code = (error as { code?: unknown }).code
    // undefined_table, invalid_schema_name
    if (code === "42P01" || code === "3F000") return undefined
    throw error
  }
}

function assertNotNewer(version: number, n: PostgresNames): void {
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `the durabletasks tables in ${n.schema} (prefix "${n.prefix}") have schema version ${version}, newer than this library's ${SCHEMA_VERSION}: upgrade durabletasks`,
    )
  }
}
