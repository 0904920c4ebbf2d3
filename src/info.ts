/**
 * What users read back about workflows: stored rows turned into plain objects
 * with parsed JSON and dates.
 */
import { fromJSONText } from "./json.js"
import { NEVER, type StepKind, type TaskRow, type TaskStatus, type WorkflowRow, type WorkflowStatus, type WorkflowWithTasks } from "./storage/provider.js"
import { childIDOf, readChild } from "./steps/child-spec.js"
import { memberCount } from "./steps/parallel-spec.js"
import { waitingState } from "./steps/wait-state.js"
import { NO_TIMEOUT } from "./engine.js"
import { taskAttempts, taskTimes, type AttemptOutcome } from "./attempts.js"

/**
 * What a pending workflow is doing when it was read: `running` (a runner
 * holds its lease), `waiting` (for a retry, until `nextRunAt`), or `queued`
 * (claimable now: waiting for a runner with a free slot, or for its crashed
 * runner's lease to be taken over).
 */
export type PendingState = "running" | "waiting" | "queued"

/** A workflow without its tasks, as `listWorkflows` returns it. */
export interface WorkflowSummary {
  id: string
  status: WorkflowStatus
  /** For a pending workflow, what it is doing (see {@link PendingState}); `null` once it has ended. */
  state: PendingState | null
  createdAt: Date
  updatedAt: Date
  taskCount: number
  /** The runner holding the lease and until when, or `null` when not running anywhere. */
  lease: { owner: string; expiresAt: Date } | null
  /** For a pending workflow not running anywhere: when it may run next (a retry waits until then). */
  nextRunAt: Date | null
  /**
   * Times in a row it was taken over from a runner that died or lost it, with
   * no progress since (0 when the provider does not count them).
   */
  recoveries: number
  /** Times in a row its runner died while its task ran on its own (see the runner's `maxCrashes`). */
  crashes: number
}

/** One step of a workflow as stored: a task, or a step of another kind (a sleep). */
export interface TaskInfo {
  seq: number
  /** The step's label (its key in `tasks`). */
  name: string
  /** What the step is: `task` (runs a TaskRunner), `sleep`, `waitForEvent`, `workflow` (a child workflow) or `parallel`. */
  kind: StepKind
  /** The TaskRunner's name; `""` for a step that is not a task. */
  task: string
  status: TaskStatus
  /**
   * What the step is doing, in words: `"pending"`, `"sleeping until
   * 2030-01-01T09:00:00.000Z"` (a pending sleep that has been reached),
   * `"waiting for event \"paid\" with key \"42\" until 2030-…Z"` (a reached
   * waitForEvent; `"(no timeout)"` without one),
   * `"waiting for child workflow <id>"` (the step a parked workflow waits in),
   * `"completed"` or `"failed"`.
   */
  state: string
  /**
   * A sleep's wake time, or a waitForEvent's deadline, once the step has been
   * reached (it is stored then and kept across restarts); `null` before, for
   * tasks and child workflow steps, and for a waitForEvent without a timeout.
   */
  wakeAt: Date | null
  /** A task's input; a sleep's stored definition (`{ sleep: ms }` or `{ sleepUntil: ISO string }`). */
  data: unknown
  /** The stored result (`undefined` unless completed). */
  result: unknown
  /** The last error message, or `null`. */
  error: string | null
  /** Failed attempts so far. */
  attempts: number
  createdAt: Date
  updatedAt: Date
  /** When its first kept attempt started, or `null` (none yet, or a provider without `attempt-history`). */
  startedAt: Date | null
  /** When its last attempt ended, once the task has ended; else `null`. */
  endedAt: Date | null
  /**
   * Its attempts, oldest first: the last 20 (empty
   * before the first ends, and with a provider without `attempt-history`).
   */
  attemptHistory: AttemptInfo[]
}

/** One attempt of a task, as {@link TaskInfo.attemptHistory} lists it. */
export interface AttemptInfo {
  /** When it started, or `null` when unknown (an interrupted attempt). */
  startedAt: Date | null
  /** When it ended (for an interrupted one: when a takeover found it so). */
  endedAt: Date | null
  /** `completed`, `failed`, or `interrupted` (its runner died or lost the lease during it). */
  outcome: AttemptOutcome
  /** The error of a failed attempt, else `null`. */
  error: string | null
  /** The `runnerID` that ran it, or `null` when unknown. */
  runnerID: string | null
}

