/**
 * `renewLeases` and `releaseLeases` on Postgres: one statement each, for any
 * number of workflows.
 *
 * @module
 */
import type { LeaseRelease, LeaseRenewal } from "../provider.js"
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import { notifyColumn } from "./notifier.js"
import { textArray } from "./array-literal.js"

/** Extends the leases `renewal.token` still holds (a HOT update: the expiry is in no index); returns the renewed IDs in input order. */
export async function renewLeases(db: PostgresConnection, n: PostgresNames, renewal: LeaseRenewal): Promise<string[]> {
  if (renewal.workflowIDs.length === 0) return []
  const rows = await db.statement<{ id: string }>(
    `UPDATE ${n.workflows} SET lease_expires_at = $3
     WHERE id = ANY($1::text[]) AND lease_token = $2 AND status = 'pending'
     RETURNING id`,
    [textArray(renewal.workflowIDs), renewal.token, renewal.expiresAt],
    // Renewing twice to the same expiry changes nothing and renews the same rows.
    "idempotent",
  )
  const renewed = new Set(rows.map((r) => r.id))
  return [...new Set(renewal.workflowIDs)].filter((id) => renewed.has(id))
}

/** Drops the leases `release.token` holds, so the workflows are claimable from `release.availableAt`; wakes listeners. */
export async function releaseLeases(db: PostgresConnection, n: PostgresNames, notify: boolean, release: LeaseRelease): Promise<void> {
  if (release.workflowIDs.length === 0) return
  await db.statement(
    `WITH released AS (
       UPDATE ${n.workflows} SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, available_at = $3
       WHERE id = ANY($1::text[]) AND lease_token = $2 AND status = 'pending'
       RETURNING id
     )
     SELECT id${notifyColumn(n, notify, "TRUE")} FROM released`,
    [textArray(release.workflowIDs), release.token, release.availableAt],
    // A second run finds the leases already dropped and changes nothing.
    "idempotent",
  )
}
