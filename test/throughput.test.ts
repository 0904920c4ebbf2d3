/**
 * `getWorkflowThroughput`: ends per status in each interval of the window,
 * oldest first, every interval present (zeros too), the window aligned to
 * whole intervals; and its refusals (bad options, a provider without the read).
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, WorkflowClient } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"

const MINUTE = 60_000
const LEASE = { owner: "t", token: "tok", expiresAt: 1e13 }

describe("getWorkflowThroughput", () => {
  it("counts ends per minute over the last hour, oldest first, with empty minutes as zeros", async (t) => {
    const now = 28_333_333 * MINUTE + 30_000 // half a minute into a minute
    const storage = new MemoryStorageProvider()
    const client = new WorkflowClient({ storageProvider: storage, clock: () => now })
    t.after(() => client.close())
    const ids = ["a", "b", "c", "d"]
    await storage.insertWorkflowsAndTasks(ids.map((id) => ({ id, now: now - 2 * 60 * MINUTE, tasks: [{ name: "x", task: "X", data: "null" }], lease: LEASE })))
    const end = (id: string, at: number, status: "completed" | "failed") =>
      ({ kind: "endWorkflow", workflowID: id, token: LEASE.token, now: at, counts: { recoveries: 0, crashes: 0 }, status }) as const
    await storage.applyWorkflowWrites([end("a", now, "completed"), end("b", now - 1_000, "failed"), end("c", now - 59 * MINUTE, "completed"), end("d", now - 61 * MINUTE, "completed")])
    const series = await client.getWorkflowThroughput()
    assert.equal(series.intervalMS, MINUTE)
    assert.equal(series.intervals.length, 60)
    const last = series.intervals.at(-1)!
    assert.equal(last.start.getTime(), now - 30_000, "the last interval is the current minute")
    assert.deepEqual({ ...last, start: undefined }, { start: undefined, completed: 1, failed: 1, cancelled: 0 })
    assert.deepEqual(series.intervals[0], { start: new Date(now - 30_000 - 59 * MINUTE), completed: 1, failed: 0, cancelled: 0 })
    const total = series.intervals.reduce((sum, i) => sum + i.completed + i.failed + i.cancelled, 0)
    assert.equal(total, 3, "the end before the window is not counted")
  })

  it("refuses bad options, and a provider that declares inspection without the read", async (t) => {
    const client = new WorkflowClient({ storageProvider: new MemoryStorageProvider() })
    t.after(() => client.close())
    await assert.rejects(client.getWorkflowThroughput({ intervalMS: 0 }), ValidationError)
    await assert.rejects(client.getWorkflowThroughput({ windowMS: 1_001 * MINUTE }), /at most 1000 intervals/)
    const without = new MemoryStorageProvider()
    Object.defineProperty(without, "countEndsByInterval", { value: undefined })
    const older = new WorkflowClient({ storageProvider: without })
    t.after(() => older.close())
    await assert.rejects(older.getWorkflowThroughput(), /countEndsByInterval/)
  })
})
