/** The engine decides each write from a task and its outcome alone: the README's outcomes table, without storage. */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { planWrite, type PlanContext } from "../src/engine.js"
import type { TaskRow } from "../src/storage/provider.js"

const task: TaskRow = {
  workflowID: "w",
  seq: 1,
  name: "b",
  task: "B",
  data: "null",
  status: "pending",
  result: null,
  error: null,
  attempts: 2,
  createdAt: 0,
  updatedAt: 0,
}
const context = (over: Partial<PlanContext> = {}): PlanContext => ({ token: "t", now: 1_000, isLast: false, retry: undefined, retryDelayMS: 50, ...over })

describe("engine: planWrite", () => {
  it("a completed task stores its result; the last one completes the workflow", () => {
    const middle = planWrite(task, { kind: "completed", result: '"ok"' }, context())
    assert.deepEqual(middle.update, {
      workflowID: "w",
      token: "t",
      now: 1_000,
      task: { seq: 1, status: "completed", result: '"ok"', error: null, attempts: 2 },
      workflow: undefined,
    })
    assert.equal(middle.end, undefined)
    const last = planWrite(task, { kind: "completed", result: "1" }, context({ isLast: true }))
    assert.deepEqual(last.update.workflow, { status: "completed" })
    assert.deepEqual(last.end, { kind: "ended", status: "completed" })
  })

  it("abort 'task' fails the task and goes on (completing the workflow if last); abort 'workflow' fails the workflow", () => {
    const goesOn = planWrite(task, { kind: "aborted", scope: "task", error: "no" }, context())
    assert.deepEqual(goesOn.update.task, { seq: 1, status: "failed", error: "no", attempts: 2 })
    assert.equal(goesOn.update.workflow, undefined)
    assert.equal(goesOn.end, undefined)
    assert.deepEqual(planWrite(task, { kind: "aborted", scope: "task", error: "no" }, context({ isLast: true })).end, { kind: "ended", status: "completed" })
    const fails = planWrite(task, { kind: "aborted", scope: "workflow", error: "stop" }, context())
    assert.deepEqual(fails.update.workflow, { status: "failed" })
    assert.deepEqual(fails.end, { kind: "ended", status: "failed" })
  })

  it("a thrown error counts an attempt and parks the workflow until the retry", () => {
    const { update, end } = planWrite(task, { kind: "failed", error: "boom", retry: true }, context({ retry: { delayMS: 300 } }))
    assert.deepEqual(update.task, { seq: 1, status: "pending", error: "boom", attempts: 3 })
    assert.deepEqual(update.workflow, { status: "pending", availableAt: 1_300 })
    assert.deepEqual(end, { kind: "retryAt", at: 1_300 })
    assert.deepEqual(planWrite(task, { kind: "failed", error: "boom", retry: true }, context()).end, { kind: "retryAt", at: 1_050 })
  })

  it("gives up at maxAttempts, and at once on an error no retry can mend", () => {
    const gaveUp = planWrite(task, { kind: "failed", error: "boom", retry: true }, context({ retry: { maxAttempts: 3 } }))
    assert.deepEqual(gaveUp.update.task, { seq: 1, status: "failed", error: "gave up after 3 attempts: boom", attempts: 3 })
    assert.deepEqual(gaveUp.end, { kind: "ended", status: "failed" })
    const stillTrying = planWrite(task, { kind: "failed", error: "boom", retry: true }, context({ retry: { maxAttempts: 4 } }))
    assert.equal(stillTrying.end?.kind, "retryAt")
    const unmendable = planWrite(task, { kind: "failed", error: "too big", retry: false }, context())
    assert.deepEqual(unmendable.update.task, { seq: 1, status: "failed", error: "too big", attempts: 3 })
    assert.deepEqual(unmendable.update.workflow, { status: "failed" })
  })
})
