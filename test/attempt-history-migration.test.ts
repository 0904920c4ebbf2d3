/**
 * The attempt-history schema version (SQLite 7, Postgres 8) on a store made
 * by the version before it: opening it adds the attempt columns, keeps the
 * workflows, and their tasks then record attempts.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type Database from "better-sqlite3"
import type { StorageProvider } from "../src/storage/provider.js"
import { migratePostgresFrom, migrateSQLiteFrom } from "./helpers/migration.js"

const LEASE = { owner: "old", token: "old-token", expiresAt: 1_000 }

/** The workflow a store of the version before had. */
const OLD_WORKFLOW = { id: "before-attempts", now: 1, tasks: [{ name: "a", task: "T", data: "1" }], lease: LEASE }

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
    // Back to exactly what version 6 made: no attempt columns.
    const revert = (db: Database.Database) => {
      for (const column of ["started_at", "ended_at", "runner_id", "attempt_history"]) db.exec(`ALTER TABLE durabletasks_tasks DROP COLUMN ${column}`)
    }
    await migrateSQLiteFrom({ version: 6, workflows: [OLD_WORKFLOW], revert }, assertMigrated)
  })

  it("Postgres: migrates version 7 tables to version 8", async (t) => {
    const revert = (schema: string) => [
      `ALTER TABLE ${schema}.durabletasks_tasks DROP COLUMN started_at, DROP COLUMN ended_at, DROP COLUMN runner_id, DROP COLUMN attempt_history`,
    ]
    await migratePostgresFrom(t, { version: 7, workflows: [OLD_WORKFLOW], revert }, assertMigrated)
  })
})
