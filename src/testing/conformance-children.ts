/**
 * The `children` part of the conformance suite: a workflow's parent link is
 * stored and read back; `awaitChildren` is fenced and parks the parent (at
 * once claimable when a child has already ended); a child's end (an
 * `endWorkflow` write, or a cancel) makes its parked parent claimable in the
 * same write, and leaves a leased parent's lease alone; `cancelWorkflow`
 * cancels pending descendants. Run by `runProviderConformance` for providers
 * that declare `children`.
 *
 * @module
 */
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { it } from "node:test"
import { openDeclaring } from "./capability-part.js"
import { NEVER, type AwaitChildren, type NewWorkflow, type StorageProvider, type WorkflowWrite } from "../storage/provider.js"

// Before the times of the other parts, so claims here take no workflow of theirs from a shared store.
const T0 = 500_000_000
const LEASE = { owner: "parent-runner", token: "children-token" }
const NO_CRASHES = { recoveries: 0, crashes: 0 }

/**
 * Registers the children tests; `openProvider` returns an initialized
 * provider of the store under test. Each test skips when the provider does
 * not declare `children`.
 */
export function runChildrenConformance(openProvider: () => Promise<StorageProvider>): void {
  const open = openDeclaring(openProvider, "children")

  it("children: stores a workflow's parent link and reads it back (null without one)", async (t) => {
    const p = await open(t)
    if (!p) return
    const parent = uid()
    await p.insertWorkflowsAndTasks([leasedParent(parent), child(`${parent}/kid`, parent)])
    assert.equal((await p.getWorkflow(`${parent}/kid`))?.workflow.parentID, parent)
    assert.equal((await p.getWorkflow(parent))?.workflow.parentID ?? null, null)
    assert.equal((await p.getWorkflow(parent))?.tasks[0]?.kind, "workflow")
  })

  it("children: awaitChildren is fenced, and parks the parent with no lease until its time, with its task changes", async (t) => {
    const p = await open(t)
    if (!p) return
    const parent = uid()
    await p.insertWorkflowsAndTasks([leasedParent(parent), child(`${parent}/kid`, parent)])
    assert.equal(await p.awaitChildren?.(park(parent, "someone-else", [`${parent}/kid`])), null, "a park under another token must be fenced off")
    const unchanged = await p.getWorkflow(parent)
    assert.equal(unchanged?.workflow.leaseToken, LEASE.token, "a fenced park changed the parent")
    assert.equal(await p.awaitChildren?.(park(parent, LEASE.token, [`${parent}/kid`])), NEVER)
    const parked = await p.getWorkflow(parent)
    assert.equal(parked?.workflow.status, "pending")
    assert.equal(parked?.workflow.leaseToken, null, "a parked parent must hold no lease")
    assert.equal(parked?.workflow.availableAt, NEVER)
    assert.equal(parked?.tasks[1]?.wakeAt, T0 + 5_000, "the park's task change was not stored")
    const claims = await p.claimWorkflows({ lease: { owner: "x", token: "x", expiresAt: T0 + 90_000 }, now: T0 + 60_000, limit: 1_000, reclaimOwn: false })
    assert.ok(!claims.some((c) => c.workflow.id === parent), "a parked parent was claimed")
  })

  it("children: a child's endWorkflow write makes its parked parent claimable at the write's time, in the same write", async (t) => {
    const p = await open(t)
    if (!p) return
    const parent = uid()
    const kid = `${parent}/kid`
    await p.insertWorkflowsAndTasks([leasedParent(parent), { ...child(kid, parent), lease: { owner: "kid-runner", token: "kid-token", expiresAt: T0 + 1_000 } }])
    assert.equal(await p.awaitChildren?.(park(parent, LEASE.token, [kid])), NEVER)
    const end: WorkflowWrite = { kind: "endWorkflow", workflowID: kid, token: "kid-token", now: T0 + 20, counts: NO_CRASHES, status: "completed" }
    assert.deepEqual(await p.applyWorkflowWrites([end]), [true])
    const woken = await p.getWorkflow(parent)
    assert.equal(woken?.workflow.availableAt, T0 + 20, "the child's end did not wake its parent")
    const claims = await p.claimWorkflows({ lease: { owner: "y", token: "y", expiresAt: T0 + 1_000 }, now: T0 + 20, limit: 1_000, reclaimOwn: false })
    assert.ok(claims.some((c) => c.workflow.id === parent), "the woken parent was not claimable")
  })

  it("children: a child's end leaves a leased parent's lease alone; its later park sees the ended child and is claimable at once", async (t) => {
    const p = await open(t)
    if (!p) return
    const parent = uid()
    const kid = `${parent}/kid`
    await p.insertWorkflowsAndTasks([leasedParent(parent), { ...child(kid, parent), lease: { owner: "kid-runner", token: "kid-token", expiresAt: T0 + 1_000 } }])
    const end: WorkflowWrite = { kind: "endWorkflow", workflowID: kid, token: "kid-token", now: T0 + 20, counts: NO_CRASHES, status: "failed" }
    assert.deepEqual(await p.applyWorkflowWrites([end]), [true])
    const leased = await p.getWorkflow(parent)
    assert.equal(leased?.workflow.leaseToken, LEASE.token)
    assert.equal(leased?.workflow.availableAt, T0 + 10_000, "a child's end changed its leased parent's lease")
    assert.equal(await p.awaitChildren?.(park(parent, LEASE.token, [kid], T0 + 30)), T0 + 30, "a park after the child's end must be claimable at once")
    assert.equal((await p.getWorkflow(parent))?.workflow.availableAt, T0 + 30)
  })

  it("children: a child that is no longer stored (ended, then deleted) counts as ended: the park is claimable at once", async (t) => {
    const p = await open(t)
    if (!p) return
    const parent = uid()
    await p.insertWorkflowsAndTasks([leasedParent(parent)])
    assert.equal(await p.awaitChildren?.(park(parent, LEASE.token, [`${parent}/deleted`], T0 + 30)), T0 + 30, "a park for a deleted child must not wait forever")
    assert.equal((await p.getWorkflow(parent))?.workflow.availableAt, T0 + 30)
  })

  it("children: cancelWorkflow cancels the pending descendants (not ended ones) and wakes the parked parent of a cancelled child", async (t) => {
    const p = await open(t)
    if (!p) return
    const root = uid()
    const [kid, done, grandkid] = [`${root}/kid`, `${root}/done`, `${root}/kid/grandkid`]
    await p.insertWorkflowsAndTasks([
      leasedParent(root),
      child(kid, root),
      { ...child(done, root), lease: { owner: "d", token: "done-token", expiresAt: T0 + 1_000 } },
      child(grandkid, kid),
    ])
    const end: WorkflowWrite = { kind: "endWorkflow", workflowID: done, token: "done-token", now: T0 + 5, counts: NO_CRASHES, status: "completed" }
    assert.deepEqual(await p.applyWorkflowWrites([end]), [true])
    assert.equal(await p.cancelWorkflow(root, T0 + 40), true)
    const statuses = await Promise.all([root, kid, done, grandkid].map(async (id) => (await p.getWorkflow(id))?.workflow.status))
    assert.deepEqual(statuses, ["cancelled", "cancelled", "completed", "cancelled"])

    const other = uid()
    await p.insertWorkflowsAndTasks([leasedParent(other), child(`${other}/kid`, other)])
    assert.equal(await p.awaitChildren?.(park(other, LEASE.token, [`${other}/kid`])), NEVER)
    assert.equal(await p.cancelWorkflow(`${other}/kid`, T0 + 50), true)
    const woken = await p.getWorkflow(other)
    assert.equal(woken?.workflow.status, "pending", "cancelling a child must not cancel its parent")
    assert.equal(woken?.workflow.availableAt, T0 + 50, "cancelling a child did not wake its parked parent")
  })
}

function uid(): string {
  return `conformance-children-${randomUUID()}`
}

/** A parent leased to LEASE until T0 + 10 s: a child workflow step, then a sleep. */
function leasedParent(id: string): NewWorkflow {
  return {
    id,
    now: T0,
    lease: { ...LEASE, expiresAt: T0 + 10_000 },
    tasks: [
      { name: "kid", task: "", data: JSON.stringify({ workflow: { tasks: [{ name: "x", task: "Runner", data: "1" }] } }), kind: "workflow" },
      { name: "nap", task: "", data: JSON.stringify({ sleep: 5_000 }), kind: "sleep" },
    ],
  }
}

function child(id: string, parent: string): NewWorkflow {
  return { id, now: T0, tasks: [{ name: "x", task: "Runner", data: "1" }], parent: { id: parent, seq: 0 } }
}

function park(workflowID: string, token: string, childIDs: string[], now = T0 + 10): AwaitChildren {
  return {
    workflowID,
    token,
    now,
    counts: NO_CRASHES,
    childIDs,
    availableAt: NEVER,
    tasks: [{ seq: 1, status: "pending", result: null, error: null, attempts: 0, wakeAt: T0 + 5_000 }],
  }
}
