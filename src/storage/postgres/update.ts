/**
 * `applyWorkflowWrites` on Postgres: fenced batch writes, one
 * statement per "round" of the batch, all rounds in one transaction.
 *
 * @module
 */
import type { WorkflowWrite } from "../provider.js"
import type { PostgresConnection, Queryable } from "./connection.js"
import type { PostgresNames } from "./names.js"
import { notifyColumn } from "./notifier.js"
import { wakeParentsCTE } from "./children.js"
import { numberArray, textArray } from "./array-literal.js"

/**
 * The SQL of one round, in which each workflow appears at most once. The
 * workflow update is the fence: it matches only pending workflows whose lease
 * token is the writer's, and only the tasks of the workflows it returns are
 * updated. Both updates are one statement, hence atomic together.
 *
 * A workflow status clears the lease; `pending` with `availableAt` also sets
 * when it may be claimable again.
 *
 * Each write is one row of the batch, its task change (if any) in the same
 * row: the workflow update returns it, and the task update reads it from
 * there, so the batch is expanded once and each task found by one probe. (The
 * task changes had an `unnest` of their own, matched to the applied
 * workflows by a hash join: half the statement's time for a batch of 100
 * completions, measured with `EXPLAIN (ANALYZE)`.)
 *
 * The batch is the outer side of the join and each workflow an index probe,
 * whatever the planner guesses. The arrays reach `unnest` through scalar
 * subqueries (see {@link hidden}), so even the custom plans made for a
 * prepared statement's first executions see a batch of a few rows rather than
 * its real size: with the size known and the table's statistics missing or
 * small, Postgres hashed every pending workflow for each batch. An earlier
 * form restricted the workflows by `w.id = ANY(ARRAY(…))` instead; its plans
 * scanned the whole batch again for every workflow (nested loop over the
 * `unnest`): 9 of 11 ms for a batch of 100, measured with
 * `EXPLAIN (ANALYZE, BUFFERS)` in a burn-down of 20,000.
 */
function roundSQL(n: PostgresNames, notify: boolean): string {
  const batch = [
    "$1::text[]",
    "$2::text[]",
    "$3::bigint[]",
    "$4::text[]",
    "$5::bigint[]",
    "$6::int[]",
    "$7::int[]",
    "$8::int[]",
    "$9::text[]",
    "$10::text[]",
    "$11::text[]",
    "$12::int[]",
    "$13::bigint[]",
    "$14::bigint[]",
    "$15::bigint[]",
    "$16::text[]",
    "$17::text[]",
  ]
  return `
    WITH applied AS (
      UPDATE ${n.workflows} AS w SET
        updated_at = u.now,
        status = COALESCE(u.status, w.status),
        lease_owner = CASE WHEN u.status IS NULL THEN w.lease_owner END,
        lease_token = CASE WHEN u.status IS NULL THEN w.lease_token END,
        lease_expires_at = CASE WHEN u.status IS NULL THEN w.lease_expires_at END,
        available_at = COALESCE(u.available_at, w.available_at),
        recoveries = u.recoveries,
        crashes = u.crashes
      FROM unnest(${batch.map(hidden).join(", ")})
        AS u(id, token, now, status, available_at, recoveries, crashes,
          seq, task_status, result, error, attempts, wake_at, event_seq, started_at, runner_id, attempt_history)
      -- The status test is written against u (tokens are never null) so that it is a join condition: a
      -- restriction of w alone, guessed selective on a table without statistics, made hashing every pending
      -- workflow look cheaper than probing the batch's.
      WHERE w.id = u.id AND w.lease_token = u.token AND w.status = CASE WHEN u.token IS NOT NULL THEN 'pending' END
      RETURNING w.id, (u.status = 'pending' AND u.available_at <= u.now) AS claimable_now, (u.status <> 'pending') AS ended_now,
        w.parent_id, u.now, u.seq, u.task_status, u.result, u.error, u.attempts, u.wake_at, u.event_seq, u.started_at, u.runner_id,
        u.attempt_history
    ), ${wakeParentsCTE(n, notify)}, updated_tasks AS (
      UPDATE ${n.tasks} AS t SET status = a.task_status, result = a.result, error = a.error, attempts = a.attempts, updated_at = a.now,
        wake_at = a.wake_at, event_seq = COALESCE(a.event_seq, t.event_seq), started_at = COALESCE(a.started_at, t.started_at),
        ended_at = CASE WHEN a.started_at IS NULL THEN t.ended_at ELSE a.now END, runner_id = COALESCE(a.runner_id, t.runner_id),
        attempt_history = COALESCE(a.attempt_history, t.attempt_history)
      FROM applied AS a
      -- A write without a task change (markCrash) has a null seq and matches no task.
      WHERE t.workflow_id = a.id AND t.seq = a.seq
    )
    SELECT id${notifyColumn(n, notify, "claimable_now")}${notifyColumn(n, notify, "ended_now", n.endedChannel)},
      (SELECT count(*) FROM woken_parents) AS woken FROM applied`
}

