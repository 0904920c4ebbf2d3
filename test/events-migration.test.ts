/**
 * Events on a store made by the previous schema version (SQLite 4, Postgres
 * 5, before events): opening it migrates it (the events table, the event
 * columns of steps and their indexes), keeps its workflows, and a workflow
 * added afterwards waits for and takes an event.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { WorkflowRunner } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { adminQuery, connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"
import { waitFor } from "./helpers/wait.js"
import { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from "../src/storage/sqlite/schema.js"
import { SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION } from "../src/storage/postgres/schema.js"

const OLD_WORKFLOW = { id: "before-events", now: 1, tasks: [{ name: "a", task: "Echo", data: "1" }] }

/** Runs the old workflow and a new one that waits for an event, on the migrated store. */
async function assertMigrated(storage: StorageProvider): Promise<void> {
  const runner = new WorkflowRunner({ taskRunners: [{ Name: "Echo", Execute: () => ({ data: "echo" }) }], storageProvider: storage, pollIntervalMS: 50 })
  try {
    await runner.recover()
    const old = await waitFor(async () => ((await runner.getWorkflow("before-events"))?.status === "completed" ? true : undefined), {
      timeoutMS: 10_000,
      what: "the workflow stored before the migration to complete",
    })
    assert.equal(old, true)
    const handle = await runner.addWorkflow({ workflowID: "after-events", tasks: { wait: { waitForEvent: { name: "migrated", key: "k" } } } })
    const sent = await runner.sendEvent({ name: "migrated", key: "k", payload: 1 })
    const info = await waitFor(handle.result(), { timeoutMS: 10_000, what: "the new workflow to take its event" })
    assert.equal((info.tasks[0]?.result as { eventID: string }).eventID, sent.eventID)
  } finally {
    await runner.stop()
  }
}

describe("events on a store made by the schema version before them", () => {
  it("SQLite: migrates a version 4 file to version 5", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dt-events-migration-"))
    const file = join(dir, "v4.sqlite")
    try {
      const made = new SQLiteStorageProvider(file)
      await made.insertWorkflowsAndTasks([OLD_WORKFLOW])
      // Back to exactly what version 4 made.
      made.db.exec(`DROP INDEX durabletasks_tasks_waiting; DROP TABLE durabletasks_events;
        ALTER TABLE durabletasks_tasks DROP COLUMN event_name; ALTER TABLE durabletasks_tasks DROP COLUMN event_key;
        ALTER TABLE durabletasks_tasks DROP COLUMN event_after; ALTER TABLE durabletasks_tasks DROP COLUMN event_seq;
        UPDATE durabletasks_schema SET version = 4`)
      await made.close()

      const migrated = new SQLiteStorageProvider(file)
      assert.equal((migrated.db.prepare("SELECT version FROM durabletasks_schema").get() as { version: number }).version, SQLITE_SCHEMA_VERSION)
      const columns = (migrated.db.prepare("PRAGMA table_info(durabletasks_tasks)").all() as Array<{ name: string }>).map((c) => c.name)
      for (const c of ["event_name", "event_key", "event_after", "event_seq"]) assert.ok(columns.includes(c), `column ${c} missing`)
      const indexes = migrated.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'durabletasks_events_%' OR name = 'durabletasks_tasks_waiting' ORDER BY name").pluck().all()
      assert.deepEqual(indexes, ["durabletasks_events_match", "durabletasks_events_sent", "durabletasks_tasks_waiting"])
      await assertMigrated(migrated)
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
      await made.insertWorkflowsAndTasks([OLD_WORKFLOW])
      await made.close()
      await adminQuery(`DROP TABLE ${schema}.durabletasks_events`)
      await adminQuery(
        `ALTER TABLE ${schema}.durabletasks_tasks DROP COLUMN event_name, DROP COLUMN event_key, DROP COLUMN event_after, DROP COLUMN event_seq`,
      )
      await adminQuery(`DELETE FROM ${schema}.durabletasks_schema_version WHERE version >= 6`)

      const migrated = new PostgresStorageProvider(connectionString, { schema })
      await migrated.init()
      const versions = await adminQuery<{ version: number }>(`SELECT version FROM ${schema}.durabletasks_schema_version ORDER BY version`)
      assert.deepEqual(versions.map((v) => v.version), Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1))
      const indexes = await adminQuery<{ indexname: string }>(
        "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND (tablename = 'durabletasks_events' OR indexname = 'durabletasks_tasks_event_waits') ORDER BY indexname",
        [schema],
      )
      assert.deepEqual(
        indexes.map((i) => i.indexname),
        ["durabletasks_events_event_id_key", "durabletasks_events_match", "durabletasks_events_pkey", "durabletasks_events_sent", "durabletasks_tasks_event_waits"],
      )
      await assertMigrated(migrated)
    } finally {
      await dropSchema(schema)
    }
  })
})
