/**
 * The core part of the conformance suite that proves the reads: a missing
 * workflow, listing by status a page at a time, and the batch reads of
 * `status-reads` (`getWorkflowStatuses`, `getWorkflows`).
 *
 * @module
 */
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { it } from "node:test"
import { A, T0, claimedWorkflow, completeTask, ending, newWorkflow, uid, type CorePartContext } from "./conformance-fixtures.js"
import { capabilitiesOf } from "../storage/capabilities.js"

/** Registers the read tests. */
export function runReadConformance({ open, timeout }: CorePartContext): void {
  it("returns null for a workflow that does not exist", { timeout }, async () => {
    const p = await open()
    assert.equal(await p.getWorkflow(uid()), null)
  })

  it("lists workflows by status in ID order, a page at a time", { timeout }, async () => {
    const p = await open()
    const prefix = `list-${randomUUID()}-`
    const wfs = ["c", "a", "d", "b"].map((s) => prefix + s)
    await p.insertWorkflowsAndTasks(wfs.map((id) => newWorkflow(id, 1)))
    const page1 = (await p.listWorkflows({ status: "pending", afterID: prefix, limit: 2 })).map((w) => w.id)
    assert.deepEqual(page1, [prefix + "a", prefix + "b"])
    const page2 = (await p.listWorkflows({ status: "pending", afterID: page1[1], limit: 2 })).map((w) => w.id)
    assert.deepEqual(page2, [prefix + "c", prefix + "d"])
    assert.deepEqual(await p.listWorkflows({ status: "completed", afterID: prefix, limit: 10 }).then((r) => r.filter((w) => w.id.startsWith(prefix))), [])
  })

  it("reads the statuses of many workflows in one call (optional getWorkflowStatuses)", { timeout }, async (t) => {
    const p = await open()
    if (!capabilitiesOf(p).has("status-reads") || !p.getWorkflowStatuses) return t.skip('the provider does not declare "status-reads"')
    const [pending, cancelled, completed] = [uid(), await claimedWorkflow(p, 1), await claimedWorkflow(p, 1)]
    await p.insertWorkflowsAndTasks([newWorkflow(pending, 1)])
    assert.equal(await p.cancelWorkflow(cancelled, T0 + 1), true)
    await p.applyWorkflowWrites([ending(completeTask(completed, A.token, 0))])
    const missing = uid()
    const read = await p.getWorkflowStatuses([completed, missing, pending, cancelled, pending])
    assert.deepEqual(
      [...read].sort((a, b) => (a.id < b.id ? -1 : 1)),
      [
        { id: pending, status: "pending" },
        { id: cancelled, status: "cancelled" },
        { id: completed, status: "completed" },
      ].sort((a, b) => (a.id < b.id ? -1 : 1)),
      "one entry per distinct existing ID; missing IDs left out",
    )
    assert.deepEqual(await p.getWorkflowStatuses([]), [])
    // More IDs than a statement's IN list or parameter limit would hold at once.
    const many = Array.from({ length: 1_500 }, () => uid())
    await p.insertWorkflowsAndTasks(many.map((id) => newWorkflow(id, 1)))
    const statuses = await p.getWorkflowStatuses([...many, missing])
    assert.equal(statuses.length, many.length)
    assert.deepEqual(new Set(statuses.map((s) => s.id)), new Set(many))
    assert.ok(statuses.every((s) => s.status === "pending"))
  })

  it("reads many workflows with their tasks in one call, each as getWorkflow does (optional getWorkflows)", { timeout }, async (t) => {
    const p = await open()
    if (!capabilitiesOf(p).has("status-reads") || !p.getWorkflows) return t.skip('the provider does not declare "status-reads" with getWorkflows')
    const [done, running] = [await claimedWorkflow(p, 2), await claimedWorkflow(p, 3)]
    await p.applyWorkflowWrites([completeTask(done, A.token, 0), ending(completeTask(done, A.token, 1))])
    const read = await p.getWorkflows([running, uid(), done, running])
    assert.equal(read.length, 2, "one entry per distinct existing ID; missing IDs left out")
    for (const id of [done, running]) {
      assert.deepEqual(read.find((w) => w.workflow.id === id), await p.getWorkflow(id), `${id} as getWorkflow reads it`)
    }
    assert.deepEqual(await p.getWorkflows([]), [])
  })
}
