/**
 * The rows of the storage contract: workflows and their tasks as a provider
 * stores them and returns them, with their statuses and step kinds. Fields
 * marked with a capability (`waits`, `children`, `attempt-history`, ...) are
 * stored only by providers that declare it.
 *
 * @module
 */

/** Status of a workflow. Only `pending` workflows are ever claimed or run. */
export type WorkflowStatus = "pending" | "completed" | "failed" | "cancelled"

/** Status of a task: `failed` covers both aborted tasks and given-up tasks. */
export type TaskStatus = "pending" | "completed" | "failed"

/**
 * What a step of a workflow is: `task` runs a TaskRunner; `sleep` waits until
 * a wake time (the `waits` capability); `waitForEvent` waits for an event
 * (the `events` capability); `workflow` adds a child workflow and waits for
 * its end (the `children` capability); `parallel` runs the rows that follow
 * it (its members, as many as its data lists) at once (`waits`). Stored with
 * each step; rows written before step kinds existed are tasks.
 */
export type StepKind = "task" | "sleep" | "waitForEvent" | "workflow" | "parallel"

/** Every step kind this library knows. */
export const STEP_KINDS: readonly StepKind[] = ["task", "sleep", "waitForEvent", "workflow", "parallel"]

/** Every workflow status, in the order a listing shows them. */
export const WORKFLOW_STATUSES: readonly WorkflowStatus[] = ["pending", "completed", "failed", "cancelled"]

/** A workflow row as stored. */
export interface WorkflowRow {
  /** User-given or random ID; unique in the store. */
  id: string
  status: WorkflowStatus
  /** When the workflow was inserted. */
  createdAt: number
  /** When the workflow row or one of its tasks last changed. */
  updatedAt: number
  /**
   * When the workflow may next be claimed. While a lease is held this is the
   * lease's expiry; while a retry waits it is the time of the retry.
   */
  availableAt: number
  /** `runnerID` of the lease holder, or `null` when nobody holds a lease. */
  leaseOwner: string | null
  /** Token of the lease holder's process life (the fence), or `null`. */
  leaseToken: string | null
  /** Number of tasks in the workflow. */
  taskCount: number
  /**
   * How many claims in a row took the workflow over from a lease that was
   * never released (its executor died, or lost the lease), with no progress
   * since. Claims count it up; every applied write stores the value its
   * `counts` give (the runner passes 0 for progress). Optional for providers
   * of your own (the `crash-counts` capability): without it, runners cannot
   * tell a workflow that crashes its runner (see the runner's `maxCrashes`).
   */
  recoveries?: number
  /**
   * How many times a runner died while it ran this workflow's task on its
   * own (suspected of crashing it, see the runner's `maxCrashes`). Every
   * applied write stores the value its `counts` give.
   */
  crashes?: number
  /**
   * The workflow whose `workflow` step added this one (`children`), or
   * `null` (or absent) for a workflow added on its own.
   */
  parentID?: string | null
}

/** A task row as stored. `(workflowID, seq)` is unique. */
export interface TaskRow {
  workflowID: string
  /** Position in the workflow, from 0. Tasks run in `seq` order. */
  seq: number
  /** The task's label: its key in `addWorkflow({ tasks })`, or its `name` in the array form. */
  name: string
  /** Name of the TaskRunner that executes it; `""` for a step that is not a task. */
  task: string
  /**
   * JSON text of the task's input; for a step of another kind, its
   * definition as the runner wrote it (a sleep: `{"sleep":ms}` or
   * `{"sleepUntil":"ISO"}`).
   */
  data: string
  /**
   * The step's kind (`waits`). Absent means `task`: a provider without the
   * capability stores tasks only.
   */
  kind?: StepKind
  /**
   * When a waiting step wakes, in ms since the epoch (`waits`): written by
   * the runner when the step is first reached, and kept from then on, so a
   * recovery never restarts a sleep. `null` (or absent) until then.
   */
  wakeAt?: number | null
  status: TaskStatus
  /** JSON text of the stored result once completed, else `null`. */
  result: string | null
  /** Error message of the last failure, or `null`. */
  error: string | null
  /** Number of failed attempts so far (persisted across restarts). */
  attempts: number
  createdAt: number
  updatedAt: number
  /** When the task's last ended attempt started (`attempt-history`); `null` (or absent) before any. */
  startedAt?: number | null
  /** When the task's last ended attempt ended (`attempt-history`); `null` (or absent) before any. */
  endedAt?: number | null
  /** The `runnerID` that ran the task's last ended attempt (`attempt-history`); `null` (or absent) before any. */
  runnerID?: string | null
  /**
   * JSON text of the task's earlier attempts, oldest first (`attempt-history`):
   * what the runner last wrote as {@link TaskChange.history}, or `null`. Read
   * it with `taskAttempts` (durabletasks), which adds the last attempt.
   */
  history?: string | null
}

/** A workflow row with all its tasks, in `seq` order. */
export interface WorkflowWithTasks {
  workflow: WorkflowRow
  tasks: TaskRow[]
}

/** The statuses of a workflow that has ended. */
export type EndedStatus = Exclude<WorkflowStatus, "pending">
