/**
 * The `children` capability on Postgres: the parent link's columns, the wake
 * of a parent in the statement that ends its child, the cancel of a
 * workflow's pending descendants, and `awaitChildren`.
 *
 * Why a parent is never left asleep: `awaitChildren` locks the children
 * (`FOR SHARE`) before it parks the parent, and ending a child updates the
 * child's row before it wakes the parent. So either the park comes first,
 * and the end's wake finds the parent parked (the `CASE` reads the parent's
 * newest row version, which Postgres re-reads when a concurrent transaction
 * changed it), or the end comes first, and the park, waiting for the child's
 * lock, sees the child ended and parks the parent claimable at once.
 *
 * @module
 */
import type { AwaitChildren } from "../provider.js"
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import { notifyColumn } from "./notifier.js"

/** Version 6: the parent link, and the index that finds a workflow's children. */
export function childColumns(n: PostgresNames): string[] {
  return [
    `ALTER TABLE ${n.workflows} ADD COLUMN IF NOT EXISTS parent_id text`,
    `ALTER TABLE ${n.workflows} ADD COLUMN IF NOT EXISTS parent_seq integer`,
    `CREATE INDEX IF NOT EXISTS ${n.prefix}workflows_parent ON ${n.workflows} (parent_id) WHERE parent_id IS NOT NULL`,
  ]
}

/**
 * The `woken_parents` CTE of a batch of workflow writes (update.ts): the
 * parents of the workflows the batch ended (rows of `applied` with
 * `ended_now`), made claimable at the write's `now` if they are parked.
 * Parents written by the batch itself are left out (Postgres cannot update a
 * row twice in one statement; a parent the batch writes is leased, so not
 * parked). Notifies the work channel for each parent it wakes.
 */
export function wakeParentsCTE(n: PostgresNames, notify: boolean): string {
  return `woken_parents AS (
      UPDATE ${n.workflows} AS p
      SET available_at = CASE WHEN p.lease_token IS NULL AND p.available_at > e.now THEN e.now ELSE p.available_at END
      FROM (SELECT parent_id, min(now) AS now FROM applied WHERE ended_now AND parent_id IS NOT NULL GROUP BY parent_id) AS e
      WHERE p.id = e.parent_id AND p.status = 'pending' AND p.id <> ALL($1::text[])
      RETURNING p.id${notifyColumn(n, notify, "p.lease_token IS NULL AND p.available_at <= e.now")}
    )`
}

/**
 * Cancels `$1` (if pending) and its pending descendants at `$2`, and wakes
 * the parent of `$1` if it is parked. Returns a row per cancelled workflow;
 * with `notify`, each is sent on the cancel channel.
 */
export function cancelTreeSQL(n: PostgresNames, notify: boolean): string {
  const cancelled = `status = 'cancelled', lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = $2`
  return `
    WITH RECURSIVE root AS (
      UPDATE ${n.workflows} SET ${cancelled} WHERE id = $1 AND status = 'pending' RETURNING id, parent_id
    ), tree(id) AS (
      SELECT w.id FROM ${n.workflows} AS w JOIN root ON w.parent_id = root.id WHERE w.status = 'pending'
      UNION SELECT w.id FROM ${n.workflows} AS w JOIN tree ON w.parent_id = tree.id WHERE w.status = 'pending'
    ), descendants AS (
      UPDATE ${n.workflows} AS w SET ${cancelled} WHERE w.id IN (SELECT id FROM tree) AND w.status = 'pending' RETURNING w.id
    ), woken AS (
      UPDATE ${n.workflows} AS p
      SET available_at = CASE WHEN p.lease_token IS NULL AND p.available_at > $2 THEN $2 ELSE p.available_at END
      FROM root WHERE p.id = root.parent_id AND p.status = 'pending'
      RETURNING p.id${notifyColumn(n, notify, "p.lease_token IS NULL AND p.available_at <= $2")}
    ), ids AS (SELECT id FROM root UNION ALL SELECT id FROM descendants)
    SELECT id${notify ? `, pg_notify('${n.cancelChannel}', id)::text AS notified` : ""}, (SELECT count(*) FROM woken) AS woken FROM ids`
}

/** {@link StorageProvider.awaitChildren} on Postgres, in one transaction. */
export async function awaitChildren(db: PostgresConnection, n: PostgresNames, notify: boolean, park: AwaitChildren): Promise<number | null> {
  return db.transaction(async (client) => {
    // Locks the children in ID order (two parks never wait for each other in a circle); an ending child's lock is waited for.
    const children = await client.query<{ id: string; status: string }>(
      `SELECT id, status FROM ${n.workflows} WHERE id = ANY($1::text[]) ORDER BY id FOR SHARE`,
      [park.childIDs],
    )
    // Ended, or no longer stored (ended, then deleted): either way nothing will wake the parent later.
    const pending = new Set(children.rows.filter((r) => r.status === "pending").map((r) => r.id))
    const anyEnded = park.childIDs.some((id) => !pending.has(id))
    const at = anyEnded ? Math.min(park.now, park.availableAt) : park.availableAt
    const parked = await client.query<{ id: string }>(
      `UPDATE ${n.workflows} SET updated_at = $1, available_at = $2, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, recoveries = $3, crashes = $4
       WHERE id = $5 AND lease_token = $6 AND status = 'pending'
       RETURNING id${notifyColumn(n, notify, "available_at <= $1")}`,
      [park.now, at, park.counts.recoveries, park.counts.crashes, park.workflowID, park.token],
    )
    if (parked.rows.length !== 1) return null
    if (park.tasks.length > 0) {
      await client.query(
        `UPDATE ${n.tasks} AS t SET status = v.status, result = v.result, error = v.error, attempts = v.attempts, updated_at = $2, wake_at = v.wake_at
         FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[]) AS v(seq, status, result, error, attempts, wake_at)
         WHERE t.workflow_id = $1 AND t.seq = v.seq`,
        [
          park.workflowID,
          park.now,
          park.tasks.map((t) => t.seq),
          park.tasks.map((t) => t.status),
          park.tasks.map((t) => t.result),
          park.tasks.map((t) => t.error),
          park.tasks.map((t) => t.attempts),
          park.tasks.map((t) => t.wakeAt ?? null),
        ],
      )
    }
    return at
  })
}
