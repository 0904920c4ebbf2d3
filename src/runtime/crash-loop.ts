/**
 * Crash-loop protection: a task that takes its runner process down (it calls
 * `process.exit`, throws where nothing catches, runs out of memory, or blocks
 * the event loop past its lease) would otherwise be recovered and run again
 * forever, taking every workflow in flight beside it down each time.
 *
 * Storage counts how many claims in a row took a workflow over from a lease
 * nobody released (`recoveries`). A workflow taken over twice in a row with
 * no progress is a suspect: its next task runs on its own (one suspect at a
 * time per runner), after a write that counts the attempt (`crashes`). When
 * that task's outcome is stored the counters clear; when the runner dies
 * during it, the count stays, and the next claim after `maxCrashes` such
 * deaths fails the workflow instead of running it again. Suspects running one
 * at a time means a crash during a suspect's task is counted against that
 * workflow alone, not against the other suspects.
 */
import { PROGRESS } from "../engine.js"
import type { ExecutionEnd, ExecutionEnvironment } from "./execution.js"
import type { ExecutionAbort } from "./lazy-abort.js"
import type { TaskRow, WorkflowWithTasks } from "../storage/provider.js"

/** Takeovers in a row (with no progress between) after which a workflow is a suspect. */
export const SUSPECT_AFTER_RECOVERIES = 2

/** Whether a claimed workflow's next task must run on its own and be counted. */
export function isSuspect(claimed: WorkflowWithTasks, maxCrashes: number): boolean {
  return Number.isFinite(maxCrashes) && (claimed.workflow.recoveries ?? 0) >= SUSPECT_AFTER_RECOVERIES
}

/**
 * One suspect at a time: a queue of executions waiting for their turn. A turn
 * ends when its holder frees it, or after `turnLimitMS`: a task that has run
 * that long without taking its runner down is no fast crasher, and a task
 * that hangs must not hold up the suspects behind it for ever.
 */
export class SuspectLane {
  private busy = false
  private readonly waiting: Array<() => void> = []

  /** @param turnLimitMS - longest turn; the next suspect goes in after it even if the holder still runs */
  constructor(private readonly turnLimitMS: number) {}

  /**
   * Waits for the lane; resolves with the function that frees it (safe to
   * call twice), or with `undefined` if `signal` fires first.
   */
  acquire(signal: AbortSignal): Promise<(() => void) | undefined> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(undefined)
      const enter = () => {
        signal.removeEventListener("abort", onAbort)
        this.busy = true
        let freed = false
        const free = () => {
          if (freed) return
          freed = true
          clearTimeout(limit)
          this.busy = false
          this.waiting.shift()?.()
        }
        const limit = setTimeout(free, this.turnLimitMS)
        limit.unref()
        resolve(free)
      }
      const onAbort = () => {
        const at = this.waiting.indexOf(enter)
        if (at >= 0) this.waiting.splice(at, 1)
        resolve(undefined)
      }
      signal.addEventListener("abort", onAbort, { once: true })
      if (this.busy) this.waiting.push(enter)
      else enter()
    })
  }
}

/**
 * Runs a suspect's execution: fails it if it has crashed its runners
 * `maxCrashes` times, else waits for the lane, counts the attempt in storage,
 * and runs it, alone among suspects until its first outcome is stored.
 */
export async function executeSuspect(
  env: ExecutionEnvironment,
  claimed: WorkflowWithTasks,
  abort: ExecutionAbort,
  lane: SuspectLane,
  maxCrashes: number,
  execute: (env: ExecutionEnvironment, claimed: WorkflowWithTasks, abort: ExecutionAbort) => Promise<ExecutionEnd>,
): Promise<ExecutionEnd> {
  const workflowID = claimed.workflow.id
  const task = claimed.tasks.find((t) => t.status === "pending")
  if (!task) return execute(env, claimed, abort)
  const crashes = claimed.workflow.crashes ?? 0
  if (crashes >= maxCrashes) return failCrashLoop(env, task, crashes)

  const free = await lane.acquire(abort.signal)
  if (!free) return { kind: "interrupted" }
  try {
    // Stopping or cancelled while it waited: nothing ran, nothing to count.
    if (abort.aborted || !env.mayStartTask()) return { kind: "interrupted" }
    const recoveries = claimed.workflow.recoveries ?? 0
    env.logger.warn?.(
      `workflow "${workflowID}" was taken over from a runner that died or lost it ${recoveries} times in a row: running task "${task.name}" on its own (attempt ${crashes + 1} of ${maxCrashes} before it is failed)`,
      { workflowID, seq: task.seq, task: task.task },
    )
    const commit = env.commit
    // Counts the attempt, keeping the takeovers counted so far.
    const mark = (count: number) => commit({ kind: "markCrash", workflowID, token: env.token, now: env.now(), counts: { recoveries, crashes: count } })
    if (!(await mark(crashes + 1))) return { kind: "fenced" }
    // The lane is freed once the task's outcome is stored (or the execution ends without one): the execution
    // runs in an environment layered over the runner's whose commit says when that happened.
    let outcomeWritten = false
    const lane: ExecutionEnvironment = Object.create(env) as ExecutionEnvironment
    lane.commit = async (write) => {
      try {
        return await commit(write)
      } finally {
        outcomeWritten = true
        free()
      }
    }
    const end = await execute(lane, claimed, abort)
    if (end.kind === "interrupted" && !outcomeWritten) {
      // Stopped (stop, cancel, a lease that could not be renewed) with this process alive: the attempt
      // took no runner down, so the count goes back. Fenced or refused if the lease is gone: then it stays.
      await mark(crashes)
    }
    return end
  } finally {
    free()
  }
}

async function failCrashLoop(env: ExecutionEnvironment, task: TaskRow, crashes: number): Promise<ExecutionEnd> {
  const { workflowID, seq, name } = task
  const error =
    `the runner died (process exit, uncaught error, out of memory, kill) or lost its lease ${crashes} times in a row while task "${name}" ran on its own: ` +
    `failed so that it stops taking runners down (retryWorkflow runs it again)`
  const applied = await env.commit({
    kind: "endWorkflow",
    workflowID,
    token: env.token,
    now: env.now(),
    counts: PROGRESS,
    status: "failed",
    task: { seq, status: "failed", result: null, error, attempts: task.attempts },
  })
  if (!applied) return { kind: "fenced" }
  env.logger.error?.(`task "${name}" failed: ${error}`, { workflowID, seq, name, task: task.task, attempts: task.attempts })
  env.emit("taskFailed", { workflowID, seq, name, task: task.task, error, retrying: false })
  return { kind: "ended", status: "failed" }
}
