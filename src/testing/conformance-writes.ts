/**
 * The core part of the conformance suite that proves the fenced writes of
 * `applyWorkflowWrites`: applied only under the lease token, ending or
 * failing a workflow with its task, parking it for a retry, and a batch
 * applied in order, each write fenced on its own.
 *
 * @module
 */
import assert from "node:assert/strict"
import { it } from "node:test"
import { A, B, NO_CRASHES, T0, claim, claimedWorkflow, completeTask, ending, ids, type CorePartContext } from "./conformance-fixtures.js"
import type { WorkflowWrite } from "../storage/provider.js"

/** Registers the fenced-write tests. */
export function runWriteConformance({ open, timeout }: CorePartContext): void {
  it("applies a fenced write only with the lease token", { timeout }, async () => {
    const p = await open()
    const id = await claimedWorkflow(p, 2)
    assert.deepEqual(await p.applyWorkflowWrites([completeTask(id, B.token, 0)]), [false])
    let stored = await p.getWorkflow(id)
    assert.equal(stored?.tasks[0]?.status, "pending", "a fenced update changed the task")
    assert.deepEqual(await p.applyWorkflowWrites([completeTask(id, A.token, 0)]), [true])
    stored = await p.getWorkflow(id)
    assert.equal(stored?.tasks[0]?.status, "completed")
    assert.equal(stored?.tasks[0]?.result, '"r0"')
    assert.equal(stored?.tasks[0]?.updatedAt, T0 + 7)
    assert.equal(stored?.workflow.status, "pending")
    assert.equal(stored?.workflow.leaseToken, A.token, "a task-only update keeps the lease")
  })

  it("ends a workflow and its last task in one write, clearing the lease", { timeout }, async () => {
    const p = await open()
    const id = await claimedWorkflow(p, 1)
    const applied = await p.applyWorkflowWrites([ending(completeTask(id, A.token, 0))])
    assert.deepEqual(applied, [true])
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.status, "completed")
    assert.equal(stored?.workflow.leaseOwner, null)
    assert.equal(stored?.workflow.leaseToken, null)
    assert.equal(stored?.tasks[0]?.status, "completed")
    assert.deepEqual(await p.applyWorkflowWrites([completeTask(id, A.token, 0)]), [false], "ended workflows take no writes")
  })

  it("fails a workflow with its task", { timeout }, async () => {
    const p = await open()
    const id = await claimedWorkflow(p, 2)
    const update: WorkflowWrite = {
      kind: "endWorkflow",
      status: "failed",
      workflowID: id,
      token: A.token,
      now: T0 + 9,
      counts: NO_CRASHES,
      task: { seq: 0, status: "failed", result: null, error: "nope", attempts: 0 },
    }
    assert.deepEqual(await p.applyWorkflowWrites([update]), [true])
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.status, "failed")
    assert.equal(stored?.tasks[0]?.error, "nope")
    assert.equal(stored?.tasks[1]?.status, "pending")
  })

  it("releases a workflow for a retry: pending, unleased, claimable at availableAt", { timeout }, async () => {
    const p = await open()
    const id = await claimedWorkflow(p, 1)
    const retryAt = T0 + 3e12
    const update: WorkflowWrite = {
      kind: "parkUntil",
      availableAt: retryAt,
      workflowID: id,
      token: A.token,
      now: T0 + 9,
      counts: NO_CRASHES,
      task: { seq: 0, status: "pending", result: null, error: "boom", attempts: 1 },
    }
    assert.deepEqual(await p.applyWorkflowWrites([update]), [true])
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.status, "pending")
    assert.equal(stored?.workflow.leaseToken, null)
    assert.equal(stored?.workflow.availableAt, retryAt)
    assert.equal(stored?.tasks[0]?.attempts, 1)
    assert.equal(stored?.tasks[0]?.error, "boom")
    assert.ok(!ids(await p.claimWorkflows(claim(B, retryAt - 1, 100_000))).includes(id))
    assert.ok(ids(await p.claimWorkflows(claim(B, retryAt, 100_000))).includes(id))
  })

  it("applies a batch in order, fencing each write on its own", { timeout }, async () => {
    const p = await open()
    const id = await claimedWorkflow(p, 2)
    const results = await p.applyWorkflowWrites([
      completeTask(id, A.token, 0),
      completeTask(id, B.token, 1),
      ending(completeTask(id, A.token, 1)),
      completeTask(id, A.token, 0),
    ])
    assert.deepEqual(results, [true, false, true, false])
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.status, "completed")
    assert.deepEqual(stored?.tasks.map((t) => t.status), ["completed", "completed"])
  })
}
