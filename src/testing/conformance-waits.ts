/**
 * The `waits` part of the conformance suite: step kinds are stored and read
 * back, a task change's wake time is stored and kept, and a workflow parked
 * by a sleep is found again through the claim index at its wake time (not
 * before). Run by `runProviderConformance` for providers that declare
 * `waits`.
 *
 * @module
 */
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { it } from "node:test"
import { openDeclaring } from "./capability-part.js"
import type { NewWorkflow, StorageProvider, TaskChange, WorkflowWrite } from "../storage/provider.js"

// Long before the times of the other parts, so claims here take no workflow of theirs from a shared store.
const T0 = 1_000_000_000
const LEASE = { owner: "sleeper", token: "waits-token" }
const NO_CRASHES = { recoveries: 0, crashes: 0 }

/**
 * Registers the waits tests; `open` returns an initialized provider of the
 * store under test. Each test skips when the provider does not declare
 * `waits`.
 */
export function runWaitsConformance(openProvider: () => Promise<StorageProvider>): void {
  const open = openDeclaring(openProvider, "waits")

  it("waits: stores each step's kind (a task by default) with no wake time, and reads them back", async (t) => {
    const p = await open(t)
    if (!p) return
    const id = uid()
    await p.insertWorkflowsAndTasks([sleeper(id, T0)])
    const stored = await p.getWorkflow(id)
    assert.deepEqual(
      stored?.tasks.map((s) => [s.name, s.kind, s.task, s.data, s.wakeAt ?? null]),
      [
        ["before", "task", "Runner", "1", null],
        ["nap", "sleep", "", '{"sleep":60000}', null],
        ["after", "task", "Runner", "2", null],
      ],
    )
  })

  it("waits: a parked sleep keeps its wake time, holds no lease, and is claimable at the wake time, not before", async (t) => {
    const p = await open(t)
    if (!p) return
    const id = uid()
    const wakeAt = T0 + 60_000
    await p.insertWorkflowsAndTasks([{ ...sleeper(id, T0), lease: { ...LEASE, expiresAt: T0 + 1_000 } }])
    const park: WorkflowWrite = {
      kind: "parkUntil",
      workflowID: id,
      token: LEASE.token,
      now: T0 + 10,
      counts: NO_CRASHES,
      availableAt: wakeAt,
      task: change(1, "pending", null, wakeAt),
    }
    assert.deepEqual(await p.applyWorkflowWrites([park]), [true])
    const parked = await p.getWorkflow(id)
    assert.equal(parked?.workflow.status, "pending")
    assert.equal(parked?.workflow.leaseToken, null, "a sleeping workflow must hold no lease")
    assert.equal(parked?.workflow.availableAt, wakeAt)
    assert.equal(parked?.tasks[1]?.wakeAt, wakeAt, "the wake time was not stored")
    assert.equal(parked?.tasks[1]?.status, "pending")

    const early = await p.claimWorkflows({ lease: { ...LEASE, token: "other", expiresAt: wakeAt }, now: wakeAt - 1, limit: 1_000, reclaimOwn: false })
    assert.ok(!early.some((c) => c.workflow.id === id), "a sleeping workflow was claimed before its wake time")
    const due = await p.claimWorkflows({ lease: { ...LEASE, token: "other", expiresAt: wakeAt + 1_000 }, now: wakeAt, limit: 1_000, reclaimOwn: false })
    const claimed = due.find((c) => c.workflow.id === id)
    assert.ok(claimed, "a sleeping workflow was not claimable at its wake time")
    assert.equal(claimed.tasks[1]?.kind, "sleep")
    assert.equal(claimed.tasks[1]?.wakeAt, wakeAt, "a claim must return the stored wake time")
    assert.equal(claimed.workflow.recoveries ?? 0, 0, "waking from a sleep is no takeover")

    const result = JSON.stringify({ sleptUntil: new Date(wakeAt).toISOString() })
    const woke: WorkflowWrite = { kind: "recordTask", workflowID: id, token: "other", now: wakeAt + 1, counts: NO_CRASHES, task: change(1, "completed", result, wakeAt) }
    assert.deepEqual(await p.applyWorkflowWrites([woke]), [true])
    const after = await p.getWorkflow(id)
    assert.equal(after?.tasks[1]?.status, "completed")
    assert.equal(after?.tasks[1]?.result, result)
    assert.equal(after?.tasks[1]?.wakeAt, wakeAt, "completing the sleep lost its wake time")
    assert.equal(after?.tasks[0]?.wakeAt ?? null, null)
  })

  it("waits: a task change without a wake time stores none", async (t) => {
    const p = await open(t)
    if (!p) return
    const id = uid()
    await p.insertWorkflowsAndTasks([{ ...sleeper(id, T0), lease: { ...LEASE, expiresAt: T0 + 1_000 } }])
    const { wakeAt: _, ...withoutWake } = change(0, "completed", "3", null)
    const write: WorkflowWrite = { kind: "recordTask", workflowID: id, token: LEASE.token, now: T0 + 1, counts: NO_CRASHES, task: withoutWake }
    assert.deepEqual(await p.applyWorkflowWrites([write]), [true])
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.tasks[0]?.kind, "task")
    assert.equal(stored?.tasks[0]?.wakeAt ?? null, null)
  })
}

function uid(): string {
  return `conformance-waits-${randomUUID()}`
}

/** A task, a one-minute sleep, and a task. */
function sleeper(id: string, now: number): NewWorkflow {
  return {
    id,
    now,
    tasks: [
      { name: "before", task: "Runner", data: "1" },
      { name: "nap", task: "", data: JSON.stringify({ sleep: 60_000 }), kind: "sleep" },
      { name: "after", task: "Runner", data: "2" },
    ],
  }
}

function change(seq: number, status: TaskChange["status"], result: string | null, wakeAt: number | null): TaskChange {
  return { seq, status, result, error: null, attempts: 0, wakeAt }
}
