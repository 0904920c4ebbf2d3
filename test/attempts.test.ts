/**
 * The pure part of attempt history (src/attempts.ts): the history a new
 * attempt writes (none in the common case; the stored last attempt and an
 * interrupted one appended; at most 19 kept), and a task's attempts read
 * back from its row (unreadable history left out, not failing the read).
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { MAX_EARLIER_ATTEMPTS, historyForNextAttempt, taskAttempts, taskTimes } from "../src/attempts.js"
import type { TaskRow } from "../src/storage/provider.js"

function task(fields: Partial<TaskRow> = {}): TaskRow {
  return { workflowID: "w", seq: 0, name: "t", task: "T", data: "null", status: "pending", result: null, error: null, attempts: 0, createdAt: 1, updatedAt: 1, ...fields }
}

describe("attempt history", () => {
  it("writes no history for a first attempt, nor for a provider's row without the columns", () => {
    assert.equal(historyForNextAttempt(task(), undefined), undefined)
    assert.equal(historyForNextAttempt(task({ startedAt: null, endedAt: null, runnerID: null, history: null }), undefined), undefined)
  })

  it("appends the stored last attempt (failed, with its error), then an interrupted one", () => {
    const failed = task({ status: "pending", error: "boom", attempts: 1, startedAt: 10, endedAt: 20, runnerID: "a" })
    const history = historyForNextAttempt(failed, { foundAt: 30 })
    assert.deepEqual(JSON.parse(history!), [
      { startedAt: 10, endedAt: 20, outcome: "failed", error: "boom", runnerID: "a" },
      { startedAt: null, endedAt: 30, outcome: "interrupted", error: null, runnerID: null },
    ])
    assert.deepEqual(JSON.parse(historyForNextAttempt(task(), { foundAt: 5 })!), [
      { startedAt: null, endedAt: 5, outcome: "interrupted", error: null, runnerID: null },
    ])
  })

  it(`keeps the newest ${MAX_EARLIER_ATTEMPTS} earlier attempts`, () => {
    const earlier = Array.from({ length: MAX_EARLIER_ATTEMPTS }, (_, i) => ({ startedAt: i, endedAt: i, outcome: "failed", error: `e${i}`, runnerID: "a" }))
    const row = task({ error: "last", startedAt: 100, endedAt: 101, runnerID: "b", history: JSON.stringify(earlier) })
    const next = JSON.parse(historyForNextAttempt(row, undefined)!) as Array<{ error: string }>
    assert.equal(next.length, MAX_EARLIER_ATTEMPTS)
    assert.equal(next[0]!.error, "e1", "the oldest is dropped")
    assert.equal(next.at(-1)!.error, "last")
  })

  it("lists a task's attempts, oldest first, the last from the row's columns; its start and end", () => {
    const history = JSON.stringify([{ startedAt: 1, endedAt: 2, outcome: "failed", error: "x", runnerID: "a" }, "junk", { outcome: "unknown" }])
    const done = task({ status: "completed", result: "1", error: "x", startedAt: 5, endedAt: 9, runnerID: "b", history })
    assert.deepEqual(taskAttempts(done), [
      { startedAt: 1, endedAt: 2, outcome: "failed", error: "x", runnerID: "a" },
      { startedAt: 5, endedAt: 9, outcome: "completed", error: null, runnerID: "b" },
    ])
    assert.deepEqual(taskTimes(done), { startedAt: 1, endedAt: 9 })
    assert.deepEqual(taskTimes(task({ startedAt: 5, endedAt: 9, error: "retrying" })), { startedAt: 5, endedAt: null }, "a pending task has not ended")
    assert.deepEqual(taskAttempts(task({ history: "not json" })), [])
  })
})
