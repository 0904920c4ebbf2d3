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
 * when it may be claimed again.
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
      FROM unnest(${hidden("$1::text[]")}, ${hidden("$2::text[]")}, ${hidden("$3::bigint[]")}, ${hidden("$4::text[]")},
          ${hidden("$5::bigint[]")}, ${hidden("$13::int[]")}, ${hidden("$14::int[]")})
        AS u(id, token, now, status, available_at, recoveries, crashes)
      -- The status test is written against u (tokens are never null) so that it is a join condition: a
      -- restriction of w alone, guessed selective on a table without statistics, made hashing every pending
      -- workflow look cheaper than probing the batch's.
      WHERE w.id = u.id AND w.lease_token = u.token AND w.status = CASE WHEN u.token IS NOT NULL THEN 'pending' END
      RETURNING w.id, (u.status = 'pending' AND u.available_at <= u.now) AS claimable_now, (u.status <> 'pending') AS ended_now,
        w.parent_id, u.now
    ), ${wakeParentsCTE(n, notify)}, updated_tasks AS (
      UPDATE ${n.tasks} AS t SET status = v.status, result = v.result, error = v.error, attempts = v.attempts, updated_at = v.now,
        wake_at = v.wake_at, event_seq = COALESCE(v.event_seq, t.event_seq), started_at = COALESCE(v.started_at, t.started_at),
        ended_at = CASE WHEN v.started_at IS NULL THEN t.ended_at ELSE v.now END, runner_id = COALESCE(v.runner_id, t.runner_id),
        attempt_history = COALESCE(v.attempt_history, t.attempt_history)
      FROM unnest($6::text[], $7::int[], $8::text[], $9::text[], $10::text[], $11::int[], $12::bigint[], $15::bigint[],
          $16::bigint[], $17::bigint[], $18::text[], $19::text[])
        AS v(workflow_id, seq, status, result, error, attempts, now, wake_at, event_seq, started_at, runner_id, attempt_history)
      WHERE t.workflow_id = v.workflow_id AND t.seq = v.seq AND v.workflow_id IN (SELECT id FROM applied)
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

function roundParams(updates: WorkflowWrite[], round: number[]): unknown[] {
  const w = {
    id: [] as string[],
    token: [] as string[],
    now: [] as number[],
    status: [] as (string | null)[],
    availableAt: [] as (number | null)[],
    recoveries: [] as number[],
    crashes: [] as number[],
  }
  const t = {
    workflowID: [] as string[],
    seq: [] as number[],
    status: [] as string[],
    result: [] as (string | null)[],
    error: [] as (string | null)[],
    attempts: [] as number[],
    now: [] as number[],
    wakeAt: [] as (number | null)[],
    eventSeq: [] as (number | null)[],
    startedAt: [] as (number | null)[],
    runnerID: [] as (string | null)[],
    history: [] as (string | null)[],
  }
  for (const i of round) {
    const u = updates[i] as WorkflowWrite
    w.id.push(u.workflowID)
    w.token.push(u.token)
    w.now.push(u.now)
    // The status column is the kind: none keeps the workflow leased (recordTask, markCrash).
    w.status.push(u.kind === "endWorkflow" ? u.status : u.kind === "parkUntil" ? "pending" : null)
    w.availableAt.push(u.kind === "parkUntil" ? u.availableAt : null)
    w.recoveries.push(u.counts.recoveries)
    w.crashes.push(u.counts.crashes)
    const task = u.kind === "markCrash" ? undefined : u.task
    if (task) {
      t.workflowID.push(u.workflowID)
      t.seq.push(task.seq)
      t.status.push(task.status)
      t.result.push(task.result)
      t.error.push(storableError(task.error))
      t.attempts.push(task.attempts)
      t.now.push(u.now)
      t.wakeAt.push(task.wakeAt ?? null)
      t.eventSeq.push(task.eventSeq ?? null)
      t.startedAt.push(task.startedAt ?? null)
      t.runnerID.push(task.runnerID ?? null)
      t.history.push(storableError(task.history))
    }
  }
  // In the order of the statement's parameters $1 … $19, as array literals (see array-literal.ts).
  return [
    textArray(w.id),
    textArray(w.token),
    numberArray(w.now),
    textArray(w.status),
    numberArray(w.availableAt),
    textArray(t.workflowID),
    numberArray(t.seq),
    textArray(t.status),
    textArray(t.result),
    textArray(t.error),
    numberArray(t.attempts),
    numberArray(t.now),
    numberArray(w.recoveries),
    numberArray(w.crashes),
    numberArray(t.wakeAt),
    numberArray(t.eventSeq),
    numberArray(t.startedAt),
    textArray(t.runnerID),
    textArray(t.history),
  ]
}

/** Postgres `text` cannot hold U+0000; an error message is not worth failing the write for. */
function storableError(error: string | null | undefined): string | null {
  if (error === undefined || error === null) return null
  return error.includes("\u0000") ? error.replaceAll("\u0000", "\uFFFD") : error
}
