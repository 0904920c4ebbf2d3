/**
 * Version 10 of the Postgres schema: the writes a workflow's run makes (its
 * claim, each lease renewal, each step's record and each task's outcome) are
 * HOT updates, which write no index entries.
 *
 * Postgres updates a row in place, with no new index entries (a "heap-only
 * tuple"), when no column any index refers to changes (key, predicate or
 * expression) and the row's page has room. Before this version each claim
 * moved the row in the claim index (`available_at` held the lease's expiry)
 * and the lease index (`lease_owner`), and each recorded step moved it in
 * the index of ended workflows (`updated_at`); each task's outcome moved the
 * task in the index of event waits (`status`). Those writes, five index
 * entries for the workflow and one for the task at each of them, were about
 * 38 % of the server's CPU when draining stored work. Now:
 *
 * - The lease's expiry is `lease_expires_at`, in no index. `available_at` is
 *   when the workflow became (or becomes) claimable; a claim leaves it, so a
 *   leased workflow stays in the claim index, at or before its claim time,
 *   and claims skip it while its lease holds (claim.ts). Whoever reads a
 *   leased workflow still sees the lease's expiry as its `availableAt`
 *   (rows.ts).
 * - No index on `lease_owner`: a restarted runner's earlier leases are found
 *   by the claim's one scan of due workflows, since a leased workflow's
 *   `available_at` is never after its claim.
 * - Ended workflows are indexed by `ended_at`, a stored generated column
 *   (`updated_at` once the status is not `pending`, else null), which a step's
 *   record leaves null. On Postgres only (see {@link endedAtColumn}).
 * - Listing by status in ID order has an index of the workflows not
 *   completed only: a workflow's end, which is not HOT (its status changes),
 *   writes one index entry fewer when it completes (three: the primary key,
 *   the time it ended, the time it was created). Completed workflows are
 *   listed in ID order from the primary key, where they are most rows.
 * - Event waits are indexed while they have a wake time (what a send looks
 *   for), not while pending: a task's outcome then changes no indexed column.
 * - Both tables leave room on each page when rows are inserted (`fillfactor`
 *   40 and 50, see {@link FILLFACTOR}), so a row's next version finds room
 *   on its page. A backlog stored ahead needs that room; pages that churn
 *   also get room back from pruning.
 *
 * Upgrading rewrites the workflows table once on Postgres (the generated column).
 *
 * @module
 */
import type { PostgresNames } from "./names.js"
import type { DatabaseKind } from "./schema.js"

/**
 * The share of each page (in %) that inserted rows fill, leaving the rest
 * for their next versions. A claim leases the oldest due workflows, which
 * were stored together: it writes a new version of every row of their pages
 * at once, each larger than the one before (it adds the lease's owner, token
 * and expiry). Measured in a burn-down of 20,000 stored workflows of one
 * task, with the share of claims that were HOT: 100 %, 16 %; 80 %, 28 %;
 * 50 %, 76 %; 40 %, 100 %. A task's outcome grows its row less, and the
 * rows of a workflow's steps are written at different times: at 50 %, 88 %
 * of the outcomes of one-task workflows and all of three-task ones were HOT.
 * Table sizes at the end of the burn-down were the same within 10 % for
 * every setting: an update that is not HOT puts its row on a new page.
 */
export const FILLFACTOR = { workflows: 40, tasks: 50 } as const

/**
 * Autovacuum settings of both tables. A queue's tables churn: each workflow
 * leaves about three dead row versions (its claim's, its end's, its
 * deletion by retention), and the dead index entries its end leaves at the
 * head of the claim index are walked by every claim until a vacuum removes
 * them. So vacuum them unthrottled (autovacuum's default sleeps 2 ms every
 * 200 cost units: a vacuum of these tables took 17–23 s at 12,000
 * workflows/s, while they kept growing) and at a twentieth of their size in
 * dead rows instead of a fifth.
 */
export const AUTOVACUUM =
  "autovacuum_vacuum_cost_delay = 0, autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05"

