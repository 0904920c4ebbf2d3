/**
 * Per-attempt history of tasks (the `attempt-history` capability), through a
 * runner on each store: every attempt's start, end, outcome, error and
 * runnerID; at most 20 kept; an attempt interrupted by a dead runner found at
 * takeover; a retried workflow keeps the attempts before the retry.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { MAX_ATTEMPTS_KEPT, defineTask, type WorkflowInfo, type WorkflowRunner } from "../src/index.js"
import { ALL_STORES, eventually, openStore, resultOf, startRunner } from "./helpers/runner.js"

/** The workflow once it has ended, read through `runner`. */
function ended(runner: Pick<WorkflowRunner, "getWorkflow">, id: string): Promise<WorkflowInfo> {
  return eventually(async () => {
    const info = await runner.getWorkflow(id)
    return info && info.status !== "pending" ? info : undefined
  }, 10_000, `workflow "${id}" ending`)
}

/** Fails until its attempt number (failed attempts so far) reaches `data.failures`. */
const flaky = defineTask<{ failures: number }>()({
  Name: "Flaky",
  Execute: (ctx) => {
    if (ctx.attempt < ctx.data.failures) throw new Error(`failure ${ctx.attempt + 1}`)
    return { data: "ok" }
  },
})

/** Fails the first time it runs for a workflow in this process, then completes. */
const failedOnce = new Set<string>()
const failsOnce = defineTask<undefined>()({
  Name: "FailsOnce",
  Execute: (ctx) => {
    if (failedOnce.has(ctx.workflowID)) return {}
    failedOnce.add(ctx.workflowID)
    throw new Error("first run fails")
  },
})

for (const store of ALL_STORES) {
  describe(`attempt history (${store.name})`, { skip: store.skip ?? false, timeout: 60_000 }, () => {
    it("lists each attempt of a task with its start, end, outcome, error and runnerID, oldest first", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [flaky], { runnerID: "runner-a" })
      const before = Date.now()
      const info = await resultOf(await runner.addWorkflow({ workflowID: "three-tries", tasks: { only: { task: "Flaky", data: { failures: 2 } } } }))
      const after = Date.now()
      assert.equal(info.status, "completed")
      const task = info.tasks[0]!
      assert.deepEqual(
        task.attemptHistory.map((a) => [a.outcome, a.error, a.runnerID]),
        [
          ["failed", "failure 1", "runner-a"],
          ["failed", "failure 2", "runner-a"],
          ["completed", null, "runner-a"],
        ],
      )
      let previousEnd = before
      for (const attempt of task.attemptHistory) {
        assert.ok(attempt.startedAt && attempt.endedAt, "an attempt run here has a start and an end")
        assert.ok(attempt.startedAt.getTime() >= previousEnd, "attempts must not overlap, and come oldest first")
        assert.ok(attempt.endedAt.getTime() >= attempt.startedAt.getTime())
        previousEnd = attempt.endedAt.getTime()
      }
      assert.ok(previousEnd <= after)
      assert.equal(task.startedAt?.getTime(), task.attemptHistory[0]!.startedAt!.getTime(), "the task starts with its first attempt")
      assert.equal(task.endedAt?.getTime(), previousEnd, "the task ends with its last attempt")
    })

    it(`keeps the last ${MAX_ATTEMPTS_KEPT} attempts of a task that fails more often`, async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [flaky], { retryDelayMS: 1 })
      const info = await resultOf(await runner.addWorkflow({ workflowID: "many-tries", tasks: { only: { task: "Flaky", data: { failures: 25 } } } }), 30_000)
      const attempts = info.tasks[0]!.attemptHistory
      assert.equal(attempts.length, MAX_ATTEMPTS_KEPT)
      // Attempts 1 to 25 failed and 26 completed: the oldest six are dropped.
      assert.deepEqual(
        attempts.map((a) => a.error ?? a.outcome),
        [...Array.from({ length: 19 }, (_, i) => `failure ${i + 7}`), "completed"],
      )
    })

    it("records an attempt interrupted by a runner that died as interrupted, found when another runner took the workflow over", async (t) => {
      const storage = openStore(t, store)
      await storage.init()
      // A workflow leased to a runner that died: its lease was never released, and has expired.
      const now = Date.now()
      await storage.insertWorkflowsAndTasks([
        {
          id: "orphan",
          now,
          tasks: [{ name: "only", task: "Flaky", data: JSON.stringify({ failures: 0 }) }],
          lease: { owner: "dead", token: "dead-life", expiresAt: now - 1 },
        },
      ])
      const taker = await startRunner(t, storage, [flaky], { runnerID: "survivor" })
      const info = await ended(taker, "orphan")
      const attempts = info.tasks[0]!.attemptHistory
      assert.deepEqual(
        attempts.map((a) => [a.outcome, a.runnerID]),
        [
          ["interrupted", null],
          ["completed", "survivor"],
        ],
      )
      assert.ok(attempts[0]!.endedAt && attempts[0]!.endedAt.getTime() <= attempts[1]!.startedAt!.getTime(), "found interrupted before the next attempt")
    })

    it("a retried workflow keeps the attempts before the retry, and adds the new ones", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [failsOnce], { runnerID: "runner-r", retry: { maxAttempts: 1 } })
      const failed = await resultOf(await runner.addWorkflow({ workflowID: `retried-${store.name}`, tasks: { only: { task: "FailsOnce" } } }))
      assert.equal(failed.status, "failed")
      assert.deepEqual(failed.tasks[0]!.attemptHistory.map((a) => a.outcome), ["failed"])
      assert.equal(await runner.retryWorkflow(`retried-${store.name}`), true)
      const info = await ended(runner, `retried-${store.name}`)
      assert.equal(info.status, "completed")
      assert.deepEqual(
        info.tasks[0]!.attemptHistory.map((a) => [a.outcome, a.runnerID]),
        [
          ["failed", "runner-r"],
          ["completed", "runner-r"],
        ],
      )
    })
  })
}
