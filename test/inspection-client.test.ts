/**
 * The client's inspection calls: filters it checks before any read, and
 * providers without the `inspection` capability refused with a message
 * instead of being handed filter fields they would ignore.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, WorkflowClient } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { STORAGE_CONTRACT_VERSION, type StorageProvider } from "../src/storage/provider.js"

/** A memory provider that declares only `core`, as a provider of someone's own might. */
function coreOnly(): StorageProvider {
  const p = new MemoryStorageProvider()
  Object.defineProperty(p, "capabilities", { value: { contract: STORAGE_CONTRACT_VERSION, supports: [] } })
  return p
}

describe("WorkflowClient inspection", () => {
  it("refuses inspection filters, stats and purge by status on a provider without the capability, and keeps the core calls", async (t) => {
    const client = new WorkflowClient({ storageProvider: coreOnly() })
    t.after(() => client.close())
    await client.addWorkflow({ workflowID: "a", tasks: { x: { task: "X" } } })
    await assert.rejects(client.listWorkflows({ runner: "X" }), (e: unknown) => e instanceof ValidationError && /"inspection" capability/.test(e.message))
    await assert.rejects(client.listWorkflows({ order: "newest" }), ValidationError)
    await assert.rejects(client.getWorkflowStats(), ValidationError)
    await assert.rejects(client.deleteEndedWorkflows(0, { statuses: ["failed"] }), ValidationError)
    await assert.rejects(client.deleteEndedWorkflows(0, { dryRun: true }), ValidationError)
    assert.deepEqual((await client.listWorkflows({ status: "pending" })).map((w) => w.id), ["a"])
    assert.equal(await client.deleteEndedWorkflows(0), 0)
  })

  it("checks filters before reading: cursors belong to their order, statuses to ended ones", async (t) => {
    const client = new WorkflowClient({ storageProvider: new MemoryStorageProvider() })
    t.after(() => client.close())
    await assert.rejects(client.listWorkflows({ order: "newest", afterID: "x" }), /pass cursor/)
    await assert.rejects(client.listWorkflows({ cursor: { id: "x", createdAt: 1 } }), /in ID order pass afterID/)
    await assert.rejects(client.listWorkflows({ createdAfter: Number.NaN }), /createdAfter must be a Date/)
    await assert.rejects(client.listWorkflows({ idPrefix: "" }), /idPrefix must be a non-empty string/)
    await assert.rejects(client.deleteEndedWorkflows(0, { statuses: ["pending" as "failed"] }), /pending workflows are never deleted/)
  })

  it("pages newest first with a summary as the cursor, and purges by status with a dry run first", async (t) => {
    let now = 1_000
    const client = new WorkflowClient({ storageProvider: new MemoryStorageProvider(), clock: () => now })
    t.after(() => client.close())
    for (const id of ["a", "b", "c"]) {
      now += 10
      await client.addWorkflow({ workflowID: id, tasks: { x: { task: "X" } } })
    }
    const first = await client.listWorkflows({ order: "newest", limit: 2 })
    assert.deepEqual(first.map((w) => w.id), ["c", "b"])
    assert.deepEqual((await client.listWorkflows({ order: "newest", cursor: first.at(-1) })).map((w) => w.id), ["a"])
    assert.equal(await client.cancelWorkflow("a"), true)
    now += 60_000
    assert.equal(await client.deleteEndedWorkflows(1_000, { statuses: ["failed"], dryRun: true }), 0)
    assert.equal(await client.deleteEndedWorkflows(1_000, { statuses: ["cancelled"], dryRun: true }), 1)
    assert.ok(await client.getWorkflow("a"), "a dry run deleted")
    assert.equal(await client.deleteEndedWorkflows(1_000, { statuses: ["cancelled"] }), 1)
    const stats = await client.getWorkflowStats({ windowMS: 1_000 })
    assert.deepEqual(stats.counts, { pending: 2, completed: 0, failed: 0, cancelled: 0 })
    assert.deepEqual(stats.oldestPending, { id: "b", createdAt: new Date(1_020) })
  })
})
