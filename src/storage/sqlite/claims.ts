/**
 * Claims and leases on SQLite: claiming claimable workflows (and, after a
 * restart, this runner's own), renewing the leases a runner holds, and
 * releasing them on a graceful stop.
 *
 * @module
 */
import type Database from "better-sqlite3"
import type { ClaimRequest, LeaseRelease, LeaseRenewal, WorkflowWithTasks } from "../provider.js"
import { IN_LIST, TASK_COLUMNS, WORKFLOW_COLUMNS, inListsOf, toTaskRow, toWorkflowRow } from "./rows.js"

function prepare(db: Database.Database, p: string) {
  return {
    // INDEXED BY: without ANALYZE statistics the planner prefers the (status, id)
    // index for `status = 'pending'`, which reads every pending workflow per claim.
    // The two ranges skip this life's own leases (`<>` would read them all).
    selectOwnLeased: db
      .prepare(
        `SELECT id FROM ${p}workflows INDEXED BY ${p}workflows_lease WHERE status = 'pending' AND lease_owner = ? AND lease_token < ?
         UNION ALL
         SELECT id FROM ${p}workflows INDEXED BY ${p}workflows_lease WHERE status = 'pending' AND lease_owner = ? AND lease_token > ?
         LIMIT ?`,
      )
      .pluck(),
    selectClaimable: db
      .prepare(
        `SELECT id FROM ${p}workflows INDEXED BY ${p}workflows_claimable
         WHERE status = 'pending' AND available_at <= ? ORDER BY available_at LIMIT ?`,
      )
      .pluck(),
    // Claims lease and read IN_LIST_SIZE workflows per statement; rows come back as arrays (cheaper than objects).
    leaseMany: db
      .prepare(
        `UPDATE ${p}workflows SET recoveries = recoveries + (lease_token IS NOT NULL), lease_owner = ?, lease_token = ?, available_at = ?
         WHERE id IN (${IN_LIST}) RETURNING ${WORKFLOW_COLUMNS}`,
      )
      .raw(),
    selectTasksOfMany: db
      .prepare(`SELECT ${TASK_COLUMNS} FROM ${p}tasks WHERE workflow_id IN (${IN_LIST}) ORDER BY workflow_id, seq`)
      .raw(),
    renewLease: db.prepare(
      `UPDATE ${p}workflows SET available_at = ? WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
    releaseLease: db.prepare(
      `UPDATE ${p}workflows SET lease_owner = NULL, lease_token = NULL, available_at = ?
       WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
  }
}

/** The statements of claims and leases, prepared once; each method runs inside the provider's write transaction. */
export class SQLiteClaims {
  private readonly s: ReturnType<typeof prepare>

  constructor(db: Database.Database, p: string) {
    this.s = prepare(db, p)
  }

  /** {@link StorageProvider.claimWorkflows}. */
  claim(claim: ClaimRequest): WorkflowWithTasks[] {
    const s = this.s
    const { lease, now, limit } = claim
    if (limit <= 0) return []
    const ids = new Set<string>()
    if (claim.reclaimOwn) {
      for (const id of s.selectOwnLeased.all(lease.owner, lease.token, lease.owner, lease.token, limit) as string[]) ids.add(id)
    }
    if (ids.size < limit) {
      for (const id of s.selectClaimable.all(now, limit - ids.size) as string[]) ids.add(id)
    }
    const byID = new Map<string, WorkflowWithTasks>()
    for (const chunk of inListsOf([...ids])) {
      for (const row of s.leaseMany.all(lease.owner, lease.token, lease.expiresAt, ...chunk) as unknown[][]) {
        const workflow = toWorkflowRow(row)
        byID.set(workflow.id, { workflow, tasks: [] })
      }
      for (const row of s.selectTasksOfMany.all(...chunk) as unknown[][]) byID.get(row[0] as string)?.tasks.push(toTaskRow(row))
    }
    const claimed: WorkflowWithTasks[] = []
    for (const id of ids) {
      const entry = byID.get(id)
      if (entry) claimed.push(entry)
    }
    return claimed
  }

  /** {@link StorageProvider.renewLeases}. */
  renew(renewal: LeaseRenewal): string[] {
    const renewed: string[] = []
    for (const id of renewal.workflowIDs) {
      if (this.s.renewLease.run(renewal.expiresAt, id, renewal.token).changes === 1) renewed.push(id)
    }
    return renewed
  }

  /** {@link StorageProvider.releaseLeases}. */
  release(release: LeaseRelease): void {
    for (const id of release.workflowIDs) this.s.releaseLease.run(release.availableAt, id, release.token)
  }
}
