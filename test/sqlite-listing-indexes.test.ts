/**
 * SQLite's newest-first listing without an index by status over every
 * workflow (it cost 15 % of end-to-end throughput): the indexes a file has,
 * the index each status's page reads (no sort of every row of a status), and
 * the right rows both ways a pending list can go (a few pending workflows
 * through the claim index; more than FEW_PENDING through the time index).
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import type { NewWorkflow, WorkflowStatus } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { FEW_PENDING } from "../src/storage/sqlite/inspection.js"
import { onTestEnd } from "./helpers/wait.js"

function open(t: Parameters<typeof onTestEnd>[0]): SQLiteStorageProvider {
  const dir = mkdtempSync(join(tmpdir(), "dt-listing-indexes-"))
  const storage = new SQLiteStorageProvider(join(dir, "store.sqlite"))
  onTestEnd(t, "close and remove the store", async () => {
    await storage.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return storage
}

/** `count` one-task workflows, `w-00000`, `w-00001`, … created 10 ms apart from `from`. */
function workflows(count: number, from = 1_000): NewWorkflow[] {
  return Array.from({ length: count }, (_, i) => ({ id: `w-${String(i).padStart(5, "0")}`, now: from + i * 10, tasks: [{ name: "t", task: "T", data: "1" }] }))
}

/** The query plan of a newest-first page of `status`, as SQLite explains it. */
function plan(storage: SQLiteStorageProvider, status: WorkflowStatus): string {
  // The statement the provider prepares for that page: found by running the page and asking for the plan of the same SQL.
  const statements = (storage as unknown as { inspection: { listStatements: Map<string, unknown> } }).inspection.listStatements
  const sql = [...statements.keys()].filter((s) => s.includes(`w.status = '${status}'`)).at(-1)
  assert.ok(sql, `no statement listed ${status} workflows`)
  const params = [100_000_000_000, "", 50]
  const rows = storage.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params.slice(3 - (sql.match(/\?/g)?.length ?? 0))) as Array<{ detail: string }>
  return rows.map((r) => r.detail).join("; ")
}

describe("SQLite newest-first listing indexes", () => {
  it("has no index by status over every workflow, only partial ones for failed and cancelled, and the time index", async (t) => {
    const storage = open(t)
    await storage.init()
    const indexes = storage.db
      .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'durabletasks_workflows' AND sql IS NOT NULL ORDER BY name")
      .all() as Array<{ name: string; sql: string }>
    assert.deepEqual(
      indexes.map((i) => i.name),
      [
        "durabletasks_workflows_cancelled_created",
        "durabletasks_workflows_claimable",
        "durabletasks_workflows_created",
        "durabletasks_workflows_ended",
        "durabletasks_workflows_failed_created",
        "durabletasks_workflows_lease",
        "durabletasks_workflows_parent",
        "durabletasks_workflows_status",
      ],
    )
    assert.match(indexes.find((i) => i.name.endsWith("failed_created"))!.sql, /WHERE status = 'failed'/)
    assert.match(indexes.find((i) => i.name.endsWith("cancelled_created"))!.sql, /WHERE status = 'cancelled'/)
  })

  it("drops the index by status over every workflow from a file that has it", async (t) => {
    const storage = open(t)
    await storage.init()
    storage.db.exec("CREATE INDEX durabletasks_workflows_status_created ON durabletasks_workflows (status, created_at, id)")
    await storage.close()
    const reopened = new SQLiteStorageProvider(storage.db.name)
    try {
      const names = reopened.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").pluck().all()
      assert.ok(!names.includes("durabletasks_workflows_status_created"))
    } finally {
      await reopened.close()
    }
  })

  it("reads each status's newest-first page from an index in that order, without sorting every row of the status", async (t) => {
    const storage = open(t)
    await storage.insertWorkflowsAndTasks(workflows(10))
    for (const status of ["completed", "failed", "cancelled"] as const) {
      await storage.listWorkflows({ order: "newest", status, limit: 50 })
      const detail = plan(storage, status)
      assert.match(detail, new RegExp(`USING (COVERING )?INDEX durabletasks_workflows_(${status === "completed" ? "created" : `${status}_created`})`), detail)
      assert.doesNotMatch(detail, /TEMP B-TREE/, `${status}: ${detail}`)
    }
  })

  it(`lists pending workflows newest first, and finds the oldest, with a few pending and with more than ${FEW_PENDING}`, async (t) => {
    const storage = open(t)
    const all = workflows(FEW_PENDING + 200)
    await storage.insertWorkflowsAndTasks(all)
    const ids = async (cursor?: { createdAt: number; id: string }) =>
      (await storage.listWorkflows({ order: "newest", status: "pending", limit: 3, ...(cursor ? { cursor } : {}) })).map((w) => w.id)
    const newest = all.slice(-3).reverse().map((w) => w.id)
    // More than FEW_PENDING pending: through the time index.
    assert.deepEqual(await ids(), newest)
    assert.deepEqual(await ids({ createdAt: all[100]!.now, id: all[100]!.id }), ["w-00099", "w-00098", "w-00097"])
    assert.equal((await storage.getWorkflowStats({ endedSince: 0 })).oldestPending?.id, "w-00000")
    assert.match(plan(storage, "pending"), /INDEX durabletasks_workflows_created/)

    // All but a few ended (the oldest and two of the newest stay pending): through the claim index.
    const keep = new Set(["w-00000", all.at(-1)!.id, all.at(-3)!.id])
    storage.db.prepare("UPDATE durabletasks_workflows SET status = 'completed' WHERE id NOT IN (?, ?, ?)").run(...keep)
    assert.deepEqual(await ids(), [all.at(-1)!.id, all.at(-3)!.id, "w-00000"])
    assert.deepEqual(await ids({ createdAt: all.at(-3)!.now, id: all.at(-3)!.id }), ["w-00000"])
    assert.equal((await storage.getWorkflowStats({ endedSince: 0 })).oldestPending?.id, "w-00000")
    storage.db.prepare("UPDATE durabletasks_workflows SET status = 'completed' WHERE id = 'w-00000'").run()
    assert.equal((await storage.getWorkflowStats({ endedSince: 0 })).oldestPending?.id, all.at(-3)!.id)
    assert.match(plan(storage, "pending"), /INDEX durabletasks_workflows_claimable/)
  })
})
