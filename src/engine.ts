/**
 * The engine: pure decisions, no I/O. Given a task as stored and the outcome
 * of its attempt, it says what to write and how the execution goes on, by
 * the outcomes table of the README (completed, aborted, failed and retried,
 * given up). Unit-tested without storage (test/engine.test.ts).
 */
import { NEVER, type CrashCounts, type EndWorkflow, type EventRow, type ParkUntil, type RecordTask, type TaskChange, type TaskRow, type WorkflowWrite } from "./storage/provider.js"
import type { RetryPolicy } from "./task.js"

/** How an execution ended, as far as this process is concerned. */
export type ExecutionEnd =
  | { kind: "ended"; status: "completed" | "failed" }
  | { kind: "retryAt"; at: number }
  /** Parked by a waiting step (a sleep) until `at`: no lease, no slot; the claim index finds it again then. */
  | { kind: "waiting"; at: number }
  /** Stopped before its next task (runner stopping, cancelled, lease lost); the lease may still be held. */
  | { kind: "interrupted" }
  /** A write was fenced off: another runner (or a cancel) owns the workflow now. */
  | { kind: "fenced" }

/** What an attempt of a task came to. */
export type Outcome =
  | { kind: "completed"; result: string }
  | { kind: "aborted"; scope: "task" | "workflow"; error: string }
  /** Threw; `retry: false` for errors no retry can mend (a result that cannot be stored). */
  | { kind: "failed"; error: string; retry: boolean }

/** What the engine needs besides the task and its outcome. */
export interface PlanContext {
  /** The executing process life's lease token (the fence). */
  token: string
  now: number
  /** Whether this is the workflow's last pending task. */
  isLast: boolean
  /** The runner's retry policy, or the runner-wide default. */
  retry: RetryPolicy | undefined
  /** Delay of a retry when the policy names none. */
  retryDelayMS: number
}

/**
 * Counters after progress: a write that records an outcome shows the workflow
 * is not crashing its runners, so the takeovers and crashes counted so far
 * are forgotten.
 */
export const PROGRESS: CrashCounts = Object.freeze({ recoveries: 0, crashes: 0 })

/** The fenced write that records `outcome` of `task`, and how the execution goes on after it. */
export function planWrite(task: TaskRow, outcome: Outcome, c: PlanContext): { write: WorkflowWrite; end: ExecutionEnd | undefined } {
  const { workflowID, seq } = task
  switch (outcome.kind) {
    case "completed": {
      const change: TaskChange = { seq, status: "completed", result: outcome.result, error: null, attempts: task.attempts }
      return c.isLast
        ? { write: endWorkflow(c, workflowID, "completed", change), end: ENDED_COMPLETED }
        : { write: recordTask(c, workflowID, change), end: undefined }
    }
    case "aborted": {
      const change: TaskChange = { seq, status: "failed", result: null, error: outcome.error, attempts: task.attempts }
      if (outcome.scope === "workflow") return { write: endWorkflow(c, workflowID, "failed", change), end: ENDED_FAILED }
      if (c.isLast) return { write: endWorkflow(c, workflowID, "completed", change), end: ENDED_COMPLETED }
      return { write: recordTask(c, workflowID, change), end: undefined }
    }
    case "failed": {
      const attempts = task.attempts + 1
      const exhausted = !outcome.retry || (c.retry?.maxAttempts !== undefined && attempts >= c.retry.maxAttempts)
      if (exhausted) {
        const error = outcome.retry ? `gave up after ${attempts} attempts: ${outcome.error}` : outcome.error
        return { write: endWorkflow(c, workflowID, "failed", { seq, status: "failed", result: null, error, attempts }), end: ENDED_FAILED }
      }
      const at = c.now + retryDelay(c.retry, c.retryDelayMS, task.attempts)
      return {
        write: parkUntil(c, workflowID, at, { seq, status: "pending", result: null, error: outcome.error, attempts }),
        end: { kind: "retryAt", at },
      }
    }
  }
}

// Writes are built as plain literals, one shape per kind (no spreads): they are made for every task, on the hot path.
const ENDED_COMPLETED: ExecutionEnd = Object.freeze({ kind: "ended", status: "completed" })
const ENDED_FAILED: ExecutionEnd = Object.freeze({ kind: "ended", status: "failed" })

