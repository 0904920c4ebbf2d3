/**
 * The provider conformance suite: every rule of the StorageProvider contract
 * as a `node:test` test. Run it against your own provider:
 *
 * ```ts
 * import { runProviderConformance } from "durabletasks/testing"
 * runProviderConformance("my provider", async () => new MyProvider(...))
 * ```
 *
 * @module
 */
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { after, describe, it } from "node:test"
import { capabilitiesOf } from "../storage/capabilities.js"
import { runInspectionConformance } from "./conformance-inspection.js"
import { runWaitsConformance } from "./conformance-waits.js"
import { runChildrenConformance } from "./conformance-children.js"
import { runEventsConformance } from "./conformance-events.js"
import { runAttemptHistoryConformance } from "./conformance-attempts.js"
import type { NewWorkflow, RecordTask, StorageProvider, TaskRow, WorkflowRow, WorkflowWithTasks, WorkflowWrite } from "../storage/provider.js"
import { scheduleConformanceTests } from "./schedule-conformance.js"

/** Options of {@link runProviderConformance}. */
export interface ConformanceOptions {
  /**
   * Whether two provider instances from the factory share one store (as two
   * processes on one database would). Enables the cross-instance tests.
   * Default `true`; set `false` for private stores such as the memory provider.
   */
  sharedStore?: boolean
  /** Called once after the suite, e.g. to drop a test schema. */
  cleanup?: () => Promise<void> | void
  /** Skip the whole suite with this message (e.g. "no database reachable"). */
  skip?: string
  /** How long one test may take before it fails (a provider that hangs fails instead of hanging the run). Default 30,000 ms. */
  testTimeoutMS?: number
}

const T0 = 1_700_000_000_000
const A = { owner: "runner-a", token: "token-a" }
const B = { owner: "runner-b", token: "token-b" }

/**
 * Registers the conformance tests for a provider.
 *
 * @param name - shown in the test names
 * @param createProvider - returns a fresh, initialized-or-not provider; each
 *   test calls it once (twice for cross-instance tests). Stores may be shared
 *   between calls: the tests use unique workflow IDs.
 */
export function runProviderConformance(
  name: string,
  createProvider: () => StorageProvider | Promise<StorageProvider>,
  options: ConformanceOptions = {},
): void {
  const shared = options.sharedStore ?? true
  const timeout = options.testTimeoutMS ?? 30_000
  const opened: StorageProvider[] = []
  const open = async (): Promise<StorageProvider> => {
    const provider = await createProvider()
    await provider.init()
    opened.push(provider)
    return provider
  }

  describe(`StorageProvider conformance: ${name}`, { skip: options.skip ?? false }, () => {
    after(async () => {
      for (const p of opened.splice(0)) await p.close()
      await options.cleanup?.()
    })

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

    // The "schedules" capability has its own part; its tests skip for providers that do not declare it.
    describe("schedules", () => scheduleConformanceTests(open, shared))
    // The inspection part; its tests skip for providers that do not declare it.
    runInspectionConformance(open)
    // The waits part (step kinds, wake times); its tests skip for providers that do not declare it.
    runWaitsConformance(open)
    // The children part (parent links, parking a parent, waking it when a child ends); skips without the capability.
    runChildrenConformance(open)
    // The events part (sendEvent, waitForEvent's matching, parking and waking); skips for providers without it.
    runEventsConformance(open)
    // The attempt-history part; its tests skip for providers that do not declare it.
    runAttemptHistoryConformance(open)

    if (shared) {
      it("shows one instance's writes to another (one shared store)", { timeout }, async () => {
        const [p, q] = [await open(), await open()]
        const id = uid()
        await p.insertWorkflowsAndTasks([newWorkflow(id, 1)])
        assert.equal((await q.getWorkflow(id))?.workflow.id, id)
        assert.deepEqual(await q.insertWorkflowsAndTasks([newWorkflow(id, 1)]), [false])
      })
    }
  })

  async function claimedWorkflow(p: StorageProvider, taskCount: number): Promise<string> {
    const id = uid()
    await p.insertWorkflowsAndTasks([{ ...newWorkflow(id, taskCount), lease: { ...A, expiresAt: T0 + 1e13 } }])
    return id
  }
}

function uid(): string {
  return `conformance-${randomUUID()}`
}

function newWorkflow(id: string, taskCount: number, now = T0): NewWorkflow {
  return {
    id,
    now,
    tasks: Array.from({ length: taskCount }, (_, i) => ({ name: `t${i}`, task: "Runner", data: JSON.stringify({ i }) })),
  }
}

function claim(who: { owner: string; token: string }, now: number, limit: number) {
  return { lease: { ...who, expiresAt: now + 1000 }, now, limit, reclaimOwn: false }
}

const NO_CRASHES = { recoveries: 0, crashes: 0 }

function completeTask(workflowID: string, token: string, seq: number, now = T0 + 7): RecordTask {
  return {
    kind: "recordTask",
    workflowID,
    token,
    now,
    counts: NO_CRASHES,
    task: { seq, status: "completed", result: JSON.stringify(`r${seq}`), error: null, attempts: 0 },
  }
}

/** `write`'s task change, ending the workflow with it. */
function ending(write: RecordTask, status: "completed" | "failed" = "completed"): WorkflowWrite {
  return { ...write, kind: "endWorkflow", status }
}

/** A task of {@link newWorkflow} as it should be stored, with `changes` applied. */
function taskAsStored(workflowID: string, seq: number, changes: Partial<TaskRow>): TaskRow {
  return {
    workflowID,
    seq,
    name: `t${seq}`,
    task: "Runner",
    data: JSON.stringify({ i: seq }),
    status: "pending",
    result: null,
    error: null,
    attempts: 0,
    createdAt: T0,
    updatedAt: T0,
    ...changes,
  }
}

/** The contract's fields of a task row (a provider may return more). */
function taskFields(t: TaskRow): TaskRow {
  const { workflowID, seq, name, task, data, status, result, error, attempts, createdAt, updatedAt } = t
  return { workflowID, seq, name, task, data, status, result, error, attempts, createdAt, updatedAt }
}

/** The contract's fields of a workflow row (a provider may return more). */
/** The fields of the contract (the counters only where the provider keeps them). */
function workflowFields(w: WorkflowRow): WorkflowRow {
  const { id, status, createdAt, updatedAt, availableAt, leaseOwner, leaseToken, taskCount, recoveries, crashes } = w
  const counters = recoveries === undefined && crashes === undefined ? {} : { recoveries, crashes }
  return { id, status, createdAt, updatedAt, availableAt, leaseOwner, leaseToken, taskCount, ...counters }
}

function ids(claimed: WorkflowWithTasks[]): string[] {
  return claimed.map((c) => c.workflow.id)
}
