/**
 * The core part of the conformance suite that proves claims and leases:
 * claims earliest first up to the limit, expired and earlier-life leases
 * taken over, takeovers counted (`crash-counts`), every task returned as
 * stored, no workflow handed to two concurrent claims; renewing and
 * releasing only the leases a token holds.
 *
 * @module
 */
import assert from "node:assert/strict"
import { it } from "node:test"
import {
  A,
  B,
  NO_CRASHES,
  T0,
  claim,
  claimedWorkflow,
  completeTask,
  ending,
  ids,
  newWorkflow,
  taskAsStored,
  taskFields,
  uid,
  workflowFields,
  type CorePartContext,
} from "./conformance-fixtures.js"
import { capabilitiesOf } from "../storage/capabilities.js"
import type { WorkflowWrite } from "../storage/provider.js"

/** Registers the claim and lease tests. */
export function runClaimConformance({ open, shared, timeout }: CorePartContext): void {
  it("claims claimable workflows earliest first, up to the limit, with their tasks", { timeout }, async () => {
    const p = await open()
    const base = T0 + 10_000_000 + Math.floor(Math.random() * 1_000_000) * 100
    const wf = [uid(), uid(), uid()]
    await p.insertWorkflowsAndTasks([
      newWorkflow(wf[0]!, 2, base + 2),
      newWorkflow(wf[1]!, 1, base + 1),
      newWorkflow(wf[2]!, 1, base + 50),
    ])
    // Other tests' workflows are claimable too; claim them out of the way first.
    await p.claimWorkflows(claim(B, base, 100_000))
    const first = await p.claimWorkflows(claim(A, base + 10, 1))
    assert.deepEqual(ids(first), [wf[1]])
    const second = await p.claimWorkflows(claim(A, base + 10, 10))
    assert.deepEqual(ids(second), [wf[0]])
    assert.equal(second[0]?.tasks.length, 2)
    assert.deepEqual(second[0]?.tasks.map((t) => t.seq), [0, 1])
    assert.equal(second[0]?.workflow.leaseOwner, A.owner)
    assert.equal(second[0]?.workflow.leaseToken, A.token)
    assert.equal(second[0]?.workflow.availableAt, base + 10 + 1000)
    assert.deepEqual(ids(await p.claimWorkflows(claim(A, base + 10, 10))), [], "not yet due, or leased")
  })

  it("makes a lease claimable again once it expires", { timeout }, async () => {
    const p = await open()
    const id = uid()
    await p.insertWorkflowsAndTasks([{ ...newWorkflow(id, 1), lease: { ...A, expiresAt: T0 + 500 } }])
    const got = await p.claimWorkflows(claim(B, T0 + 500, 100_000))
    assert.ok(ids(got).includes(id))
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.leaseToken, B.token)
  })

  it("reclaims an earlier life's leases of the same owner at once, only with reclaimOwn", { timeout }, async () => {
    const p = await open()
    const mine = uid()
    const theirs = uid()
    const far = T0 + 1e12
    await p.insertWorkflowsAndTasks([
      { ...newWorkflow(mine, 1), lease: { owner: "same-owner", token: "old-life", expiresAt: far } },
      { ...newWorkflow(theirs, 1), lease: { owner: "other-owner", token: "their-life", expiresAt: far } },
    ])
    const newLife = { owner: "same-owner", token: "new-life" }
    assert.deepEqual(ids(await p.claimWorkflows({ ...claim(newLife, T0, 100_000), reclaimOwn: false })).filter((x) => x === mine), [])
    const got = ids(await p.claimWorkflows({ ...claim(newLife, T0, 100_000), reclaimOwn: true }))
    assert.ok(got.includes(mine))
    assert.ok(!got.includes(theirs))
    // Its own current token is not "another life".
    const again = ids(await p.claimWorkflows({ ...claim(newLife, T0, 100_000), reclaimOwn: true }))
    assert.ok(!again.includes(mine))
  })

  // ---- the "crash-counts" capability -----------------------------------------------
  it("counts takeovers of unreleased leases and crash marks, and stores the counts each write gives", { timeout }, async (t) => {
    const p = await open()
    if (!capabilitiesOf(p).has("crash-counts")) return t.skip('the provider does not declare "crash-counts"')
    const base = T0 + 3e12
    const id = uid()
    const claimOf = async (who: { owner: string; token: string }, now: number) => {
      const got = (await p.claimWorkflows(claim(who, now, 100_000))).find((w) => w.workflow.id === id)
      assert.ok(got, `${who.owner} did not claim the workflow`)
      return got.workflow
    }
    await p.insertWorkflowsAndTasks([newWorkflow(id, 2, base)])
    assert.equal((await claimOf(A, base)).recoveries, 0, "an unleased workflow's first claim takes over nothing")
    // A's lease runs out unreleased, then B's: each claim takes over an abandoned lease.
    assert.equal((await claimOf(B, base + 1000)).recoveries, 1)
    const third = await claimOf(A, base + 2000)
    assert.equal(third.recoveries, 2)
    assert.equal(third.crashes, 0)
    // A crash mark stores the counts it is given and keeps the lease; fenced like any write.
    const mark = (token: string, crashes: number): WorkflowWrite => ({
      kind: "markCrash",
      workflowID: id,
      token,
      now: base + 2001,
      counts: { recoveries: third.recoveries ?? 0, crashes },
    })
    assert.deepEqual(await p.applyWorkflowWrites([mark(B.token, 5)]), [false])
    assert.deepEqual(await p.applyWorkflowWrites([mark(A.token, 1)]), [true])
    let stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.recoveries, 2)
    assert.equal(stored?.workflow.crashes, 1)
    assert.equal(stored?.workflow.leaseToken, A.token)
    assert.deepEqual(stored?.tasks.map((t) => t.status), ["pending", "pending"], "a crash mark changes no task")
    // Progress: the runner passes zero counts, and they are stored.
    assert.deepEqual(await p.applyWorkflowWrites([completeTask(id, A.token, 0, base + 2002)]), [true])
    stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.recoveries, 0)
    assert.equal(stored?.workflow.crashes, 0)
    // A released lease is no takeover.
    await p.releaseLeases({ token: A.token, workflowIDs: [id], availableAt: base + 2003 })
    assert.equal((await claimOf(B, base + 2003)).recoveries, 0)
  })

  it("claims a workflow with every task exactly as stored: results, errors and attempts of earlier lives", { timeout }, async () => {
    const p = await open()
    const id = await claimedWorkflow(p, 4)
    const retryAt = T0 + 4e12
    // A's life: task 0 completed, task 1 aborted, task 2 failed twice and waits for its retry.
    const written = await p.applyWorkflowWrites([
      completeTask(id, A.token, 0, T0 + 1),
      {
        kind: "recordTask",
        workflowID: id,
        token: A.token,
        now: T0 + 2,
        counts: NO_CRASHES,
        task: { seq: 1, status: "failed", result: null, error: "skipped", attempts: 0 },
      },
      {
        kind: "parkUntil",
        availableAt: retryAt,
        workflowID: id,
        token: A.token,
        now: T0 + 3,
        counts: NO_CRASHES,
        task: { seq: 2, status: "pending", result: null, error: "boom", attempts: 2 },
      },
    ])
    assert.deepEqual(written, [true, true, true])
    const expected = [
      taskAsStored(id, 0, { status: "completed", result: '"r0"', updatedAt: T0 + 1 }),
      taskAsStored(id, 1, { status: "failed", error: "skipped", updatedAt: T0 + 2 }),
      taskAsStored(id, 2, { status: "pending", error: "boom", attempts: 2, updatedAt: T0 + 3 }),
      taskAsStored(id, 3, {}),
    ]
    const stored = await p.getWorkflow(id)
    assert.deepEqual(stored?.tasks.map(taskFields), expected, "getWorkflow returns each task as written")
    const claimed = (await p.claimWorkflows(claim(B, retryAt, 100_000))).find((w) => w.workflow.id === id)
    assert.ok(claimed, "the workflow released for its retry was claimed once due")
    // A task returned as pending would run again; a lost attempt count would restart its retries.
    assert.deepEqual(claimed.tasks.map(taskFields), expected, "a claim returns every task as stored, in seq order")
    assert.deepEqual(workflowFields(claimed.workflow), {
      id,
      status: "pending",
      createdAt: T0,
      updatedAt: T0 + 3,
      availableAt: retryAt + 1000,
      leaseOwner: B.owner,
      leaseToken: B.token,
      taskCount: 4,
      ...(capabilitiesOf(p).has("crash-counts") ? { recoveries: 0, crashes: 0 } : {}),
    })
  })

  it("claims a workflow whose earlier tasks are completed with those tasks completed, after a takeover too", { timeout }, async () => {
    const p = await open()
    const base = T0 + 5e12
    const id = uid()
    await p.insertWorkflowsAndTasks([{ ...newWorkflow(id, 3, base), lease: { ...A, expiresAt: base + 100 } }])
    assert.deepEqual(await p.applyWorkflowWrites([completeTask(id, A.token, 0, base + 1), completeTask(id, A.token, 1, base + 2)]), [true, true])
    // A dies with its lease held; B takes over once it expires.
    const claimed = (await p.claimWorkflows(claim(B, base + 100, 100_000))).find((w) => w.workflow.id === id)
    assert.ok(claimed, "the abandoned workflow was claimed once its lease expired")
    assert.deepEqual(claimed.tasks.map(taskFields), [
      taskAsStored(id, 0, { status: "completed", result: '"r0"', updatedAt: base + 1, createdAt: base }),
      taskAsStored(id, 1, { status: "completed", result: '"r1"', updatedAt: base + 2, createdAt: base }),
      taskAsStored(id, 2, { updatedAt: base, createdAt: base }),
    ])
    if (capabilitiesOf(p).has("crash-counts")) assert.equal(claimed.workflow.recoveries, 1, "the takeover was counted")
  })

  it("never hands one workflow to two concurrent claims", { timeout }, async () => {
    const ps = shared ? [await open(), await open()] : [await open()]
    const base = T0 + 2e12
    const wfs = Array.from({ length: 40 }, () => uid())
    await ps[0]!.insertWorkflowsAndTasks(wfs.map((id) => newWorkflow(id, 1, base)))
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        ps[i % ps.length]!.claimWorkflows(claim({ owner: `r${i}`, token: `t${i}` }, base, 7)),
      ),
    )
    const claimed = results.flatMap(ids).filter((id) => wfs.includes(id))
    assert.equal(new Set(claimed).size, claimed.length, "a workflow was claimed twice")
  })

  it("renews only the leases the token holds", { timeout }, async () => {
    const p = await open()
    const mine = await claimedWorkflow(p, 1)
    const lost = await claimedWorkflow(p, 1)
    await p.applyWorkflowWrites([ending(completeTask(lost, A.token, 0))])
    const renewed = await p.renewLeases({ token: A.token, workflowIDs: [mine, lost, uid()], expiresAt: T0 + 9e12 })
    assert.deepEqual(renewed, [mine])
    assert.equal((await p.getWorkflow(mine))?.workflow.availableAt, T0 + 9e12)
    assert.deepEqual(await p.renewLeases({ token: B.token, workflowIDs: [mine], expiresAt: T0 + 1 }), [])
    assert.equal((await p.getWorkflow(mine))?.workflow.availableAt, T0 + 9e12)
  })

  it("releases leases so others can claim at once", { timeout }, async () => {
    const p = await open()
    const id = await claimedWorkflow(p, 1)
    await p.releaseLeases({ token: B.token, workflowIDs: [id], availableAt: T0 })
    assert.equal((await p.getWorkflow(id))?.workflow.leaseToken, A.token, "another token released the lease")
    await p.releaseLeases({ token: A.token, workflowIDs: [id], availableAt: T0 + 20 })
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.leaseOwner, null)
    assert.equal(stored?.workflow.availableAt, T0 + 20)
  })
}