/**
 * A parameter wrapped in a scalar subquery: the planner sees neither its
 * value nor its size, in custom plans as in generic ones (an array's length
 * is estimated as 10).
 */
function hidden(param: string): string {
  return `(SELECT ${param})`
}

/**
 * Applies each fenced update; returns per input whether it applied.
 *
 * A batch may hold several updates of one workflow (consecutive writes the
 * runner batched together); they must apply in order, each fenced by the
 * state the previous one left. So the batch is cut into rounds where each
 * workflow appears once: its k-th update goes to round k. A batch without
 * repeats is one round, one statement; otherwise the rounds run in order in
 * one transaction. Listeners are woken when an update releases a workflow that
 * is claimable at once.
 */
export async function applyWorkflowWrites(
  db: PostgresConnection,
  n: PostgresNames,
  notify: boolean,
  updates: WorkflowWrite[],
): Promise<boolean[]> {
  if (updates.length === 0) return []
  const sql = roundSQL(n, notify)
  const rounds = splitIntoRounds(updates)
  const [only] = rounds
  if (rounds.length === 1 && only) {
    const applied = await db.statement<{ id: string }>(sql, roundParams(updates, only), "once")
    const ids = new Set(applied.map((r) => r.id))
    return updates.map((u) => ids.has(u.workflowID))
  }
  return db.transaction(async (client: Queryable) => {
    const results = updates.map(() => false)
    for (const round of rounds) {
      const applied = await client.query<{ id: string }>(db.query(sql, roundParams(updates, round)))
      const ids = new Set(applied.rows.map((r) => r.id))
      for (const i of round) results[i] = ids.has((updates[i] as WorkflowWrite).workflowID)
    }
    return results
  })
}

/** Indexes of the updates, grouped so that the k-th update of a workflow is in round k. */
function splitIntoRounds(updates: WorkflowWrite[]): number[][] {
  const seen = new Map<string, number>()
  const rounds: number[][] = []
  updates.forEach((u, i) => {
    const round = seen.get(u.workflowID) ?? 0
    seen.set(u.workflowID, round + 1)
    ;(rounds[round] ??= []).push(i)
  })
  return rounds
}

/** The statement's parameters $1 … $17 for one round: one array per column of the batch, one element per write. */
function roundParams(updates: WorkflowWrite[], round: number[]): string[] {
  const size = round.length
  const id = new Array<string>(size)
  const token = new Array<string>(size)
  const now = new Array<number>(size)
  const status = new Array<string | null>(size)
  const availableAt = new Array<number | null>(size)
  const recoveries = new Array<number>(size)
  const crashes = new Array<number>(size)
  // The task change of each write; null where it has none (markCrash).
  const seq = new Array<number | null>(size)
  const taskStatus = new Array<string | null>(size)
  const result = new Array<string | null>(size)
  const error = new Array<string | null>(size)
  const attempts = new Array<number | null>(size)
  const wakeAt = new Array<number | null>(size)
  const eventSeq = new Array<number | null>(size)
  const startedAt = new Array<number | null>(size)
  const runnerID = new Array<string | null>(size)
  const history = new Array<string | null>(size)
  for (let k = 0; k < size; k++) {
    const u = updates[round[k] as number] as WorkflowWrite
    id[k] = u.workflowID
    token[k] = u.token
    now[k] = u.now
    // The status column is the kind: none keeps the workflow leased (recordTask, markCrash).
    status[k] = u.kind === "endWorkflow" ? u.status : u.kind === "parkUntil" ? "pending" : null
    availableAt[k] = u.kind === "parkUntil" ? u.availableAt : null
    recoveries[k] = u.counts.recoveries
    crashes[k] = u.counts.crashes
    const task = u.kind === "markCrash" ? undefined : u.task
    seq[k] = task ? task.seq : null
    taskStatus[k] = task ? task.status : null
    result[k] = task ? task.result : null
    error[k] = task ? storableError(task.error) : null
    attempts[k] = task ? task.attempts : null
    wakeAt[k] = task?.wakeAt ?? null
    eventSeq[k] = task?.eventSeq ?? null
    startedAt[k] = task?.startedAt ?? null
    runnerID[k] = task?.runnerID ?? null
    history[k] = task ? storableError(task.history) : null
  }
  // As array literals (see array-literal.ts), in the order of the statement's parameters.
  return [
    textArray(id),
    textArray(token),
    numberArray(now),
    textArray(status),
    numberArray(availableAt),
    numberArray(recoveries),
    numberArray(crashes),
    numberArray(seq),
    textArray(taskStatus),
    textArray(result),
    textArray(error),
    numberArray(attempts),
    numberArray(wakeAt),
    numberArray(eventSeq),
    numberArray(startedAt),
    textArray(runnerID),
    textArray(history),
  ]
}

/** Postgres `text` cannot hold U+0000; an error message is not worth failing the write for. */
function storableError(error: string | null | undefined): string | null {
  if (error === undefined || error === null) return null
  return error.includes("\u0000") ? error.replaceAll("\u0000", "\uFFFD") : error
}
