/**
 * `claimWorkflows` on Postgres: one statement picks, leases and returns the
 * workflows with their tasks.
 *
 * @module
 */
import type { ClaimRequest, WorkflowWithTasks } from "../provider.js"
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import type { DatabaseKind } from "./schema.js"
import { JOINED_COLUMNS, type JoinedRecord, fromJoinedRows } from "./rows.js"

/**
 * The SQL of a claim: one scan of the claim index picks the workflows, the
 * update leases them, and their tasks come back with them.
 *
 * A claim is a HOT update (see hot-updates.ts): it writes the lease's owner,
 * token and expiry, none of them indexed, and leaves `available_at`. So a
 * leased workflow stays in the claim index, at or before the time it was
 * claimed, and the scan skips it while its lease holds: its cost grows with
 * the number of workflows leased at once (a few hundred per runner), not
 * with the backlog. Expired leases, and with `reclaimOwn` the owner's
 * earlier-life leases, are taken by the same scan, in `available_at` order
 * with due work. `SKIP LOCKED` makes concurrent claims take different rows,
 * and Postgres rechecks each locked row's condition against its latest
 * version, so a row another claim just leased is dropped.
 *
 * The picked rows are updated where the scan found them, through
 * `ctid = ANY(ARRAY(…))` (a TID scan; probing the primary key for each ID
 * again cost a third of the statement's buffer reads). The picking scan has
 * locked them, and returns each row as it locked it (after a concurrent
 * update, the version it rechecked), so its `ctid` is the version the update
 * changes; CockroachDB and YugabyteDB, without `ctid`, go by `id`. Their tasks
 * are read through a `LATERAL` lookup kept from being flattened into a join
 * (`OFFSET 0`), so both are index probes whatever the planner guesses: joined
 * instead, Postgres hashed the whole workflows and tasks tables on each claim
 * whenever it guessed the claim large against the tables (measured: 12–19 ms
 * instead of 2–8 ms for a claim of 100–500 from 20,000 pending, in the custom
 * plans each connection makes for its first executions of a prepared
 * statement; without `OFFSET 0` the lateral lookup was flattened into such a
 * hash join of all tasks, 17 of 31 ms for a claim of 33). The scan's limit
 * reaches it through a scalar subquery, so custom plans too walk the
 * `available_at` index in order and stop at the limit: with the limit visible
 * and no statistics (a table just filled, before autovacuum's first
 * `ANALYZE`), Postgres guessed fewer rows due than the limit and read and
 * sorted every due workflow for each claim (15,000 rows, 3 ms, for a claim of
 * 100). The rows are already locked by the picking scan, so the update sees
 * them as picked.
 */
function claimSQL(n: PostgresNames, kind: DatabaseKind): string {
  // CockroachDB plans without custom plans, and may refuse a subquery as a limit.
  const limit = kind === "postgres" ? "(SELECT $2::bigint)" : "$2"
  // Postgres updates the picked rows where the scan found them (a TID scan); CockroachDB and YugabyteDB have no ctid.
  const row = kind === "postgres" ? "ctid" : "id"
  return `
    WITH picked AS (
      SELECT id, available_at${kind === "postgres" ? ", ctid" : ""} FROM ${n.workflows}
      WHERE status = 'pending' AND available_at <= $1
        -- Unleased, or its lease expired, or (reclaimOwn) the owner's from an earlier life. A CASE, which the planner
        -- guesses keeps half the rows: written as an OR, it guessed one row on a table without statistics, and read and
        -- sorted every due workflow for each claim (a bitmap scan) instead of walking the index in order. A lease with
        -- no lease_expires_at was taken by a runner of version 9 still running after the upgrade, whose claim and
        -- renewals write the expiry to available_at only: it has expired once available_at has passed.
        AND CASE WHEN lease_token IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= $1 THEN TRUE ELSE $3::boolean AND lease_owner = $4 AND lease_token <> $5 END
      ORDER BY available_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE ${n.workflows} AS w SET lease_owner = $4, lease_token = $5, lease_expires_at = $6,
        -- Taken over from a lease nobody released: its executor died or lost it.
        recoveries = w.recoveries + CASE WHEN w.lease_token IS NULL THEN 0 ELSE 1 END
      WHERE w.${row} = ANY(ARRAY(SELECT ${row} FROM picked))
      RETURNING w.*
    )
    SELECT ${JOINED_COLUMNS}
    FROM claimed AS w
    JOIN picked ON picked.id = w.id
    LEFT JOIN LATERAL (SELECT * FROM ${n.tasks} AS tasks WHERE tasks.workflow_id = w.id OFFSET 0) AS t ON TRUE
    ORDER BY picked.available_at, w.id, t.seq`
}

/** Leases up to `claim.limit` claimable workflows and returns them with their tasks, earliest `availableAt` first. */
export async function claimWorkflows(db: PostgresConnection, n: PostgresNames, claim: ClaimRequest, kind: DatabaseKind = "postgres"): Promise<WorkflowWithTasks[]> {
  if (!(claim.limit >= 1)) return []
  const { lease } = claim
  const rows = await db.statement<JoinedRecord>(
    claimSQL(n, kind),
    [claim.now, Number.isFinite(claim.limit) ? Math.floor(claim.limit) : null, claim.reclaimOwn, lease.owner, lease.token, lease.expiresAt],
    // Run twice, the first run's leases would be hidden until they expire.
    "once",
  )
  return fromJoinedRows(rows)
}
