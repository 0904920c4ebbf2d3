/**
 * `insertWorkflowsAndTasks` on Postgres: one statement for the whole batch,
 * rows passed as arrays and expanded by `unnest`.
 *
 * @module
 */
import type { NewWorkflow } from "../provider.js"
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import { notifyColumn } from "./notifier.js"
import { eventsTable } from "./events.js"
import { numberArray, textArray } from "./array-literal.js"

/**
 * The SQL of an insert. `ON CONFLICT DO NOTHING` leaves an existing workflow
 * untouched, and concurrent inserts of one ID wait for each other, so exactly
 * one of them sees its row come back from `RETURNING`; only those workflows
 * get tasks. Both inserts are one statement, hence one transaction.
 */
function insertSQL(n: PostgresNames, notify: boolean): string {
  return `
    WITH created AS (
      INSERT INTO ${n.workflows} (id, status, created_at, updated_at, available_at, lease_owner, lease_token, lease_expires_at, task_count,
        parent_id, parent_seq)
      SELECT id, 'pending', now, now, available_at, lease_owner, lease_token, lease_expires_at, task_count, parent_id, parent_seq
      FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $18::bigint[], $6::int[], $14::text[], $15::int[])
        AS i(id, now, available_at, lease_owner, lease_token, lease_expires_at, task_count, parent_id, parent_seq)
      ON CONFLICT (id) DO NOTHING
      RETURNING id, lease_token
    ), created_tasks AS (
      INSERT INTO ${n.tasks} (workflow_id, seq, name, task, data, status, result, error, attempts, created_at, updated_at, kind,
        event_name, event_key, event_after)
      SELECT workflow_id, seq, name, task, data, 'pending', NULL, NULL, 0, now, now, kind, event_name, event_key,
        -- A waitForEvent step's watermark: the newest event of its (name, key) committed before this insert (see postgres/events.ts).
        CASE WHEN event_name IS NOT NULL THEN
          (SELECT COALESCE(max(e.seq), 0) FROM ${eventsTable(n)} e WHERE e.name = t.event_name AND e.key = t.event_key) END
      FROM unnest($7::text[], $8::int[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], $16::text[], $17::text[])
        AS t(workflow_id, seq, name, task, data, now, kind, event_name, event_key)
      WHERE workflow_id IN (SELECT id FROM created)
    )
    SELECT id${notifyColumn(n, notify, "lease_token IS NULL")} FROM created`
}

/**
 * Inserts each new workflow with its tasks; returns per input whether it was
 * created. A repeated ID within the batch is created at most once, by its
 * first occurrence. Wakes listeners when a created workflow is claimable by
 * anyone (it was not inserted already leased).
 *
 * @throws Error if a text contains U+0000, which Postgres `text` cannot hold
 */
export async function insertWorkflowsAndTasks(
  db: PostgresConnection,
  n: PostgresNames,
  notify: boolean,
  workflows: NewWorkflow[],
): Promise<boolean[]> {
  const firstIndex = new Map<string, number>()
  workflows.forEach((w, i) => {
    if (!firstIndex.has(w.id)) firstIndex.set(w.id, i)
  })
  if (firstIndex.size === 0) return []

  const wf = {
    id: [] as string[],
    now: [] as number[],
    availableAt: [] as number[],
    leaseExpiresAt: [] as (number | null)[],
    owner: [] as (string | null)[],
    token: [] as (string | null)[],
    count: [] as number[],
    parentID: [] as (string | null)[],
    parentSeq: [] as (number | null)[],
  }
  const t = {
    workflowID: [] as string[],
    seq: [] as number[],
    name: [] as string[],
    task: [] as string[],
    data: [] as string[],
    now: [] as number[],
    kind: [] as string[],
    eventName: [] as (string | null)[],
    eventKey: [] as (string | null)[],
  }
  for (const i of firstIndex.values()) {
    const w = workflows[i] as NewWorkflow
    assertStorableText(w.id, "a workflow ID")
    wf.id.push(w.id)
    wf.now.push(w.now)
    // Inserted leased, it is claimable from now once the lease expires (see hot-updates.ts).
    wf.availableAt.push(w.lease ? w.now : (w.availableAt ?? w.now))
    wf.leaseExpiresAt.push(w.lease?.expiresAt ?? null)
    wf.owner.push(w.lease?.owner ?? null)
    wf.token.push(w.lease?.token ?? null)
    wf.count.push(w.tasks.length)
    wf.parentID.push(w.parent?.id ?? null)
    wf.parentSeq.push(w.parent?.seq ?? null)
    w.tasks.forEach((task, seq) => {
      assertStorableText(task.name, `the label of task ${seq} of workflow "${w.id}"`)
      assertStorableText(task.task, `the runner name of task ${seq} of workflow "${w.id}"`)
      assertStorableText(task.data, `the data of task ${seq} of workflow "${w.id}"`)
      t.workflowID.push(w.id)
      t.seq.push(seq)
      t.name.push(task.name)
      t.task.push(task.task)
      t.data.push(task.data)
      t.now.push(w.now)
      t.kind.push(task.kind ?? "task")
      t.eventName.push(task.event?.name ?? null)
      t.eventKey.push(task.event?.key ?? null)
    })
  }
  const rows = await db.statement<{ id: string }>(
    insertSQL(n, notify),
    // $1 … $18, as array literals (see array-literal.ts).
    [
      textArray(wf.id),
      numberArray(wf.now),
      numberArray(wf.availableAt),
      textArray(wf.owner),
      textArray(wf.token),
      numberArray(wf.count),
      textArray(t.workflowID),
      numberArray(t.seq),
      textArray(t.name),
      textArray(t.task),
      textArray(t.data),
      numberArray(t.now),
      textArray(t.kind),
      textArray(wf.parentID),
      numberArray(wf.parentSeq),
      textArray(t.eventName),
      textArray(t.eventKey),
      numberArray(wf.leaseExpiresAt),
    ],
    "once",
  )
  const created = new Set(rows.map((r) => r.id))
  return workflows.map((w, i) => firstIndex.get(w.id) === i && created.has(w.id))
}

function assertStorableText(text: string, what: string): void {
  if (text.includes("\u0000")) {
    throw new Error(`${what} contains the character U+0000, which Postgres cannot store in text: remove it`)
  }
}