function recordTask(c: { token: string; now: number }, workflowID: string, task: TaskChange): RecordTask {
  return { kind: "recordTask", workflowID, token: c.token, now: c.now, counts: PROGRESS, task }
}

function endWorkflow(c: { token: string; now: number }, workflowID: string, status: "completed" | "failed", task: TaskChange): EndWorkflow {
  return { kind: "endWorkflow", workflowID, token: c.token, now: c.now, counts: PROGRESS, status, task }
}

function parkUntil(c: { token: string; now: number }, workflowID: string, availableAt: number, task: TaskChange): ParkUntil {
  return { kind: "parkUntil", workflowID, token: c.token, now: c.now, counts: PROGRESS, availableAt, task }
}

/** What {@link planSleep} needs besides the step and its wake time. */
export interface SleepPlanContext {
  /** The executing process life's lease token (the fence). */
  token: string
  now: number
  /** Whether this is the workflow's last pending step. */
  isLast: boolean
}

/**
 * The fenced write of a sleep step that the execution has reached, and how
 * the execution goes on after it. Before the wake time: park the workflow
 * until then, storing the wake time with the step (so a later claim, or a
 * recovery, never computes it again). From the wake time on: record
 * `{ sleptUntil }` as the step's result, like a completed task.
 */
export function planSleep(
  step: TaskRow,
  wakeAt: number,
  c: SleepPlanContext,
): { write: RecordTask | EndWorkflow | ParkUntil; end: ExecutionEnd | undefined } {
  const { workflowID, seq, attempts } = step
  if (c.now < wakeAt) {
    const change: TaskChange = { seq, status: "pending", result: null, error: null, attempts, wakeAt }
    return { write: parkUntil(c, workflowID, wakeAt, change), end: { kind: "waiting", at: wakeAt } }
  }
  const result = JSON.stringify({ sleptUntil: new Date(wakeAt).toISOString() })
  const change: TaskChange = { seq, status: "completed", result, error: null, attempts, wakeAt }
  return c.isLast
    ? { write: endWorkflow(c, workflowID, "completed", change), end: ENDED_COMPLETED }
    : { write: recordTask(c, workflowID, change), end: undefined }
}

/** How a member of a parallel step goes on after an attempt (see {@link planMember}). */
export interface MemberPlan {
  /** The member's new state, written with a `recordTask` (the workflow stays leased: the other members run on). */
  change: TaskChange
  /** Set when the member is retried: when its next attempt starts. */
  retryAt?: number
  /** Set when the member fails the workflow (aborted it, or gave up): the error. */
  failsWorkflow?: string
}

/**
 * What an attempt of a member of a parallel step comes to: the same rules as
 * {@link planWrite} (retries, aborts, giving up), but the member's own row
 * is all that is written, so the other members go on; ending or parking the
 * workflow is left to the parallel step once every member has settled.
 */
export function planMember(task: TaskRow, outcome: Outcome, c: Omit<PlanContext, "isLast">): MemberPlan {
  const { write, end } = planWrite(task, outcome, { ...c, isLast: false })
  const change = (write as RecordTask | EndWorkflow | ParkUntil).task as TaskChange
  if (write.kind === "parkUntil" && end?.kind === "retryAt") return { change, retryAt: end.at }
  if (write.kind === "endWorkflow") return { change, failsWorkflow: change.error ?? "failed" }
  return { change }
}

/** The task `retryWorkflow` resumes: the failed task with the highest seq (the one that failed the workflow), if any. */
export function resumePoint(tasks: readonly TaskRow[]): number | undefined {
  for (let i = tasks.length - 1; i >= 0; i--) if (tasks[i]!.status === "failed") return tasks[i]!.seq
  return undefined
}

/** Delay before the next attempt, after `attempt` earlier failures. */
export function retryDelay(policy: RetryPolicy | undefined, retryDelayMS: number, attempt: number): number {
  const base = policy?.delayMS ?? retryDelayMS
  if (policy?.backoff !== "exponential") return base
  const cap = Math.min(policy.maxDelayMS ?? 300_000, base * 2 ** Math.min(attempt, 40))
  return cap / 2 + Math.random() * (cap / 2)
}

