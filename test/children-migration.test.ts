/**
 * The parent link of child workflows (SQLite schema 5, Postgres schema 6) on
 * a store made by the version before it: opening it migrates it, keeps its
 * workflows (with no parent), and child workflow steps run on it.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it, type TestContext } from "node:test"
import { type TaskRunner } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { adminQuery, connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"
import { resultOf, startRunner } from "./helpers/runner.js"
import { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from "../src/storage/sqlite/schema.js"
import { SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION } from "../src/storage/postgres/schema.js"

const echo: TaskRunner<unknown, string, "Echo"> = { Name: "Echo", Execute: async (ctx) => ({ data: ctx.name }) }

/** On a migrated store: the old workflow has no parent, and a parent with a child runs to its end. */
async function assertMigrated(t: TestContext, storage: StorageProvider): Promise<void> {
  const old = await storage.getWorkflow("before-children")
  assert.equal(old?.workflow.status, "pending")
  assert.equal(old?.workflow.parentID ?? null, null)
  const runner = await startRunner(t, storage, [echo])
  const info = await resultOf(await runner.addWorkflow({ workflowID: "after", tasks: { kid: { workflow: { tasks: { x: { task: "Echo" } } } } } }))
  assert.deepEqual(info.tasks[0]?.result, { id: "after/kid", status: "completed", results: { x: "x" } })
  assert.equal((await storage.getWorkflow("after/kid"))?.workflow.parentID, "after")
  await runner.stop()
}

describe("child workflows on a store made before the parent link", () => {
  it("SQLite: migrates a version 4 file to version 5", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-children-migration-"))
    const file = join(dir, "v4.sqlite")
    try {
      const made = new SQLiteStorageProvider(file)
      await made.insertWorkflowsAndTasks([{ id: "before-children", now: 1, tasks: [{ name: "a", task: "Echo", data: "1" }] }])
      // Back to exactly what version 4 made.
      made.db.exec("DROP INDEX durabletasks_workflows_parent")
      made.db.exec("ALTER TABLE durabletasks_workflows DROP COLUMN parent_id; ALTER TABLE durabletasks_workflows DROP COLUMN parent_seq")
      made.db.exec("UPDATE durabletasks_schema SET version = 4")
      await made.close()

      const migrated = new SQLiteStorageProvider(file)
      assert.equal((migrated.db.prepare("SELECT version FROM durabletasks_schema").get() as { version: number }).version, SQLITE_SCHEMA_VERSION)
      const columns = (migrated.db.prepare("PRAGMA table_info(durabletasks_workflows)").all() as Array<{ name: string }>).map((c) => c.name)
      assert.ok(columns.includes("parent_id") && columns.includes("parent_seq"), `columns after migration: ${columns.join(", ")}`)
      await assertMigrated(t, migrated)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("Postgres: migrates version 5 tables to version 6", async (t) => {
    const reason = await postgresSkipReason()
    if (reason !== undefined) return t.skip(reason)
    const schema = uniqueSchemaName()
    try {
      const made = new PostgresStorageProvider(connectionString, { schema })
      await made.init()
      await made.insertWorkflowsAndTasks([{ id: "before-children", now: 1, tasks: [{ name: "a", task: "Echo", data: "1" }] }])
      await made.close()
      await adminQuery(`ALTER TABLE ${schema}.durabletasks_workflows DROP COLUMN parent_id, DROP COLUMN parent_seq`)
      await adminQuery(`DELETE FROM ${schema}.durabletasks_schema_version WHERE version >= 6`)

      const migrated = new PostgresStorageProvider(connectionString, { schema })
      await migrated.init()
      const versions = await adminQuery<{ version: number }>(`SELECT version FROM ${schema}.durabletasks_schema_version ORDER BY version`)
      assert.deepEqual(versions.map((v) => v.version), Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1))
      const indexes = await adminQuery<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname = 'durabletasks_workflows_parent'", [schema])
      assert.equal(indexes.length, 1, "the parent index was not made")
      await assertMigrated(t, migrated)
    } finally {
      await dropSchema(schema)
    }
  })
})
