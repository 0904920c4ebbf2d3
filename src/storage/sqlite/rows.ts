/**
 * How the SQLite provider reads its rows: the columns it selects, in order,
 * the rows they make (read with `.raw()`, cheaper than objects), and the
 * fixed-size IN lists of its batch statements.
 *
 * @module
 */
import { STEP_KINDS, type StepKind, type TaskRow, type WorkflowRow } from "../provider.js"

/** Workflows per batch statement (claims, batch reads). */
export const IN_LIST_SIZE = 64

/** The placeholders of an IN list of {@link IN_LIST_SIZE}. */
export const IN_LIST = Array.from({ length: IN_LIST_SIZE }, () => "?").join(", ")

/** The columns a workflow read selects, in the order {@link toWorkflowRow} reads them. */
export const WORKFLOW_COLUMNS =
  "id, status, created_at AS createdAt, updated_at AS updatedAt, available_at AS availableAt, lease_owner AS leaseOwner, lease_token AS leaseToken, task_count AS taskCount, recoveries, crashes, parent_id AS parentID"
/** WORKFLOW_COLUMNS of a table aliased `w`, same order. */
export const WORKFLOW_COLUMNS_OF_W = WORKFLOW_COLUMNS.split(", ")
  .map((c) => `w.${c}`)
  .join(", ")
/** The columns a task read selects, in the order {@link toTaskRow} reads them. */
export const TASK_COLUMNS =
  "workflow_id AS workflowID, seq, name, task, data, status, result, error, attempts, created_at AS createdAt, updated_at AS updatedAt, kind, wake_at AS wakeAt, started_at, ended_at, runner_id, attempt_history"

/** A workflow row read with `.raw()`, columns in WORKFLOW_COLUMNS order. */
export function toWorkflowRow(r: unknown[]): WorkflowRow {
  return {
    id: r[0] as string,
    status: r[1] as WorkflowRow["status"],
    createdAt: r[2] as number,
    updatedAt: r[3] as number,
    availableAt: r[4] as number,
    leaseOwner: r[5] as string | null,
    leaseToken: r[6] as string | null,
    taskCount: r[7] as number,
    recoveries: r[8] as number,
    crashes: r[9] as number,
    parentID: r[10] as string | null,
  }
}

/** A task row read with `.raw()`, columns in TASK_COLUMNS order. */
export function toTaskRow(r: unknown[]): TaskRow {
  return {
    workflowID: r[0] as string,
    seq: r[1] as number,
    name: r[2] as string,
    task: r[3] as string,
    data: r[4] as string,
    status: r[5] as TaskRow["status"],
    result: r[6] as string | null,
    error: r[7] as string | null,
    attempts: r[8] as number,
    createdAt: r[9] as number,
    updatedAt: r[10] as number,
    kind: stepKind(r[11], r[0] as string, r[1] as number),
    wakeAt: r[12] as number | null,
    startedAt: r[13] as number | null,
    endedAt: r[14] as number | null,
    runnerID: r[15] as string | null,
    history: r[16] as string | null,
  }
}

/** Checks a stored step kind: a row written by a newer durabletasks is refused, not run as a task. */
function stepKind(kind: unknown, workflowID: string, seq: number): StepKind {
  if (!(STEP_KINDS as readonly unknown[]).includes(kind)) {
    throw new Error(`step ${seq} of workflow "${workflowID}" has unknown kind ${JSON.stringify(kind)}: was it written by a newer durabletasks?`)
  }
  return kind as StepKind
}

/**
 * The distinct `ids`, IN_LIST_SIZE at a time, each list padded with NULLs
 * (which match nothing): a fixed-size IN list keeps one prepared statement
 * per shape.
 */
export function* inListsOf(ids: string[]): Generator<Array<string | null>> {
  const unique = [...new Set(ids)]
  for (let start = 0; start < unique.length; start += IN_LIST_SIZE) {
    const chunk: Array<string | null> = unique.slice(start, start + IN_LIST_SIZE)
    while (chunk.length < IN_LIST_SIZE) chunk.push(null)
    yield chunk
  }
}
