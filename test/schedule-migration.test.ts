/**
 * Schema version 3 (schedules) on a store made by version 2 (the schema
 * before schedules): opening it migrates it, keeps its workflows, and
 * schedules work on it. SQLite and Postgres.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type Database from "better-sqlite3"
import { WorkflowClient } from "../src/index.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { migratePostgresFrom, migrateSQLiteFrom, SQLITE_DROP_EVENTS } from "./helpers/migration.js"
import { adminQuery } from "./helpers/postgres.js"

/** On a migrated store: the old workflow is there, and a schedule can be declared, triggered and read. */
async function assertMigrated(storage: StorageProvider): Promise<void> {
  const client = new WorkflowClient({ storageProvider: storage })
  try {
    const old = await client.getWorkflow("from-version-2")
    assert.equal(old?.status, "pending", "the version 2 workflow was lost")
    assert.equal(old?.tasks[0]?.kind, "task", "a task stored before step kinds is a task step")
    assert.equal((await client.schedule({ id: "after-migration", cron: "0 * * * *", workflow: { tasks: { t: { task: "T" } } } })).outcome, "created")
    const handle = await client.triggerSchedule("after-migration")
    assert.ok(handle?.created)
    const info = await client.getSchedule("after-migration")
    assert.equal(info?.lastWorkflow?.id, handle.id)
    assert.equal(info?.lastWorkflow?.status, "pending")
  } finally {
    await client.close()
  }
}

const OLD_WORKFLOW = { id: "from-version-2", now: 1, tasks: [{ name: "a", task: "T", data: "1" }] }

describe("schedules on a store made by schema version 2", () => {
  it("SQLite: migrates a version 2 file to version 3", async () => {
    // Back to exactly what version 2 made: no schedules table, version 2.
    const revert = (db: Database.Database) => {
      db.exec("ALTER TABLE durabletasks_tasks DROP COLUMN kind; ALTER TABLE durabletasks_tasks DROP COLUMN wake_at")
      db.exec(SQLITE_DROP_EVENTS)
      db.exec("DROP TABLE durabletasks_schedules")
      assert.equal((db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'durabletasks_schedules%'").get() as { n: number }).n, 0)
    }
    await migrateSQLiteFrom({ version: 2, workflows: [OLD_WORKFLOW], revert }, async (migrated) => {
      const indexes = migrated.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'durabletasks_schedules' AND sql IS NOT NULL ORDER BY name").pluck().all()
      assert.deepEqual(indexes, ["durabletasks_schedules_buffered", "durabletasks_schedules_due"])
      await assertMigrated(migrated)
    })
  })

  it("Postgres: migrates version 2 tables to version 3 (schedules) and on to version 5 (step kinds)", async (t) => {
    const revert = (schema: string) => [
      `DROP TABLE ${schema}.durabletasks_schedules`,
      `ALTER TABLE ${schema}.durabletasks_tasks DROP COLUMN kind, DROP COLUMN wake_at, DROP COLUMN event_name, DROP COLUMN event_key, DROP COLUMN event_after, DROP COLUMN event_seq`,
      `DROP TABLE ${schema}.durabletasks_events`,
    ]
    await migratePostgresFrom(t, { version: 2, workflows: [OLD_WORKFLOW], revert }, async (migrated, schema) => {
      const indexes = await adminQuery<{ indexname: string }>(
        "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'durabletasks_schedules' ORDER BY indexname",
        [schema],
      )
      assert.deepEqual(indexes.map((i) => i.indexname), ["durabletasks_schedules_buffered", "durabletasks_schedules_due", "durabletasks_schedules_pkey"])
      await assertMigrated(migrated)
    })
  })
})
