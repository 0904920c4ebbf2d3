/**
 * Events on a store made by the previous schema version (SQLite 4, Postgres
 * 5, before events): opening it migrates it (the events table, the event
 * columns of steps and their indexes), keeps its workflows, and a workflow
 * added afterwards waits for and takes an event.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowRunner } from "../src/index.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { migratePostgresFrom, migrateSQLiteFrom, SQLITE_DROP_EVENTS } from "./helpers/migration.js"
import { adminQuery } from "./helpers/postgres.js"
import { waitFor } from "./helpers/wait.js"

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
    await migrateSQLiteFrom({ version: 4, workflows: [OLD_WORKFLOW], revert: (db) => db.exec(SQLITE_DROP_EVENTS) }, async (migrated) => {
      const columns = (migrated.db.prepare("PRAGMA table_info(durabletasks_tasks)").all() as Array<{ name: string }>).map((c) => c.name)
      for (const c of ["event_name", "event_key", "event_after", "event_seq"]) assert.ok(columns.includes(c), `column ${c} missing`)
      const indexes = migrated.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'durabletasks_events_%' OR name = 'durabletasks_tasks_waiting' ORDER BY name").pluck().all()
      assert.deepEqual(indexes, ["durabletasks_events_match", "durabletasks_events_sent", "durabletasks_tasks_waiting"])
      await assertMigrated(migrated)
    })
  })

  it("Postgres: migrates version 5 tables to version 6", async (t) => {
    const revert = (schema: string) => [
      `DROP TABLE ${schema}.durabletasks_events`,
      `ALTER TABLE ${schema}.durabletasks_tasks DROP COLUMN event_name, DROP COLUMN event_key, DROP COLUMN event_after, DROP COLUMN event_seq`,
    ]
    await migratePostgresFrom(t, { version: 5, workflows: [OLD_WORKFLOW], revert }, async (migrated, schema) => {
      const indexes = await adminQuery<{ indexname: string }>(
        "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND (tablename = 'durabletasks_events' OR indexname = 'durabletasks_tasks_event_waits') ORDER BY indexname",
        [schema],
      )
      assert.deepEqual(
        indexes.map((i) => i.indexname),
        ["durabletasks_events_event_id_key", "durabletasks_events_match", "durabletasks_events_pkey", "durabletasks_events_sent", "durabletasks_tasks_event_waits"],
      )
      await assertMigrated(migrated)
    })
  })
})
