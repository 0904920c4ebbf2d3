/**
 * The attempt-history schema version (SQLite 7, Postgres 8) on a store made
 * by the version before it: opening it adds the attempt columns, keeps the
 * workflows, and their tasks then record attempts.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { adminQuery, connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"
import { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from "../src/storage/sqlite/schema.js"
import { SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION } from "../src/storage/postgres/schema.js"

const LEASE = { owner: "old", token: "old-token", expiresAt: 1_000 }

/** Inserts the workflow a store of the version before had. */
async function insertOld(storage: StorageProvider): Promise<void> {
  await storage.insertWorkflowsAndTasks([{ id: "before-attempts", now: 1, tasks: [{ name: "a", task: "T", data: "1" }], lease: LEASE }])
}

/** On a migrated store: the old task has no attempt, and a write records one. */
async function assertMigrated(storage: StorageProvider): Promise<void> {
  const old = await storage.getWorkflow("before-attempts")
  assert.equal(old?.tasks[0]?.status, "pending", "the workflow made before the migration was lost")
  assert.equal(old?.tasks[0]?.startedAt ?? null, null)
  const applied = await storage.applyWorkflowWrites([
    {
      kind: "endWorkflow",
      workflowID: "before-attempts",
      token: LEASE.token,
      now: 20,
      counts: { recoveries: 0, crashes: 0 },
      status: "completed",
      task: { seq: 0, status: "completed", result: "1", error: null, attempts: 0, startedAt: 10, runnerID: "new", history: "[]" },
    },
  ])
  assert.deepEqual(applied, [true])
  const task = (await storage.getWorkflow("before-attempts"))?.tasks[0]
  assert.deepEqual([task?.startedAt, task?.endedAt, task?.runnerID, task?.history], [10, 20, "new", "[]"])
}

describe("attempt history on a store made by the schema version before it", () => {
  it("SQLite: migrates a version 6 file to version 7", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dt-attempts-migration-"))
    const file = join(dir, "v6.sqlite")
    try {
      const made = new SQLiteStorageProvider(file)
      await insertOld(made)
      // Back to exactly what version 6 made: no attempt columns.
      for (const column of ["started_at", "ended_at", "runner_id", "attempt_history"]) made.db.exec(`ALTER TABLE durabletasks_tasks DROP COLUMN ${column}`)
      made.db.exec("UPDATE durabletasks_schema SET version = 6")
      await made.close()

      const migrated = new SQLiteStorageProvider(file)
      try {
        assert.equal((migrated.db.prepare("SELECT version FROM durabletasks_schema").get() as { version: number }).version, SQLITE_SCHEMA_VERSION)
        await assertMigrated(migrated)
      } finally {
        await migrated.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("Postgres: migrates version 7 tables to version 8", async (t) => {
    const reason = await postgresSkipReason()
    if (reason !== undefined) return t.skip(reason)
    const schema = uniqueSchemaName()
    try {
      const made = new PostgresStorageProvider(connectionString, { schema })
      await made.init()
      await insertOld(made)
      await made.close()
      await adminQuery(
        `ALTER TABLE ${schema}.durabletasks_tasks DROP COLUMN started_at, DROP COLUMN ended_at, DROP COLUMN runner_id, DROP COLUMN attempt_history`,
      )
      await adminQuery(`DELETE FROM ${schema}.durabletasks_schema_version WHERE version >= 8`)

      const migrated = new PostgresStorageProvider(connectionString, { schema })
      try {
        await migrated.init()
        const versions = await adminQuery<{ version: number }>(`SELECT version FROM ${schema}.durabletasks_schema_version ORDER BY version`)
        assert.deepEqual(versions.map((v) => v.version), Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1))
        await assertMigrated(migrated)
      } finally {
        await migrated.close()
      }
    } finally {
      await dropSchema(schema)
    }
  })
})
