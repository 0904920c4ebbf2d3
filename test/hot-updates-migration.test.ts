/**
 * Postgres schema version 10 (a run's writes are HOT updates, see
 * src/storage/postgres/hot-updates.ts) on tables made by version 9: a lease
 * held when the tables are upgraded keeps its expiry, claims skip it until
 * then and take it over after, and the old indexes are replaced.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type { PostgresStorageProvider } from "../src/storage/postgres.js"
import { adminQuery } from "./helpers/postgres.js"
import { endedAtColumn, hotUpdateColumns } from "../src/storage/postgres/hot-updates.js"
import { postgresNames } from "../src/storage/postgres/names.js"
import { migratePostgresFrom } from "./helpers/migration.js"

const EXPIRES = 10_000_000
const LEASE = { owner: "old-runner", token: "old-token", expiresAt: EXPIRES }
const task = { name: "a", task: "T", data: "1" }
const LEASED = { id: "leased-before", now: 1, tasks: [task], lease: LEASE }
const FREE = { id: "free-before", now: 2, tasks: [task] }
/** Ended under version 9 (at 50), so retention finds it by the generated ended_at. */
const DONE = { id: "done-before", now: 3, tasks: [task] }

/** Statements that take version 10 tables back to exactly what version 9 made, a leased row's expiry in available_at. */
function revertTo9(schema: string): string[] {
  const w = `${schema}.durabletasks_workflows`
  const t = `${schema}.durabletasks_tasks`
  return [
    `UPDATE ${w} SET available_at = lease_expires_at WHERE lease_token IS NOT NULL`,
    `UPDATE ${w} SET status = 'completed', updated_at = 50 WHERE id = '${DONE.id}'`,
    `DROP INDEX ${schema}.durabletasks_workflows_ended_at`,
    `DROP INDEX ${schema}.durabletasks_tasks_event_waits`,
    `DROP INDEX ${schema}.durabletasks_workflows_not_completed`,
    `CREATE INDEX durabletasks_workflows_status ON ${w} (status, id)`,
    `ALTER TABLE ${w} DROP COLUMN lease_expires_at, DROP COLUMN ended_at`,
    `ALTER TABLE ${w} RESET (fillfactor, autovacuum_vacuum_cost_delay, autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor)`,
    `ALTER TABLE ${t} RESET (fillfactor, autovacuum_vacuum_cost_delay, autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor)`,
    `CREATE INDEX durabletasks_workflows_leased ON ${w} (lease_owner) WHERE status = 'pending'`,
    `CREATE INDEX durabletasks_workflows_ended ON ${w} (updated_at) WHERE status <> 'pending'`,
    `CREATE INDEX durabletasks_tasks_waiting ON ${t} (event_name, event_key) WHERE status = 'pending' AND event_name IS NOT NULL`,
  ]
}

async function assertMigrated(storage: PostgresStorageProvider, schema: string): Promise<void> {
  const leased = await storage.getWorkflow(LEASED.id)
  assert.equal(leased?.workflow.leaseToken, LEASE.token)
  assert.equal(leased?.workflow.availableAt, EXPIRES, "a lease held across the upgrade keeps its expiry")

  const lease = (token: string) => ({ owner: "new-runner", token, expiresAt: EXPIRES * 2 })
  const early = await storage.claimWorkflows({ lease: lease("t1"), now: 5_000, limit: 10, reclaimOwn: false })
  assert.deepEqual(early.map((c) => c.workflow.id), [FREE.id], "the old lease holds until its expiry")
  const late = await storage.claimWorkflows({ lease: lease("t2"), now: EXPIRES + 1, limit: 10, reclaimOwn: false })
  assert.deepEqual(late.map((c) => c.workflow.id), [LEASED.id], "an expired lease is taken over")
  assert.equal(late[0]?.workflow.recoveries, 1)
  assert.equal(late[0]?.workflow.availableAt, EXPIRES * 2)

  assert.equal(await storage.deleteEndedWorkflows(50), 0, "ended at 50, not before")
  assert.equal(await storage.deleteEndedWorkflows(51), 1, "retention finds a workflow ended before the upgrade")
  assert.equal(await storage.getWorkflow(DONE.id), null)

  const indexes = await adminQuery<{ indexname: string }>(
    "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname ~ '(leased|ended|waiting|event_waits|status|completed)' ORDER BY indexname",
    [schema],
  )
  assert.deepEqual(indexes.map((i) => i.indexname), ["durabletasks_tasks_event_waits", "durabletasks_workflows_ended_at", "durabletasks_workflows_not_completed"])
  const options = await adminQuery<{ relname: string; reloptions: string[] | null }>(
    "SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname IN ('durabletasks_workflows', 'durabletasks_tasks') ORDER BY c.relname",
    [schema],
  )
  const autovacuum = [
    "autovacuum_vacuum_cost_delay=0",
    "autovacuum_vacuum_scale_factor=0.05",
    "autovacuum_vacuum_insert_scale_factor=0.05",
    "autovacuum_analyze_scale_factor=0.05",
  ]
  assert.deepEqual(
    options.map((o) => [o.relname, o.reloptions]),
    [
      ["durabletasks_tasks", ["fillfactor=50", ...autovacuum]],
      ["durabletasks_workflows", ["fillfactor=40", ...autovacuum]],
    ],
  )
}

