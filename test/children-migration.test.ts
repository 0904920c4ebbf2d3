/**
 * The parent link of child workflows (SQLite schema 5, Postgres schema 6) on
 * a store made by the version before it: opening it migrates it, keeps its
 * workflows (with no parent), and child workflow steps run on it.
 */
import assert from "node:assert/strict"
import { describe, it, type TestContext } from "node:test"
import type Database from "better-sqlite3"
import { type TaskRunner } from "../src/index.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { migratePostgresFrom, migrateSQLiteFrom } from "./helpers/migration.js"
import { adminQuery } from "./helpers/postgres.js"
import { resultOf, startRunner } from "./helpers/runner.js"

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

const OLD_WORKFLOW = { id: "before-children", now: 1, tasks: [{ name: "a", task: "Echo", data: "1" }] }

describe("child workflows on a store made before the parent link", () => {
  it("SQLite: migrates a version 4 file to version 5", async (t) => {
    const revert = (db: Database.Database) => {
      db.exec("DROP INDEX durabletasks_workflows_parent")
      db.exec("ALTER TABLE durabletasks_workflows DROP COLUMN parent_id; ALTER TABLE durabletasks_workflows DROP COLUMN parent_seq")
    }
    await migrateSQLiteFrom({ version: 4, workflows: [OLD_WORKFLOW], revert }, async (migrated) => {
      const columns = (migrated.db.prepare("PRAGMA table_info(durabletasks_workflows)").all() as Array<{ name: string }>).map((c) => c.name)
      assert.ok(columns.includes("parent_id") && columns.includes("parent_seq"), `columns after migration: ${columns.join(", ")}`)
      await assertMigrated(t, migrated)
    })
  })

  it("Postgres: migrates version 5 tables to version 6", async (t) => {
    const revert = (schema: string) => [`ALTER TABLE ${schema}.durabletasks_workflows DROP COLUMN parent_id, DROP COLUMN parent_seq`]
    await migratePostgresFrom(t, { version: 5, workflows: [OLD_WORKFLOW], revert }, async (migrated, schema) => {
      const indexes = await adminQuery<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname = 'durabletasks_workflows_parent'", [schema])
      assert.equal(indexes.length, 1, "the parent index was not made")
      await assertMigrated(t, migrated)
    })
  })
})
