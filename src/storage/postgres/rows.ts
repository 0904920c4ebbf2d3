/**
 * Rows as pg returns them, and their conversion to the contract's row types.
 * `bigint` columns arrive as strings (pg does not guess whether they fit a
 * JavaScript number); times in ms since the epoch always do.
 *
 * @module
 */
import type { StepKind, TaskRow, TaskStatus, WorkflowRow, WorkflowStatus, WorkflowWithTasks } from "../provider.js"
import { STEP_KINDS, WORKFLOW_STATUSES } from "../provider.js"
import { availableAtColumn } from "./hot-updates.js"

/** The workflow columns, in the order of {@link WorkflowRecord}; a leased workflow's `available_at` is its lease's expiry. */
export const WORKFLOW_COLUMNS = `id, status, created_at, updated_at, ${availableAtColumn("")}, lease_owner, lease_token, task_count, recoveries, crashes, parent_id`

/** A workflow row as pg returns it. */
export interface WorkflowRecord {
  id: string
  status: string
  created_at: string
  updated_at: string
  available_at: string
  lease_owner: string | null
  lease_token: string | null
  task_count: number
  recoveries: number
  crashes: number
  /** Absent in rows of statements that do not read it. */
  parent_id?: string | null
}

/** A task row as pg returns it. */
export interface TaskRecord {
  workflow_id: string
  seq: number
  name: string
  task: string
  data: string
  status: string
  result: string | null
  error: string | null
  attempts: number
  created_at: string
  updated_at: string
  kind: string
  wake_at: string | null
  started_at: string | null
  ended_at: string | null
  runner_id: string | null
  attempt_history: string | null
}

const TASK_STATUSES: readonly string[] = ["pending", "completed", "failed"] satisfies TaskStatus[]

/** Converts a stored workflow row; rejects a status this library does not know. */
export function toWorkflowRow(r: WorkflowRecord): WorkflowRow {
  return {
    id: r.id,
    status: workflowStatus(r.status, r.id),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    availableAt: Number(r.available_at),
    leaseOwner: r.lease_owner,
    leaseToken: r.lease_token,
    taskCount: Number(r.task_count),
    recoveries: Number(r.recoveries),
    crashes: Number(r.crashes),
    parentID: r.parent_id ?? null,
  }
}

/** Converts a stored task row; rejects a status this library does not know. */
export function toTaskRow(r: TaskRecord): TaskRow {
  if (!TASK_STATUSES.includes(r.status)) {
    throw new Error(`task ${r.seq} of workflow "${r.workflow_id}" has unknown status "${r.status}": was it written by a newer durabletasks?`)
  }
  // A step of a kind this code does not know is refused, not run as a task.
  if (!(STEP_KINDS as readonly string[]).includes(r.kind)) {
    throw new Error(`step ${r.seq} of workflow "${r.workflow_id}" has unknown kind "${r.kind}": was it written by a newer durabletasks?`)
  }
  return {
    workflowID: r.workflow_id,
    seq: Number(r.seq),
    name: r.name,
    task: r.task,
    data: r.data,
    status: r.status as TaskStatus,
    result: r.result,
    error: r.error,
    attempts: Number(r.attempts),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    kind: r.kind as StepKind,
    wakeAt: r.wake_at === null ? null : Number(r.wake_at),
    startedAt: r.started_at === null ? null : Number(r.started_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    runnerID: r.runner_id,
    history: r.attempt_history,
  }
}

/**
 * The columns of a workflow joined with its tasks (`w` and `t`), task columns
 * prefixed `t_`; read back with {@link fromJoinedRows}.
 */
export const JOINED_COLUMNS = `w.id, w.status, w.created_at, w.updated_at, ${availableAtColumn("w.")}, w.lease_owner, w.lease_token, w.task_count, w.recoveries, w.crashes, w.parent_id,
  t.seq AS t_seq, t.name AS t_name, t.task AS t_task, t.data AS t_data, t.status AS t_status, t.result AS t_result,
  t.error AS t_error, t.attempts AS t_attempts, t.created_at AS t_created_at, t.updated_at AS t_updated_at,
  t.kind AS t_kind, t.wake_at AS t_wake_at, t.started_at AS t_started_at, t.ended_at AS t_ended_at, t.runner_id AS t_runner_id,
  t.attempt_history AS t_attempt_history`

/** A row of {@link JOINED_COLUMNS}; the task columns are null for a workflow without tasks (LEFT JOIN). */
export interface JoinedRecord extends WorkflowRecord {
  t_seq: number | null
  t_name: string
  t_task: string
  t_data: string
  t_status: string
  t_result: string | null
  t_error: string | null
  t_attempts: number
  t_created_at: string
  t_updated_at: string
  t_kind: string
  t_wake_at: string | null
  t_started_at: string | null
  t_ended_at: string | null
  t_runner_id: string | null
  t_attempt_history: string | null
}

/** Groups joined rows (ordered by workflow, then seq) into workflows with their tasks, in the rows' order. */
export function fromJoinedRows(rows: JoinedRecord[]): WorkflowWithTasks[] {
  const grouped: WorkflowWithTasks[] = []
  let current: WorkflowWithTasks | undefined
  for (const r of rows) {
    if (current?.workflow.id !== r.id) {
      current = { workflow: toWorkflowRow(r), tasks: [] }
      grouped.push(current)
    }
    if (r.t_seq === null) continue
    current.tasks.push(
      toTaskRow({
        workflow_id: r.id,
        seq: r.t_seq,
        name: r.t_name,
        task: r.t_task,
        data: r.t_data,
        status: r.t_status,
        result: r.t_result,
        error: r.t_error,
        attempts: r.t_attempts,
        created_at: r.t_created_at,
        updated_at: r.t_updated_at,
        kind: r.t_kind,
        wake_at: r.t_wake_at,
        started_at: r.t_started_at,
        ended_at: r.t_ended_at,
        runner_id: r.t_runner_id,
        attempt_history: r.t_attempt_history,
      }),
    )
  }
  return grouped
}

/** Checks a stored workflow status; rejects one this library does not know. */
export function workflowStatus(status: string, id: string): WorkflowStatus {
  if (!(WORKFLOW_STATUSES as readonly string[]).includes(status)) {
    throw new Error(`workflow "${id}" has unknown status "${status}": was it written by a newer durabletasks?`)
  }
  return status as WorkflowStatus
}