describe("HOT-update columns on tables made by the schema version before them", () => {
  it("Postgres: migrates version 9 tables to version 10, keeping a held lease", async (t) => {
    await migratePostgresFrom(t, { version: 9, workflows: [LEASED, FREE, DONE], revert: revertTo9 }, assertMigrated)
  })

  it("Postgres: a runner restarted under the same ID takes back at once a lease held across the upgrade (reclaimOwn)", async (t) => {
    await migratePostgresFrom(t, { version: 9, workflows: [LEASED, FREE, DONE], revert: revertTo9 }, async (storage) => {
      const again = { owner: LEASE.owner, token: "old-runner-restarted", expiresAt: EXPIRES * 2 }
      const claimed = await storage.claimWorkflows({ lease: again, now: 5_000, limit: 10, reclaimOwn: true })
      assert.deepEqual(claimed.map((c) => c.workflow.id).sort(), [FREE.id, LEASED.id].sort())
      assert.equal(claimed.find((c) => c.workflow.id === LEASED.id)?.workflow.availableAt, EXPIRES * 2)
    })
  })

  it("Postgres: a lease an old (version 9) runner takes after the upgrade expires when its available_at does", async (t) => {
    await migratePostgresFrom(t, { version: 9, workflows: [FREE], revert: revertTo9 }, async (storage, schema) => {
      // Version 9's claim, as a runner started before the upgrade still runs it: the expiry in available_at only.
      await adminQuery(
        `UPDATE ${schema}.durabletasks_workflows SET lease_owner = 'v9-runner', lease_token = 'v9-token', available_at = ${EXPIRES} WHERE id = '${FREE.id}'`,
      )
      assert.equal((await storage.getWorkflow(FREE.id))?.workflow.availableAt, EXPIRES, "its availableAt is its lease's expiry")
      const lease = (token: string) => ({ owner: "new-runner", token, expiresAt: EXPIRES * 2 })
      assert.deepEqual(await storage.claimWorkflows({ lease: lease("t1"), now: EXPIRES - 1, limit: 10, reclaimOwn: false }), [])
      const late = await storage.claimWorkflows({ lease: lease("t2"), now: EXPIRES + 1, limit: 10, reclaimOwn: false })
      assert.deepEqual(late.map((c) => c.workflow.id), [FREE.id], "taken over once the old runner's lease has expired")
      // Renewed by the old runner (available_at only) after a version 10 runner had leased it: the later expiry counts.
      await adminQuery(`UPDATE ${schema}.durabletasks_workflows SET lease_owner = 'v9-runner', lease_token = 'v9-token', available_at = ${EXPIRES * 3} WHERE id = '${FREE.id}'`)
      assert.equal((await storage.getWorkflow(FREE.id))?.workflow.availableAt, EXPIRES * 3)
    })
  })
})

describe("version 10 on CockroachDB and YugabyteDB", () => {
  for (const kind of ["cockroachdb", "yugabytedb"] as const) {
    it(`${kind}: no generated column (YugabyteDB before 2025.1 has none) nor table settings; ended workflows stay indexed by updated_at`, () => {
      const sql = hotUpdateColumns(postgresNames("s", "durabletasks_"), kind).join("\n")
      assert.doesNotMatch(sql, /GENERATED|fillfactor|autovacuum/)
      assert.doesNotMatch(sql, /DROP INDEX IF EXISTS s\.durabletasks_workflows_ended\b/)
      assert.equal(endedAtColumn(kind), "updated_at")
    })
  }
  it("cockroachdb: no write to the column the same transaction adds (cockroachdb/cockroach#43057)", () => {
    assert.doesNotMatch(hotUpdateColumns(postgresNames("s", "durabletasks_"), "cockroachdb").join("\n"), /UPDATE/)
  })
  it("postgres: ended workflows by the generated ended_at", () => {
    assert.match(hotUpdateColumns(postgresNames("s", "durabletasks_"), "postgres").join("\n"), /GENERATED ALWAYS AS/)
    assert.equal(endedAtColumn("postgres"), "ended_at")
  })
})