/** A workflow with all its tasks, as `getWorkflow` and `handle.result()` return it. */
export interface WorkflowInfo extends WorkflowSummary {
  tasks: TaskInfo[]
}

/** @internal What a pending workflow is doing at `now`. */
export function pendingState(row: WorkflowRow, now: number): PendingState | null {
  if (row.status !== "pending") return null
  if (row.availableAt <= now) return "queued"
  return row.leaseOwner !== null ? "running" : "waiting"
}

/** @internal */
export function toWorkflowSummary(row: WorkflowRow, now: number): WorkflowSummary {
  const leased = row.leaseOwner !== null
  return {
    id: row.id,
    status: row.status,
    state: pendingState(row, now),
    createdAt: new Date(row.createdAt),
    updatedAt: new Date(row.updatedAt),
    taskCount: row.taskCount,
    lease: leased ? { owner: row.leaseOwner as string, expiresAt: new Date(row.availableAt) } : null,
    // A workflow that waits only for its children has no time to run at: a child's end wakes it.
    nextRunAt: !leased && row.status === "pending" && row.availableAt < NEVER ? new Date(row.availableAt) : null,
    recoveries: row.recoveries ?? 0,
    crashes: row.crashes ?? 0,
  }
}

/** @internal */
export function toWorkflowInfo({ workflow, tasks }: WorkflowWithTasks, now: number): WorkflowInfo {
  // Parked: pending, unleased and not claimable yet; its first pending step is what it waits in.
  const parked = workflow.status === "pending" && workflow.leaseOwner === null && workflow.availableAt > now
  const current = currentSteps(tasks)
  return {
    ...toWorkflowSummary(workflow, now),
    tasks: tasks.map((t) => {
      const attempts = taskAttempts(t)
      const times = taskTimes(t, attempts)
      return {
        seq: t.seq,
        name: t.name,
        kind: t.kind ?? "task",
        task: t.task,
        status: t.status,
        state: stepState(t, parked && current.has(t)),
        wakeAt: typeof t.wakeAt === "number" && t.wakeAt < NO_TIMEOUT ? new Date(t.wakeAt) : null,
        data: fromJSONText(t.data),
        result: fromJSONText(t.result),
        error: t.error,
        attempts: t.attempts,
        createdAt: new Date(t.createdAt),
        updatedAt: new Date(t.updatedAt),
        startedAt: times.startedAt === null ? null : new Date(times.startedAt),
        endedAt: times.endedAt === null ? null : new Date(times.endedAt),
        attemptHistory: attempts.map((a) => ({
          startedAt: a.startedAt === null ? null : new Date(a.startedAt),
          endedAt: a.endedAt === null ? null : new Date(a.endedAt),
          outcome: a.outcome,
          error: a.error,
          runnerID: a.runnerID,
        })),
      }
    }),
  }
}

/** The step a workflow is at (its first pending one) and, for a parallel step, its members. */
function currentSteps(tasks: readonly TaskRow[]): Set<TaskRow> {
  const at = tasks.findIndex((t) => t.status === "pending")
  if (at < 0) return new Set()
  const step = tasks[at] as TaskRow
  if (step.kind !== "parallel") return new Set([step])
  let count = 0
  try {
    count = memberCount(step)
  } catch {
    // A damaged definition: show the step alone.
  }
  return new Set(tasks.slice(at, at + 1 + count))
}

/** A step's state in words (see {@link TaskInfo.state}); `current`: the first pending step of a parked workflow. */
function stepState(t: TaskRow, current: boolean): string {
  if (t.status === "pending" && t.kind === "sleep" && typeof t.wakeAt === "number") return `sleeping until ${new Date(t.wakeAt).toISOString()}`
  if (current && t.kind === "parallel") return "waiting for its members"
  if (current && t.kind === "workflow" && t.status === "pending") {
    try {
      return `waiting for child workflow ${childIDOf(t, readChild(t))}`
    } catch {
      return t.status
    }
  }
  if (t.status === "pending" && t.kind === "waitForEvent" && typeof t.wakeAt === "number") return waitingState(t.data, t.wakeAt)
  return t.status
}
