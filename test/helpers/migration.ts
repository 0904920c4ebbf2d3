/**
 * The shape of every migration test: a store made by this version, holding
 * some workflows, is taken back to exactly what an older schema version made
 * (its later tables, columns and indexes dropped, its version set back);
 * opening it again must migrate it to the current version, which is checked
 * here, and the test then checks what the migration added and that the old
 * workflows still work. SQLite files and Postgres schemas.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { TestContext } from "node:test"
import type Database from "better-sqlite3"
import type { NewWorkflow } from "../../src/storage/provider.js"
import { PostgresStorageProvider } from "../../src/storage/postgres.js"
import { SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION } from "../../src/storage/postgres/schema.js"
import { SQLiteStorageProvider } from "../../src/storage/sqlite.js"
import { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from "../../src/storage/sqlite/schema.js"
import { adminQuery, connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./postgres.js"

/** SQL that takes a SQLite file back to before events (SQLite schema version 5). */
export const SQLITE_DROP_EVENTS = `DROP INDEX durabletasks_tasks_waiting; DROP TABLE durabletasks_events;
  ALTER TABLE durabletasks_tasks DROP COLUMN event_name; ALTER TABLE durabletasks_tasks DROP COLUMN event_key;
  ALTER TABLE durabletasks_tasks DROP COLUMN event_after; ALTER TABLE durabletasks_tasks DROP COLUMN event_seq`

/** An older store to migrate from. */
export interface OlderStore {
  /** The schema version it is taken back to. */
  version: number
  /** The workflows it holds, inserted before it is taken back. */
  workflows: NewWorkflow[]
}

/**
 * Makes a SQLite file holding `older.workflows`, runs `older.revert` on it
 * (which must drop everything made after `older.version`; the version row is
 * set here), reopens it, asserts that it migrated to the current version, and
 * runs `check` on it. The provider is closed and the file removed after.
 */
export async function migrateSQLiteFrom(
  older: OlderStore & { revert(db: Database.Database): void },
  check: (migrated: SQLiteStorageProvider) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `dt-migration-v${older.version}-`))
  const file = join(dir, `v${older.version}.sqlite`)
  try {
    const made = new SQLiteStorageProvider(file)
    await made.insertWorkflowsAndTasks(older.workflows)
    older.revert(made.db)
    made.db.exec(`UPDATE durabletasks_schema SET version = ${older.version}`)
    await made.close()

    const migrated = new SQLiteStorageProvider(file)
    try {
      assert.equal((migrated.db.prepare("SELECT version FROM durabletasks_schema").get() as { version: number }).version, SQLITE_SCHEMA_VERSION)
      await check(migrated)
    } finally {
      await migrated.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Skips test `t` if Postgres does not answer (fails under CI=true). Else
 * makes a schema holding `older.workflows`, runs the statements of
 * `older.revert(schema)` on it (which must drop everything made after
 * `older.version`; the later version rows are deleted here), opens it again,
 * asserts that every version up to the current one is recorded, and runs
 * `check` on it. The provider is closed and the schema dropped after.
 */
export async function migratePostgresFrom(
  t: TestContext,
  older: OlderStore & { revert(schema: string): string[] },
  check: (migrated: PostgresStorageProvider, schema: string) => Promise<void>,
): Promise<void> {
  const reason = await postgresSkipReason()
  if (reason !== undefined) return t.skip(reason)
  const schema = uniqueSchemaName()
  try {
    const made = new PostgresStorageProvider(connectionString, { schema })
    await made.init()
    await made.insertWorkflowsAndTasks(older.workflows)
    await made.close()
    for (const statement of older.revert(schema)) await adminQuery(statement)
    await adminQuery(`DELETE FROM ${schema}.durabletasks_schema_version WHERE version > ${older.version}`)

    const migrated = new PostgresStorageProvider(connectionString, { schema })
    try {
      await migrated.init()
      const versions = await adminQuery<{ version: number }>(`SELECT version FROM ${schema}.durabletasks_schema_version ORDER BY version`)
      assert.deepEqual(versions.map((v) => v.version), Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1))
      await check(migrated, schema)
    } finally {
      await migrated.close()
    }
  } finally {
    await dropSchema(schema)
  }
}