/** The migration to version 10 (see the module's description). */
export function hotUpdateColumns(n: PostgresNames, kind: DatabaseKind): string[] {
  return [
    `ALTER TABLE ${n.workflows} ADD COLUMN IF NOT EXISTS lease_expires_at bigint`,
    // A leased row's available_at was its lease's expiry: it moves to lease_expires_at, and available_at back to
    // the row's last write (before any claim now), as a claim leaves it, so that its owner restarted takes it back
    // at once (reclaimOwn) rather than when it expires. CockroachDB cannot write a column added in the same
    // transaction (cockroachdb/cockroach#43057): there the lease is left as it is, its expiry in available_at,
    // which claims and reads take as the expiry of a lease with no lease_expires_at (claim.ts, availableAtColumn).
    ...(kind === "cockroachdb"
      ? []
      : [
          `UPDATE ${n.workflows} SET lease_expires_at = available_at, available_at = LEAST(available_at, updated_at)
             WHERE lease_token IS NOT NULL AND lease_expires_at IS NULL`,
        ]),
    // Only Postgres has HOT updates to keep, and YugabyteDB before 2025.1 (PostgreSQL 11) has no generated columns:
    // elsewhere ended workflows stay indexed by updated_at (see endedAtColumn).
    ...(kind === "postgres"
      ? [
          `ALTER TABLE ${n.workflows} ADD COLUMN IF NOT EXISTS ended_at bigint
             GENERATED ALWAYS AS (CASE WHEN status <> 'pending' THEN updated_at END) STORED`,
          `CREATE INDEX IF NOT EXISTS ${n.indexes.ended} ON ${n.workflows} (ended_at) WHERE status <> 'pending'`,
          `DROP INDEX IF EXISTS ${n.schema}.${n.prefix}workflows_ended`,
        ]
      : []),
    `DROP INDEX IF EXISTS ${n.schema}.${n.prefix}workflows_leased`,
    `CREATE INDEX IF NOT EXISTS ${n.indexes.status} ON ${n.workflows} (status, id) WHERE status <> 'completed'`,
    `DROP INDEX IF EXISTS ${n.schema}.${n.prefix}workflows_status`,
    `CREATE INDEX IF NOT EXISTS ${n.prefix}tasks_event_waits ON ${n.tasks} (event_name, event_key)
       WHERE event_name IS NOT NULL AND wake_at IS NOT NULL`,
    `DROP INDEX IF EXISTS ${n.schema}.${n.prefix}tasks_waiting`,
    // CockroachDB and YugabyteDB store rows in other structures, with no heap pages to leave room in.
    ...(kind === "postgres"
      ? [
          `ALTER TABLE ${n.workflows} SET (fillfactor = ${FILLFACTOR.workflows}, ${AUTOVACUUM})`,
          `ALTER TABLE ${n.tasks} SET (fillfactor = ${FILLFACTOR.tasks}, ${AUTOVACUUM})`,
        ]
      : []),
  ]
}

/**
 * The SQL of a workflow's `availableAt` as the contract means it: the
 * lease's expiry while leased, else when it is claimable. `alias` is the
 * table's alias with its dot, or "".
 *
 * A runner of version 9 still running after the upgrade writes its leases'
 * expiry to `available_at` only (its claims and renewals), leaving
 * `lease_expires_at` null or stale: the later of the two is the expiry, as
 * for the claim (claim.ts), which takes a lease once both have passed.
 */
export function availableAtColumn(alias: string): string {
  const [at, expires] = [`${alias}available_at`, `${alias}lease_expires_at`]
  return `CASE WHEN ${alias}lease_token IS NULL OR ${expires} IS NULL OR ${at} > ${expires} THEN ${at} ELSE ${expires} END AS available_at`
}

/**
 * The column that holds when an ended workflow ended, in the SQL of ended
 * workflows (`status <> 'pending'`, where both are the same value):
 * `ended_at`, kept apart from `updated_at` for HOT updates, on Postgres;
 * `updated_at` on the other kinds, which have no generated column from
 * version 10 (see {@link hotUpdateColumns}).
 */
export function endedAtColumn(kind: DatabaseKind): "ended_at" | "updated_at" {
  return kind === "postgres" ? "ended_at" : "updated_at"
}
