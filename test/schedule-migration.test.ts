/**
 * Schema version 3 (schedules) on a store made by version 2 (the schema
 * before schedules): opening it migrates it, keeps its workflows, and
 * schedules work on it. SQLite and Postgres.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import Database from "better-sqlite3"
import { WorkflowClient } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { adminQuery, connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"

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

describe("schedules on a store made by schema version 2", () => {
  it("SQLite: migrates a version 2 file to version 3", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dt-schedule-migration-"))
    const file = join(dir, "v2.sqlite")
    try {
      const made = new SQLiteStorageProvider(file)
      await made.insertWorkflowsAndTasks([{ id: "from-version-2", now: 1, tasks: [{ name: "a", task: "T", data: "1" }] }])
      // Back to exactly what version 2 made: no schedules table, version 2.
      made.db.exec("ALTER TABLE durabletasks_tasks DROP COLUMN kind; ALTER TABLE durabletasks_tasks DROP COLUMN wake_at")
      made.db.exec("DROP TABLE durabletasks_schedules; UPDATE durabletasks_schema SET version = 2")
      await made.close()
      const raw = new Database(file)
      assert.equal((raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'durabletasks_schedules%'").get() as { n: number }).n, 0)
      raw.close()

      const migrated = new SQLiteStorageProvider(file)
      assert.equal((migrated.db.prepare("SELECT version FROM durabletasks_schema").get() as { version: number }).version, 5)
      const indexes = migrated.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'durabletasks_schedules' AND sql IS NOT NULL ORDER BY name").pluck().all()
      assert.deepEqual(indexes, ["durabletasks_schedules_buffered", "durabletasks_schedules_due"])
      await assertMigrated(migrated)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("Postgres: migrates version 2 tables to version 3 (schedules) and on to version 5 (step kinds)", async (t) => {
    const reason = await postgresSkipReason()
    if (reason !== undefined) return t.skip(reason)
    const schema = uniqueSchemaName()
    try {
      const made = new PostgresStorageProvider(connectionString, { schema })
      await made.init()
      await made.insertWorkflowsAndTasks([{ id: "from-version-2", now: 1, tasks: [{ name: "a", task: "T", data: "1" }] }])
      await made.close()
      await adminQuery(`DROP TABLE ${schema}.durabletasks_schedules`)
      await adminQuery(`ALTER TABLE ${schema}.durabletasks_tasks DROP COLUMN kind, DROP COLUMN wake_at`)
      await adminQuery(`DELETE FROM ${schema}.durabletasks_schema_version WHERE version >= 3`)

      const migrated = new PostgresStorageProvider(connectionString, { schema })
      await migrated.init()
      const versions = await adminQuery<{ version: number }>(`SELECT version FROM ${schema}.durabletasks_schema_version ORDER BY version`)
      assert.deepEqual(versions.map((v) => v.version), [1, 2, 3, 4, 5, 6, 7])
      const indexes = await adminQuery<{ indexname: string }>(
        "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'durabletasks_schedules' ORDER BY indexname",
        [schema],
      )
      assert.deepEqual(indexes.map((i) => i.indexname), ["durabletasks_schedules_buffered", "durabletasks_schedules_due", "durabletasks_schedules_pkey"])
      await assertMigrated(migrated)
    } finally {
      await dropSchema(schema)
    }
  })
})
