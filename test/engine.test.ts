/** The engine decides each write from a task and its outcome alone: the README's outcomes table, without storage. */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { NO_TIMEOUT, PROGRESS, planEventWait, planMember, planSleep, planWrite, resumePoint, type PlanContext } from "../src/engine.js"
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
const base = { workflowID: "w", token: "t", now: 1_000, counts: { recoveries: 0, crashes: 0 } }

describe("engine: planWrite", () => {
  it("a completed task stores its result; the last one completes the workflow", () => {
    const middle = planWrite(task, { kind: "completed", result: '"ok"' }, context())
    assert.deepEqual(middle.write, { ...base, kind: "recordTask", task: { seq: 1, status: "completed", result: '"ok"', error: null, attempts: 2 } })
    assert.equal(middle.end, undefined)
    const last = planWrite(task, { kind: "completed", result: "1" }, context({ isLast: true }))
    assert.deepEqual(last.write, {
      ...base,
      kind: "endWorkflow",
      status: "completed",
      task: { seq: 1, status: "completed", result: "1", error: null, attempts: 2 },
    })
    assert.deepEqual(last.end, { kind: "ended", status: "completed" })
  })

  it("abort 'task' fails the task and goes on (completing the workflow if last); abort 'workflow' fails the workflow", () => {
    const failedTask = { seq: 1, status: "failed", result: null, error: "no", attempts: 2 }
    const goesOn = planWrite(task, { kind: "aborted", scope: "task", error: "no" }, context())
    assert.deepEqual(goesOn.write, { ...base, kind: "recordTask", task: failedTask })
    assert.equal(goesOn.end, undefined)
    const last = planWrite(task, { kind: "aborted", scope: "task", error: "no" }, context({ isLast: true }))
    assert.deepEqual(last.write, { ...base, kind: "endWorkflow", status: "completed", task: failedTask })
    assert.deepEqual(last.end, { kind: "ended", status: "completed" })
    const fails = planWrite(task, { kind: "aborted", scope: "workflow", error: "no" }, context())
    assert.deepEqual(fails.write, { ...base, kind: "endWorkflow", status: "failed", task: failedTask })
    assert.deepEqual(fails.end, { kind: "ended", status: "failed" })
  })

  it("a thrown error counts an attempt and parks the workflow until the retry", () => {
    const { write, end } = planWrite(task, { kind: "failed", error: "boom", retry: true }, context({ retry: { delayMS: 300 } }))
    assert.deepEqual(write, {
      ...base,
      kind: "parkUntil",
      availableAt: 1_300,
      task: { seq: 1, status: "pending", result: null, error: "boom", attempts: 3 },
    })
    assert.deepEqual(end, { kind: "retryAt", at: 1_300 })
    assert.deepEqual(planWrite(task, { kind: "failed", error: "boom", retry: true }, context()).end, { kind: "retryAt", at: 1_050 })
  })

  it("gives up at maxAttempts, and at once on an error no retry can mend", () => {
    const gaveUp = planWrite(task, { kind: "failed", error: "boom", retry: true }, context({ retry: { maxAttempts: 3 } }))
    assert.deepEqual(gaveUp.write, {
      ...base,
      kind: "endWorkflow",
      status: "failed",
      task: { seq: 1, status: "failed", result: null, error: "gave up after 3 attempts: boom", attempts: 3 },
    })
    assert.deepEqual(gaveUp.end, { kind: "ended", status: "failed" })
    assert.equal(planWrite(task, { kind: "failed", error: "boom", retry: true }, context({ retry: { maxAttempts: 4 } })).end?.kind, "retryAt")
    const unmendable = planWrite(task, { kind: "failed", error: "too big", retry: false }, context())
    assert.deepEqual(unmendable.write, {
      ...base,
      kind: "endWorkflow",
      status: "failed",
      task: { seq: 1, status: "failed", result: null, error: "too big", attempts: 3 },
    })
  })

  it("every write that records an outcome clears the crash-loop counters", () => {
    assert.deepEqual(PROGRESS, { recoveries: 0, crashes: 0 })
    for (const outcome of [
      { kind: "completed", result: "1" },
      { kind: "aborted", scope: "task", error: "x" },
      { kind: "failed", error: "x", retry: true },
    ] as const) {
      assert.deepEqual(planWrite(task, outcome, context()).write.counts, { recoveries: 0, crashes: 0 })
    }
  })
})

describe("engine: resumePoint", () => {
  const row = (seq: number, status: TaskRow["status"]): TaskRow => ({ ...task, seq, status })
  it("resumes the failed task with the highest seq (the one that failed the workflow)", () => {
    assert.equal(resumePoint([row(0, "failed"), row(1, "failed"), row(2, "pending")]), 1)
    assert.equal(resumePoint([row(0, "completed"), row(1, "failed")]), 1)
    assert.equal(resumePoint([row(0, "completed"), row(1, "pending")]), undefined)
  })
})

