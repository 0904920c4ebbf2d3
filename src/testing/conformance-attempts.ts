/**
 * The `attempt-history` part of the conformance suite: a task change's
 * attempt (`startedAt`, `runnerID`, with the write's `now` as `endedAt`) and
 * its `history` are stored by the same write, kept by writes that carry none
 * and by a retry, and returned by reads and claims. Run by
 * `runProviderConformance` for providers that declare `attempt-history`.
 *
 * @module
 */
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { it } from "node:test"
import { openDeclaring } from "./capability-part.js"
import type { NewWorkflow, StorageProvider, TaskChange, WorkflowWrite } from "../storage/provider.js"

// Apart from the times of the other parts, so claims here take no workflow of theirs from a shared store.
const T0 = 2_000_000_000
const TOKEN = "attempts-token"
const NO_CRASHES = { recoveries: 0, crashes: 0 }

/**
 * Registers the attempt-history tests; `openProvider` returns an initialized
 * provider of the store under test. Each test skips when the provider does
 * not declare `attempt-history`.
 */
export function runAttemptHistoryConformance(openProvider: () => Promise<StorageProvider>): void {
  const open = openDeclaring(openProvider, "attempt-history")

  it("attempt-history: a new task has no attempt; a write stores its attempt and history, and a write without them keeps them", async (t) => {
    const p = await open(t)
    if (!p) return
    const id = `attempts-${randomUUID()}`
    await p.insertWorkflowsAndTasks([leased(id)])
    const fresh = (await p.getWorkflow(id))?.tasks[0]
    assert.equal(fresh?.startedAt ?? null, null)
    assert.equal(fresh?.endedAt ?? null, null)
    assert.equal(fresh?.runnerID ?? null, null)
    assert.equal(fresh?.history ?? null, null)

    // A failed attempt, retried later: its start, end (the write's now) and runner.
    const failed: TaskChange = { seq: 0, status: "pending", result: null, error: "boom", attempts: 1, startedAt: T0 + 1, runnerID: "runner-a" }
    assert.deepEqual(await p.applyWorkflowWrites([write(id, T0 + 5, failed)]), [true])
    const afterFail = (await p.getWorkflow(id))?.tasks[0]
    assert.deepEqual([afterFail?.startedAt, afterFail?.endedAt, afterFail?.runnerID, afterFail?.history ?? null], [T0 + 1, T0 + 5, "runner-a", null])

    // The next attempt: its own columns, and the history the runner gives.
    const history = JSON.stringify([{ startedAt: T0 + 1, endedAt: T0 + 5, outcome: "failed", error: "boom", runnerID: "runner-a" }])
    const next: TaskChange = { seq: 0, status: "pending", result: null, error: "again", attempts: 2, startedAt: T0 + 10, runnerID: "runner-b", history }
    assert.deepEqual(await p.applyWorkflowWrites([write(id, T0 + 12, next)]), [true])
    const second = (await p.getWorkflow(id))?.tasks[0]
    assert.deepEqual([second?.startedAt, second?.endedAt, second?.runnerID, second?.history], [T0 + 10, T0 + 12, "runner-b", history])

    // A change that is no attempt (a step's bookkeeping) keeps the attempt and the history.
    const bookkeeping: TaskChange = { seq: 0, status: "pending", result: null, error: "again", attempts: 2 }
    assert.deepEqual(await p.applyWorkflowWrites([write(id, T0 + 20, bookkeeping)]), [true])
    const kept = (await p.getWorkflow(id))?.tasks[0]
    assert.deepEqual([kept?.startedAt, kept?.endedAt, kept?.runnerID, kept?.history], [T0 + 10, T0 + 12, "runner-b", history])
  })

  it("attempt-history: a claim returns the attempt columns, and a retry of a failed workflow keeps them", async (t) => {
    const p = await open(t)
    if (!p) return
    const id = `attempts-${randomUUID()}`
    await p.insertWorkflowsAndTasks([leased(id)])
    const history = JSON.stringify([{ startedAt: null, endedAt: T0 + 2, outcome: "interrupted", error: null, runnerID: null }])
    const gaveUp: WorkflowWrite = {
      kind: "endWorkflow",
      workflowID: id,
      token: TOKEN,
      now: T0 + 9,
      counts: NO_CRASHES,
      status: "failed",
      task: { seq: 0, status: "failed", result: null, error: "gave up", attempts: 3, startedAt: T0 + 3, runnerID: "runner-c", history },
    }
    assert.deepEqual(await p.applyWorkflowWrites([gaveUp]), [true])
    assert.equal(await p.retryWorkflow({ id, now: T0 + 30, resumeSeq: 0, counts: NO_CRASHES }), true)
    const retried = (await p.getWorkflow(id))?.tasks[0]
    assert.deepEqual([retried?.status, retried?.startedAt, retried?.endedAt, retried?.runnerID, retried?.history], ["pending", T0 + 3, T0 + 9, "runner-c", history])

    const claims = await p.claimWorkflows({ lease: { owner: "claimer", token: "attempts-claim", expiresAt: T0 + 100 }, now: T0 + 30, limit: 1_000, reclaimOwn: false })
    const claimed = claims.find((c) => c.workflow.id === id)?.tasks[0]
    assert.ok(claimed, "the retried workflow was not claimed")
    assert.deepEqual([claimed.startedAt, claimed.endedAt, claimed.runnerID, claimed.history], [T0 + 3, T0 + 9, "runner-c", history])
  })
}

function leased(id: string): NewWorkflow {
  return { id, now: T0, tasks: [{ name: "only", task: "Runner", data: "1" }], lease: { owner: "attempts", token: TOKEN, expiresAt: T0 + 1_000 } }
}

function write(workflowID: string, now: number, task: TaskChange): WorkflowWrite {
  return { kind: "recordTask", workflowID, token: TOKEN, now, counts: NO_CRASHES, task }
}