/**
 * The wake time of a `waitForEvent` step without a timeout: the latest time
 * a Date holds. The workflow is parked until then, that is until an event
 * wakes it (or it is cancelled). The same instant as a parent waiting for
 * its children ({@link NEVER}): one "not claimable by time" for every wait.
 */
export const NO_TIMEOUT = NEVER

/** An event a `waitForEvent` step may take, as {@link planEventWait} needs it: an event as stored. */
export type TakableEvent = EventRow

/** What a reached `waitForEvent` step does, by {@link planEventWait}. */
export type EventWaitPlan =
  /** Record the step's end (it took `event`, or timed out): a fenced write, then go on as `end` says. */
  | { kind: "write"; write: RecordTask | EndWorkflow; end: ExecutionEnd | undefined; timedOut: boolean }
  /** Park the workflow until `wakeAt` (the step's deadline), unless an event arrives first. */
  | { kind: "park"; wakeAt: number; end: ExecutionEnd }

/**
 * The decision at a `waitForEvent` step the execution has reached, given the
 * earliest event it may take (if any). An event is taken whenever there is
 * one, even past the deadline (it arrived before the timeout was handled).
 * Without one: before the deadline, park until it (computing it the first
 * time, or when `retryWorkflow` resumed it after a timeout: `now +
 * timeoutMS`, or {@link NO_TIMEOUT}); from the deadline on,
 * record `{ timedOut: true }` (`onTimeout: "continue"`) or fail the workflow
 * (`"fail"`).
 */
export function planEventWait(
  step: TaskRow,
  wait: { name: string; key: string | null; timeoutMS: number | null; onTimeout: "continue" | "fail" },
  event: TakableEvent | null,
  c: SleepPlanContext,
): EventWaitPlan {
  const { workflowID, seq, attempts } = step
  // A pending wait with an error is one `retryWorkflow` resumed after it timed out: it waits anew (the park clears the error).
  const reached = typeof step.wakeAt === "number" && step.error === null
  const wakeAt = reached ? (step.wakeAt as number) : wait.timeoutMS === null ? NO_TIMEOUT : c.now + wait.timeoutMS
  if (event) {
    const result = receivedEventText(event)
    const change: TaskChange = { seq, status: "completed", result, error: null, attempts, wakeAt: step.wakeAt ?? null, eventSeq: event.seq }
    return c.isLast
      ? { kind: "write", write: endWorkflow(c, workflowID, "completed", change), end: ENDED_COMPLETED, timedOut: false }
      : { kind: "write", write: recordTask(c, workflowID, change), end: undefined, timedOut: false }
  }
  if (c.now < wakeAt) return { kind: "park", wakeAt, end: { kind: "waiting", at: wakeAt } }
  if (wait.onTimeout === "fail") {
    const what = wait.key === null ? `event "${wait.name}"` : `event "${wait.name}" with key "${wait.key}"`
    const error = `timed out after ${wait.timeoutMS ?? 0} ms waiting for ${what}`
    const change: TaskChange = { seq, status: "failed", result: null, error, attempts, wakeAt }
    return { kind: "write", write: endWorkflow(c, workflowID, "failed", change), end: ENDED_FAILED, timedOut: true }
  }
  const change: TaskChange = { seq, status: "completed", result: '{"timedOut":true}', error: null, attempts, wakeAt }
  return c.isLast
    ? { kind: "write", write: endWorkflow(c, workflowID, "completed", change), end: ENDED_COMPLETED, timedOut: true }
    : { kind: "write", write: recordTask(c, workflowID, change), end: undefined, timedOut: true }
}

/** The JSON text of a taken event's result, `{ name, key, payload, eventID, sentAt }` (the payload is stored JSON already). */
function receivedEventText(e: TakableEvent): string {
  return (
    `{"name":${JSON.stringify(e.name)},"key":${e.key === "" ? "null" : JSON.stringify(e.key)},"payload":${e.payload},` +
    `"eventID":${JSON.stringify(e.eventID)},"sentAt":${JSON.stringify(new Date(e.sentAt).toISOString())}}`
  )
}
