/**
 * The core part of the conformance suite that proves the client's writes
 * outside any lease: cancelling a pending workflow (fencing its holder),
 * resuming a failed one from its failed task, and deleting only ended
 * workflows older than the cutoff.
 *
 * @module
 */
import assert from "node:assert/strict"
import { it } from "node:test"
import { A, NO_CRASHES, T0, claimedWorkflow, completeTask, ending, newWorkflow, uid, type CorePartContext } from "./conformance-fixtures.js"

/** Registers the cancel, retry and retention tests. */
export function runClientWriteConformance({ open, timeout }: CorePartContext): void {
  it("cancels a pending workflow whoever holds it, and fences its holder", { timeout }, async () => {
    const p = await open()
    const id = await claimedWorkflow(p, 2)
    assert.equal(await p.cancelWorkflow(id, T0 + 11), true)
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.status, "cancelled")
    assert.equal(stored?.workflow.leaseToken, null)
    assert.deepEqual(await p.applyWorkflowWrites([completeTask(id, A.token, 0)]), [false])
    assert.equal(await p.cancelWorkflow(id, T0 + 12), false, "cancelling twice")
    assert.equal(await p.cancelWorkflow(uid(), T0), false)
    assert.deepEqual(await p.renewLeases({ token: A.token, workflowIDs: [id], expiresAt: T0 + 1e6 }), [])
  })

  it("resumes a failed workflow from its failed task", { timeout }, async () => {
    const p = await open()
    const id = await claimedWorkflow(p, 3)
    await p.applyWorkflowWrites([
      {
        kind: "recordTask",
        workflowID: id,
        token: A.token,
        now: T0 + 1,
        counts: NO_CRASHES,
        task: { seq: 0, status: "failed", result: null, error: "skipped", attempts: 0 },
      },
      {
        kind: "endWorkflow",
        status: "failed",
        workflowID: id,
        token: A.token,
        now: T0 + 2,
        counts: NO_CRASHES,
        task: { seq: 1, status: "failed", result: null, error: "fatal", attempts: 4 },
      },
    ])
    assert.equal(await p.retryWorkflow({ id, now: T0 + 50, resumeSeq: 1, counts: NO_CRASHES }), true)
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.status, "pending")
    assert.equal(stored?.workflow.leaseToken, null)
    assert.equal(stored?.workflow.availableAt, T0 + 50)
    assert.deepEqual(stored?.tasks.map((t) => t.status), ["failed", "pending", "pending"])
    assert.equal(stored?.tasks[1]?.attempts, 0)
    assert.equal(await p.retryWorkflow({ id, now: T0 + 60, resumeSeq: 1, counts: NO_CRASHES }), false, "only failed workflows resume")
  })

  it("deletes only ended workflows older than the cutoff, with their tasks", { timeout }, async () => {
    const p = await open()
    const ended = await claimedWorkflow(p, 2)
    await p.applyWorkflowWrites([ending(completeTask(ended, A.token, 0, T0 + 100))])
    const recent = await claimedWorkflow(p, 1)
    await p.applyWorkflowWrites([ending(completeTask(recent, A.token, 0, T0 + 10_000))])
    const pending = uid()
    await p.insertWorkflowsAndTasks([newWorkflow(pending, 1, T0 - 1e9)])
    const deleted = await p.deleteEndedWorkflows(T0 + 5_000)
    assert.ok(deleted >= 1)
    assert.equal(await p.getWorkflow(ended), null)
    assert.ok(await p.getWorkflow(recent), "a workflow newer than the cutoff was deleted")
    assert.ok(await p.getWorkflow(pending), "a pending workflow was deleted")
    assert.equal((await p.getWorkflow(pending))?.tasks.length, 1)
  })
}
