/**
 * On Postgres, the writes a workflow's run makes before it ends are HOT
 * updates (no index entries written): each claim, each lease renewal, each
 * recorded step, and each task's outcome. Only the end, which changes the
 * status, writes index entries. See src/storage/postgres/hot-updates.ts.
 *
 * Counted from the server's own statistics (`n_tup_upd`, `n_tup_hot_upd`),
 * over a backlog stored ahead and claimed in batches, the burn-down's shape,
 * where a claim writes every row of a page at once.
 */
import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import type { WorkflowWrite } from "../src/storage/provider.js"
import { adminQuery, connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"

const skip = await postgresSkipReason()

interface Updates {
  workflows: { upd: number; hot: number }
  tasks: { upd: number; hot: number }
}

/** The tables' update counters; waits until the server counts `expected` workflow updates (backends report them when they close). */
async function counters(schema: string, expected = 0): Promise<Updates> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const rows = await adminQuery<{ relname: string; upd: string; hot: string }>(
      `SELECT relname, n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables
       WHERE schemaname = $1 AND relname IN ('durabletasks_workflows', 'durabletasks_tasks')`,
      [schema],
    )
    const of = (name: string) => {
      const r = rows.find((x) => x.relname === name)
      return { upd: Number(r?.upd ?? 0), hot: Number(r?.hot ?? 0) }
    }
    const updates = { workflows: of("durabletasks_workflows"), tasks: of("durabletasks_tasks") }
    if (updates.workflows.upd >= expected || Date.now() > deadline) return updates
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("Postgres: a run's writes are HOT updates", { skip }, () => {
  const schema = uniqueSchemaName()
  const backlog = 3_000
  const batch = 100
  const taskCount = 3
  let before_: Updates
  let after_: Updates

  before(async () => {
    const loader = new PostgresStorageProvider(connectionString, { schema })
    await loader.init()
    for (let i = 0; i < backlog; i += 1_000) {
      await loader.insertWorkflowsAndTasks(
        Array.from({ length: 1_000 }, (_, k) => ({
          id: `w-${String(i + k).padStart(5, "0")}`,
          now: 1_000 + i + k,
          tasks: Array.from({ length: taskCount }, (_, seq) => ({ name: `t${seq}`, task: "T", data: "null" })),
        })),
      )
    }
    await loader.close()
    before_ = await counters(schema)

    const storage = new PostgresStorageProvider(connectionString, { schema })
    await storage.init()
    const now = 1_000_000
    const token = "token"
    const counts = { recoveries: 0, crashes: 0 }
    for (;;) {
      const claimed = await storage.claimWorkflows({ lease: { owner: "hot-test-runner", token, expiresAt: now + 60_000 }, now, limit: batch, reclaimOwn: false })
      if (claimed.length === 0) break
      const ids = claimed.map((c) => c.workflow.id)
      assert.deepEqual(await storage.renewLeases({ workflowIDs: ids, token, expiresAt: now + 120_000 }), ids)
      for (let seq = 0; seq < taskCount; seq++) {
        const last = seq === taskCount - 1
        const writes: WorkflowWrite[] = ids.map((workflowID) => {
          const task = { seq, status: "completed" as const, result: `"r${seq}"`, error: null, attempts: 1, startedAt: now, runnerID: "hot-test-runner" }
          return last
            ? { kind: "endWorkflow", workflowID, token, now: now + seq, counts, status: "completed", task }
            : { kind: "recordTask", workflowID, token, now: now + seq, counts, task }
        })
        assert.ok((await storage.applyWorkflowWrites(writes)).every(Boolean))
      }
    }
    await storage.close()
    // Per workflow: a claim, a renewal, two recorded steps, the end.
    after_ = await counters(schema, before_.workflows.upd + backlog * 5)
  })

  after(() => dropSchema(schema))

  it("claims, renewals and recorded steps write no index entries: only the end does", () => {
    const upd = after_.workflows.upd - before_.workflows.upd
    const hot = after_.workflows.hot - before_.workflows.hot
    assert.equal(upd, backlog * 5, "a claim, a renewal, two recorded steps and the end of each workflow")
    // Each of the 4 × backlog writes before the end is HOT when its page has room (a claim writes whole pages at once;
    // 94 % measured: room comes back when a page is pruned, which Postgres does on its own schedule).
    assert.ok(hot >= backlog * 4 * 0.9, `${hot} of ${backlog * 4} workflow writes before the end were HOT`)
    assert.ok(hot <= backlog * 4, `the end changes the status, which indexes hold: ${hot} HOT of ${upd}`)
  })

  it("a task's outcome writes no index entries", () => {
    const upd = after_.tasks.upd - before_.tasks.upd
    const hot = after_.tasks.hot - before_.tasks.hot
    assert.equal(upd, backlog * taskCount)
    assert.ok(hot >= backlog * taskCount * 0.9, `${hot} of ${upd} task outcomes were HOT`)
  })
})