describe("engine: planSleep", () => {
  const nap: TaskRow = { ...task, name: "nap", task: "", kind: "sleep", data: '{"sleep":500}', attempts: 0 }

  it("before the wake time: parks the workflow until then, storing the wake time with the step", () => {
    const { write, end } = planSleep(nap, 1_500, { token: "t", now: 1_000, isLast: false })
    assert.deepEqual(write, {
      ...base,
      kind: "parkUntil",
      availableAt: 1_500,
      task: { seq: 1, status: "pending", result: null, error: null, attempts: 0, wakeAt: 1_500 },
    })
    assert.deepEqual(end, { kind: "waiting", at: 1_500 })
  })

  it("from the wake time on: records { sleptUntil } (the wake time, not the claim's time); the last step ends the workflow", () => {
    const sleptUntil = JSON.stringify({ sleptUntil: new Date(1_500).toISOString() })
    const change = { seq: 1, status: "completed", result: sleptUntil, error: null, attempts: 0, wakeAt: 1_500 }
    const middle = planSleep({ ...nap, wakeAt: 1_500 }, 1_500, { token: "t", now: 1_000 + 9_000, isLast: false })
    assert.deepEqual(middle.write, { ...base, now: 10_000, kind: "recordTask", task: change })
    assert.equal(middle.end, undefined)
    const last = planSleep({ ...nap, wakeAt: 1_500 }, 1_500, { token: "t", now: 1_500, isLast: true })
    assert.deepEqual(last.write, { ...base, now: 1_500, kind: "endWorkflow", status: "completed", task: change })
    assert.deepEqual(last.end, { kind: "ended", status: "completed" })
  })
})

describe("engine: planMember", () => {
  const c = { token: "t", now: 1_000, retry: { maxAttempts: 2 }, retryDelayMS: 50 }
  const member: TaskRow = { ...task, attempts: 0 }
  it("records a completed member's result and nothing else (the workflow stays leased for the other members)", () => {
    assert.deepEqual(planMember(member, { kind: "completed", result: '"r"' }, c), {
      change: { seq: member.seq, status: "completed", result: '"r"', error: null, attempts: 0 },
    })
  })
  it("a failed member with attempts left stays pending, counted, with the time of its next attempt", () => {
    const plan = planMember(member, { kind: "failed", error: "boom", retry: true }, c)
    assert.deepEqual(plan.change, { seq: member.seq, status: "pending", result: null, error: "boom", attempts: 1 })
    assert.equal(plan.retryAt, 1_050)
    assert.equal(plan.failsWorkflow, undefined)
  })
  it("a member that gives up or aborts the workflow fails it; one that aborts itself does not", () => {
    const gaveUp = planMember({ ...member, attempts: 1 }, { kind: "failed", error: "boom", retry: true }, c)
    assert.equal(gaveUp.change.status, "failed")
    assert.match(gaveUp.failsWorkflow ?? "", /gave up after 2 attempts: boom/)
    assert.equal(planMember(member, { kind: "aborted", scope: "workflow", error: "no" }, c).failsWorkflow, "no")
    const skipped = planMember(member, { kind: "aborted", scope: "task", error: "skip" }, c)
    assert.equal(skipped.change.status, "failed")
    assert.equal(skipped.failsWorkflow, undefined)
    assert.equal(skipped.retryAt, undefined)
  })
})

describe("engine: planEventWait", () => {
  const step: TaskRow = { ...task, name: "paid", task: "", kind: "waitForEvent", data: "{}", attempts: 0 }
  const wait = { name: "paid", key: "o-1", timeoutMS: 500, onTimeout: "continue" as const }
  const event = { seq: 7, name: "paid", key: "o-1", payload: '{"amount":3}', eventID: "e-7", sentAt: 1_200 }

  it("with an event: records it as the result with its seq (even past the deadline)", () => {
    const plan = planEventWait({ ...step, wakeAt: 1_500 }, wait, event, { token: "t", now: 9_000, isLast: false })
    assert.equal(plan.kind, "write")
    const change = plan.kind === "write" ? plan.write.task : undefined
    assert.equal(change?.eventSeq, 7)
    assert.equal(change?.status, "completed")
    assert.deepEqual(JSON.parse(change?.result ?? "null"), { name: "paid", key: "o-1", payload: { amount: 3 }, eventID: "e-7", sentAt: new Date(1_200).toISOString() })
    const noKey = planEventWait(step, { ...wait, key: null }, { ...event, key: "" }, { token: "t", now: 1_000, isLast: true })
    assert.equal(noKey.kind === "write" && JSON.parse(noKey.write.task?.result ?? "null").key, null)
    assert.deepEqual(noKey.kind === "write" && noKey.end, { kind: "ended", status: "completed" })
  })

  it("without one: parks until now + timeoutMS the first time, until the stored deadline after, or far future without a timeout", () => {
    assert.deepEqual(planEventWait(step, wait, null, { token: "t", now: 1_000, isLast: false }), { kind: "park", wakeAt: 1_500, end: { kind: "waiting", at: 1_500 } })
    assert.deepEqual(planEventWait({ ...step, wakeAt: 1_500 }, wait, null, { token: "t", now: 1_400, isLast: false }).kind, "park")
    assert.equal((planEventWait({ ...step, wakeAt: 1_500 }, wait, null, { token: "t", now: 1_400, isLast: false }) as { wakeAt: number }).wakeAt, 1_500)
    assert.equal((planEventWait(step, { ...wait, timeoutMS: null }, null, { token: "t", now: 1_000, isLast: false }) as { wakeAt: number }).wakeAt, NO_TIMEOUT)
  })

  it("from the deadline on: { timedOut: true } with 'continue', a failed workflow with 'fail'", () => {
    const goOn = planEventWait({ ...step, wakeAt: 1_500 }, wait, null, { token: "t", now: 1_500, isLast: false })
    assert.ok(goOn.kind === "write" && goOn.write.kind === "recordTask")
    assert.equal(goOn.write.task?.result, '{"timedOut":true}')
    const fail = planEventWait({ ...step, wakeAt: 1_500 }, { ...wait, onTimeout: "fail" }, null, { token: "t", now: 1_500, isLast: false })
    assert.ok(fail.kind === "write" && fail.write.kind === "endWorkflow")
    assert.equal(fail.write.status, "failed")
    assert.match(fail.write.task?.error ?? "", /timed out after 500 ms waiting for event "paid" with key "o-1"/)
  })
})
