/**
 * The `inspection` part of the conformance suite: filtered, newest-first
 * listing, stats, ends per interval, and counting and deleting ended workflows by status. Run by
 * `runProviderConformance` for providers that declare `inspection`.
 *
 * Stores may be shared with the other tests, so each test lists only its own
 * IDs (a unique prefix), reads stats as differences, and deletes only
 * workflows that ended before any other test's times.
 *
 * @module
 */
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { it } from "node:test"
import { openDeclaring } from "./capability-part.js"
import type { EndedStatus, NewWorkflow, StorageProvider, WorkflowStats } from "../storage/provider.js"

const LEASE = { owner: "inspector", token: "inspection-token", expiresAt: 1e13 }
const NO_CRASHES = { recoveries: 0, crashes: 0 }

/**
 * Registers the inspection tests; `open` returns an initialized provider of
 * the store under test. Each test skips when the provider does not declare
 * `inspection`.
 */
export function runInspectionConformance(openProvider: () => Promise<StorageProvider>): void {
  const open = openDeclaring(openProvider, "inspection")

  it("inspection: lists newest first, equal times by ID descending, and pages with a cursor", async (t) => {
    const p = await open(t)
    if (!p) return
    const prefix = uniquePrefix()
    await p.insertWorkflowsAndTasks([
      workflow(`${prefix}a`, 100),
      workflow(`${prefix}b`, 300),
      workflow(`${prefix}c`, 200),
      workflow(`${prefix}d`, 300),
      workflow(`${prefix}e`, 50),
    ])
    const first = await p.listWorkflows({ idPrefix: prefix, order: "newest", limit: 3 })
    assert.deepEqual(first.map((w) => w.id), [`${prefix}d`, `${prefix}b`, `${prefix}c`])
    const last = first.at(-1)!
    const second = await p.listWorkflows({ idPrefix: prefix, order: "newest", limit: 3, cursor: { createdAt: last.createdAt, id: last.id } })
    assert.deepEqual(second.map((w) => w.id), [`${prefix}a`, `${prefix}e`])
    // A cursor between two workflows of one time continues with the other one.
    const tie = await p.listWorkflows({ idPrefix: prefix, order: "newest", limit: 1, cursor: { createdAt: 300, id: `${prefix}d` } })
    assert.deepEqual(tie.map((w) => w.id), [`${prefix}b`])
    const byID = await p.listWorkflows({ idPrefix: prefix, limit: 10, afterID: `${prefix}b` })
    assert.deepEqual(byID.map((w) => w.id), [`${prefix}c`, `${prefix}d`, `${prefix}e`])
  })

  it("inspection: filters by status, runner name, creation time and ID prefix, together", async (t) => {
    const p = await open(t)
    if (!p) return
    const prefix = uniquePrefix()
    await p.insertWorkflowsAndTasks([
      workflow(`${prefix}charge-1`, 100, ["Charge"]),
      workflow(`${prefix}charge-2`, 200, ["Validate", "Charge"]),
      { ...workflow(`${prefix}ship-1`, 300, ["Ship"]), lease: LEASE },
      workflow(`${prefix}charge-3`, 400, ["Charge", "Ship"]),
      // The prefix of the others, as a whole ID, and in the middle of an ID.
      workflow(`${prefix}`, 500, ["Charge"]),
      workflow(`x${prefix}charge-9`, 500, ["Charge"]),
    ])
    await p.applyWorkflowWrites([{ kind: "endWorkflow", workflowID: `${prefix}ship-1`, token: LEASE.token, now: 350, counts: NO_CRASHES, status: "failed" }])
    const ids = async (filter: Parameters<StorageProvider["listWorkflows"]>[0]) => (await p.listWorkflows(filter)).map((w) => w.id)
    assert.deepEqual(await ids({ idPrefix: prefix, order: "newest", limit: 10, runner: "Ship" }), [`${prefix}charge-3`, `${prefix}ship-1`])
    assert.deepEqual(await ids({ idPrefix: `${prefix}charge-`, order: "newest", limit: 10 }), [`${prefix}charge-3`, `${prefix}charge-2`, `${prefix}charge-1`])
    assert.deepEqual(await ids({ idPrefix: prefix, order: "newest", limit: 10, createdAfter: 200, createdBefore: 400 }), [`${prefix}ship-1`, `${prefix}charge-2`])
    assert.deepEqual(await ids({ idPrefix: prefix, order: "newest", limit: 10, status: "failed" }), [`${prefix}ship-1`])
    assert.deepEqual(await ids({ idPrefix: prefix, limit: 10, status: "pending", runner: "Charge", createdAfter: 150 }), [
      prefix,
      `${prefix}charge-2`,
      `${prefix}charge-3`,
    ])
    assert.deepEqual(await ids({ idPrefix: `${prefix}nothing`, order: "newest", limit: 10 }), [])
  })

  it("inspection: counts workflows by status, finds the oldest pending one, and counts recent ends", async (t) => {
    const p = await open(t)
    if (!p) return
    const get = p.getWorkflowStats?.bind(p)
    assert.ok(get, "a provider with inspection has getWorkflowStats")
    const since = 9e12
    const before = await get({ endedSince: since })
    const prefix = uniquePrefix()
    // Created at 5 and 6: older than any other test's workflow, so the oldest pending.
    await p.insertWorkflowsAndTasks([
      workflow(`${prefix}old-b`, 5),
      workflow(`${prefix}old-a`, 5),
      { ...workflow(`${prefix}failed`, 6), lease: LEASE },
      { ...workflow(`${prefix}done-early`, 6), lease: LEASE },
      { ...workflow(`${prefix}done`, 6), lease: LEASE },
    ])
    const end = (id: string, now: number, status: "completed" | "failed") =>
      ({ kind: "endWorkflow", workflowID: `${prefix}${id}`, token: LEASE.token, now, counts: NO_CRASHES, status }) as const
    await p.applyWorkflowWrites([end("failed", since + 10, "failed"), end("done-early", since - 1, "completed"), end("done", since, "completed")])
    const after = await get({ endedSince: since })
    assert.deepEqual(difference(after, before), {
      counts: { pending: 2, completed: 2, failed: 1, cancelled: 0 },
      endedSince: { completed: 1, failed: 1, cancelled: 0 },
    })
    assert.deepEqual(after.oldestPending, { id: `${prefix}old-a`, createdAt: 5 })
  })

  it("inspection: counts ends per status per interval from since on (countEndsByInterval, when present)", async (t) => {
    const p = await open(t)
    if (!p) return
    const count = p.countEndsByInterval?.bind(p)
    if (!count) {
      t.skip("the provider has no countEndsByInterval (optional within inspection)")
      return
    }
    // A time no other test writes near (after the stats test's 9e12), different on each run of a shared store.
    const since = 9.5e12 + Math.floor(Math.random() * 1e6) * 1e6
    const prefix = uniquePrefix()
    const ids = ["first", "edge", "next", "cancelled", "before"]
    await p.insertWorkflowsAndTasks(ids.map((id) => ({ ...workflow(`${prefix}${id}`, 7), lease: LEASE })))
    const end = (id: string, now: number, status: "completed" | "failed") =>
      ({ kind: "endWorkflow", workflowID: `${prefix}${id}`, token: LEASE.token, now, counts: NO_CRASHES, status }) as const
    await p.applyWorkflowWrites([
      end("first", since, "completed"),
      end("edge", since + 59_999, "completed"),
      end("next", since + 60_000, "failed"),
      end("before", since - 1, "completed"),
    ])
    assert.equal(await p.cancelWorkflow(`${prefix}cancelled`, since + 185_000), true)
    const counts = await count({ since, intervalMS: 60_000 })
    const sorted = [...counts].sort((a, b) => a.start - b.start || a.status.localeCompare(b.status))
    assert.deepEqual(sorted, [
      { start: since, status: "completed", count: 2 },
      { start: since + 60_000, status: "failed", count: 1 },
      { start: since + 180_000, status: "cancelled", count: 1 },
    ])
  })

  it("inspection: counts and deletes ended workflows by status, never pending ones", async (t) => {
    const p = await open(t)
    if (!p) return
    assert.ok(p.countEndedWorkflows && p.deleteEndedWorkflowsByStatus, "a provider with inspection counts and deletes by status")
    const prefix = uniquePrefix()
    // Ended at 20: before any other test's times (even this part's), so the cutoff of 30 selects only these.
    const ended: Array<[string, EndedStatus]> = [
      ["completed", "completed"],
      ["failed", "failed"],
      ["failed-2", "failed"],
      ["cancelled", "cancelled"],
    ]
    await p.insertWorkflowsAndTasks([...ended.map(([id]) => ({ ...workflow(`${prefix}${id}`, 10, ["A", "B"]), lease: LEASE })), workflow(`${prefix}pending`, 10)])
    for (const [id, status] of ended) {
      if (status === "cancelled") assert.equal(await p.cancelWorkflow(`${prefix}${id}`, 20), true)
      else {
        await p.applyWorkflowWrites([{ kind: "endWorkflow", workflowID: `${prefix}${id}`, token: LEASE.token, now: 20, counts: NO_CRASHES, status }])
      }
    }
    const selector = (statuses: EndedStatus[], endedBefore = 30) => ({ endedBefore, statuses })
    assert.equal(await p.countEndedWorkflows(selector(["failed", "cancelled"])), 3)
    assert.equal(await p.countEndedWorkflows(selector(["failed"], 20)), 0, "the cutoff is exclusive")
    assert.equal(await p.countEndedWorkflows(selector([])), 0)
    assert.equal(await p.deleteEndedWorkflowsByStatus(selector(["failed"])), 2)
    assert.equal(await p.getWorkflow(`${prefix}failed`), null)
    assert.equal(await p.getWorkflow(`${prefix}failed-2`), null)
    assert.equal((await p.getWorkflow(`${prefix}completed`))?.tasks.length, 2, "a completed workflow was deleted with failed")
    assert.equal(await p.deleteEndedWorkflowsByStatus(selector(["completed", "cancelled"])), 2)
    assert.deepEqual((await p.listWorkflows({ idPrefix: prefix, limit: 10 })).map((w) => w.id), [`${prefix}pending`])
    assert.equal((await p.getWorkflow(`${prefix}pending`))?.tasks.length, 1)
  })
}

function uniquePrefix(): string {
  return `inspect-${randomUUID().slice(0, 8)}-`
}

function workflow(id: string, now: number, runners: string[] = ["Runner"]): NewWorkflow {
  return { id, now, tasks: runners.map((task, i) => ({ name: `t${i}`, task, data: "null" })) }
}

function difference(after: WorkflowStats, before: WorkflowStats): Pick<WorkflowStats, "counts" | "endedSince"> {
  return {
    counts: {
      pending: after.counts.pending - before.counts.pending,
      completed: after.counts.completed - before.counts.completed,
      failed: after.counts.failed - before.counts.failed,
      cancelled: after.counts.cancelled - before.counts.cancelled,
    },
    endedSince: {
      completed: after.endedSince.completed - before.endedSince.completed,
      failed: after.endedSince.failed - before.endedSince.failed,
      cancelled: after.endedSince.cancelled - before.endedSince.cancelled,
    },
  }
}
