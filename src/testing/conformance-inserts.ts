/**
 * The core part of the conformance suite that proves inserts: pending rows
 * in seq order, idempotent by ID (in one batch and under concurrent
 * inserts), JSON text kept byte for byte, and a workflow inserted already
 * leased.
 *
 * @module
 */
import assert from "node:assert/strict"
import { it } from "node:test"
import { A, B, T0, claim, ids, newWorkflow, uid, type CorePartContext } from "./conformance-fixtures.js"
import type { NewWorkflow } from "../storage/provider.js"

/** Registers the insert tests. */
export function runInsertConformance({ open, shared, timeout }: CorePartContext): void {
  it("inserts a workflow and its tasks, pending, in seq order", { timeout }, async () => {
    const p = await open()
    const id = uid()
    assert.deepEqual(await p.insertWorkflowsAndTasks([newWorkflow(id, 3)]), [true])
    const stored = await p.getWorkflow(id)
    assert.ok(stored)
    assert.equal(stored.workflow.status, "pending")
    assert.equal(stored.workflow.taskCount, 3)
    assert.equal(stored.workflow.leaseOwner, null)
    assert.equal(stored.workflow.availableAt, T0)
    assert.deepEqual(
      stored.tasks.map((t) => [t.seq, t.name, t.task, t.data, t.status, t.result, t.error, t.attempts]),
      [
        [0, "t0", "Runner", '{"i":0}', "pending", null, null, 0],
        [1, "t1", "Runner", '{"i":1}', "pending", null, null, 0],
        [2, "t2", "Runner", '{"i":2}', "pending", null, null, 0],
      ],
    )
  })

  it("keeps an existing workflow unchanged when its ID is inserted again", { timeout }, async () => {
    const p = await open()
    const id = uid()
    await p.insertWorkflowsAndTasks([newWorkflow(id, 2)])
    const other: NewWorkflow = { id, now: T0 + 5, tasks: [{ name: "x", task: "Other", data: '"changed"' }] }
    assert.deepEqual(await p.insertWorkflowsAndTasks([other, newWorkflow(id, 1)]), [false, false])
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.tasks.length, 2)
    assert.equal(stored?.tasks[0]?.name, "t0")
    assert.equal(stored?.workflow.createdAt, T0)
  })

  it("reports the second of two equal IDs in one batch as existing", { timeout }, async () => {
    const p = await open()
    const id = uid()
    assert.deepEqual(await p.insertWorkflowsAndTasks([newWorkflow(id, 1), newWorkflow(id, 4)]), [true, false])
    assert.equal((await p.getWorkflow(id))?.tasks.length, 1)
  })

  it("creates a workflow exactly once under concurrent inserts of one ID", { timeout }, async () => {
    const ps = shared ? [await open(), await open()] : [await open()]
    const id = uid()
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => ps[i % ps.length]!.insertWorkflowsAndTasks([newWorkflow(id, 1 + (i % 3))])),
    )
    assert.equal(results.flat().filter(Boolean).length, 1)
    const stored = await ps[0]!.getWorkflow(id)
    assert.equal(stored?.tasks.length, stored?.workflow.taskCount)
  })

  it("stores JSON text byte for byte", { timeout }, async () => {
    const p = await open()
    const id = uid()
    // JSON.stringify escapes U+0000 and lone surrogates, so the text itself holds neither.
    const data = JSON.stringify({ s: "héllo ✓ 𝄞 \u0000 \"q\" \\", lone: "\ud800 \udfff", n: 1.5e300, big: "x".repeat(200_000) })
    await p.insertWorkflowsAndTasks([{ id, now: T0, tasks: [{ name: "a", task: "R", data }] }])
    assert.equal((await p.getWorkflow(id))?.tasks[0]?.data, data)
  })

  it("inserts a workflow already leased to its inserter", { timeout }, async () => {
    const p = await open()
    const id = uid()
    await p.insertWorkflowsAndTasks([{ ...newWorkflow(id, 1), lease: { ...A, expiresAt: T0 + 1000 } }])
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.leaseOwner, A.owner)
    assert.equal(stored?.workflow.leaseToken, A.token)
    assert.equal(stored?.workflow.availableAt, T0 + 1000)
    assert.deepEqual(ids(await p.claimWorkflows(claim(B, T0 + 999, 10))).filter((x) => x === id), [])
    assert.deepEqual(ids(await p.claimWorkflows(claim(B, T0 + 1000, 100))).filter((x) => x === id), [id])
  })
}
