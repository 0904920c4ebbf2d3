/**
 * The embedded default: SQLite through better-sqlite3.
 *
 * WAL mode, `synchronous=FULL` unless relaxed, `BEGIN IMMEDIATE` for every
 * write (so a read never has to upgrade to a write lock and hit
 * `SQLITE_BUSY_SNAPSHOT`), and a busy timeout so several processes can share
 * one file. Each method is one transaction; the runner's group commit hands
 * it arrays, so one fsync serves many writes. Statements are prepared once,
 * positional, one per shape of write; queries that must use a particular
 * index name it (`INDEXED BY`), so the plan does not depend on statistics.
 * The write-ahead log is kept bounded (see sqlite/checkpoints.ts): checkpoints
 * on idle and by size, and after a full disk before the next write.
 *
 * @module
 */
import { ValidationError } from "../errors.js"
import Database from "better-sqlite3"
import { STEP_KINDS, STORAGE_CONTRACT_VERSION, type StepKind } from "./provider.js"
import type {
  AwaitChildren,
  StorageCapabilities,
  ClaimRequest,
  LeaseRelease,
  LeaseRenewal,
  NewWorkflow,
  StorageProvider,
  TaskRow,
  RetryRequest,
  WorkflowWrite,
  WorkflowFilter,
  WorkflowRow,
  WorkflowStatus,
  WorkflowWithTasks,
  EndedWorkflowsSelector,
  StatsRequest,
  EndSeriesCount,
  EndSeriesRequest,
  WorkflowStats,
} from "./provider.js"
import { WalCheckpointer } from "./sqlite/checkpoints.js"
import { SQLiteScheduleStore } from "./sqlite/schedules.js"
import { SQLiteEventStore } from "./sqlite/events.js"
import { createSchema } from "./sqlite/schema.js"
import { SQLiteChildren } from "./sqlite/children.js"
import type { ScheduleStore } from "./schedule-store.js"
import { usesInspectionFields } from "./filter.js"
import { SQLiteInspection } from "./sqlite/inspection.js"
import { prepareEndSeries } from "./sqlite/throughput.js"

/** Options of {@link SQLiteStorageProvider}. */
export interface SQLiteStorageOptions {
  /**
   * Prefix of the table names, so several apps can share one file. Letters,
   * digits and `_`, starting with a letter or `_`. Default `"durabletasks_"`.
   */
  tablePrefix?: string
  /**
   * `"FULL"` (default): a committed write survives power loss. `"NORMAL"`: in
   * WAL mode survives a process crash but may lose the last commits on power
   * loss; faster.
   */
  synchronous?: "FULL" | "NORMAL"
  /** How long a write waits for another process's lock before failing. Default 10,000 ms. */
  busyTimeoutMS?: number
}

/** Workflows per claim statement. */
const IN_LIST_SIZE = 64
const TABLE_PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,48}$/

const WORKFLOW_COLUMNS =
  "id, status, created_at AS createdAt, updated_at AS updatedAt, available_at AS availableAt, lease_owner AS leaseOwner, lease_token AS leaseToken, task_count AS taskCount, recoveries, crashes, parent_id AS parentID"
/** WORKFLOW_COLUMNS of a table aliased `w`, same order. */
const WORKFLOW_COLUMNS_OF_W = WORKFLOW_COLUMNS.split(", ")
  .map((c) => `w.${c}`)
  .join(", ")
const TASK_COLUMNS =
  "workflow_id AS workflowID, seq, name, task, data, status, result, error, attempts, created_at AS createdAt, updated_at AS updatedAt, kind, wake_at AS wakeAt, started_at, ended_at, runner_id, attempt_history"

/** A workflow row read with `.raw()`, columns in WORKFLOW_COLUMNS order. */
function toWorkflowRow(r: unknown[]): WorkflowRow {
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
function toTaskRow(r: unknown[]): TaskRow {
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

/** Stores workflows in a SQLite file (or `":memory:"`). */
export class SQLiteStorageProvider implements StorageProvider {
  /** Contract 1, with crash counts, status reads (several processes on one file find each other's changes by polling), schedules, inspection, waits, events, children and attempt history. */
  readonly capabilities: StorageCapabilities = {
    contract: STORAGE_CONTRACT_VERSION,
    supports: ["crash-counts", "status-reads", "schedules", "inspection", "waits", "events", "children", "attempt-history"],
  }
  /** Events, in the same file (and transactions) as the workflows that wait for them. */
  readonly events: SQLiteEventStore
  /** Schedules, in the same file (and transactions) as the workflows their ticks add. */
  readonly schedules: ScheduleStore
  /** The better-sqlite3 connection, for inspection in tests and tools. */
  readonly db: Database.Database
  private readonly statements: ReturnType<typeof prepareStatements>
  private readonly children: SQLiteChildren
  private readonly inspection: SQLiteInspection
  private readonly endSeries: (request: EndSeriesRequest) => EndSeriesCount[]
  /** Absent for `":memory:"`, which has no log. */
  private readonly checkpointer: WalCheckpointer | undefined
  private readonly inTransaction: <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A) => R

  /**
   * Opens (creating if needed) the database file and its tables.
   *
   * @param path - a file path, or `":memory:"` for a private in-memory database
   * @throws Error if the file cannot be opened (missing directory, read-only, not a database) or the prefix is invalid
   */
  constructor(path: string, options: SQLiteStorageOptions = {}) {
    const prefix = options.tablePrefix ?? "durabletasks_"
    if (typeof prefix !== "string" || !TABLE_PREFIX.test(prefix)) {
      throw new ValidationError(`tablePrefix ${JSON.stringify(prefix)} is invalid: use letters, digits and _ (at most 49), not starting with a digit`)
    }
    const synchronous = options.synchronous ?? "FULL"
    if (synchronous !== "FULL" && synchronous !== "NORMAL") {
      throw new ValidationError(`synchronous must be "FULL" or "NORMAL", got ${JSON.stringify(synchronous)}`)
    }
    const busyTimeoutMS = options.busyTimeoutMS ?? 10_000
    if (!Number.isInteger(busyTimeoutMS) || busyTimeoutMS < 0) {
      throw new ValidationError(`busyTimeoutMS must be an integer >= 0, got ${String(busyTimeoutMS)}`)
    }
    if (typeof path !== "string" || path === "") throw new ValidationError(`SQLiteStorageProvider needs a file path or ":memory:"`)
    try {
      this.db = new Database(path, { timeout: busyTimeoutMS })
    } catch (error) {
      throw new Error(
        `cannot open SQLite database ${JSON.stringify(path)}: ${(error as Error).message} (does its directory exist, and may this process write there?)`,
        { cause: error },
      )
    }
    let checkpointer: WalCheckpointer | undefined
    try {
      const wal = this.db.pragma("journal_mode = WAL", { simple: true }) === "wal"
      this.db.pragma(`synchronous = ${synchronous}`)
      createSchema(this.db, prefix)
      this.statements = prepareStatements(this.db, prefix)
      this.children = new SQLiteChildren(this.db, prefix)
      this.inspection = new SQLiteInspection(this.db, prefix, WORKFLOW_COLUMNS_OF_W)
      this.endSeries = prepareEndSeries(this.db, prefix)
      checkpointer = wal ? new WalCheckpointer(this.db, busyTimeoutMS) : undefined
    } catch (error) {
      this.db.close()
      throw error
    }
    this.checkpointer = checkpointer
    // Every write goes through here, so after a full disk the log gives its space back before the next one.
    this.inTransaction = (fn) => {
      const tx = this.db.transaction(fn)
      return (...args) => {
        checkpointer?.beforeWrite()
        try {
          return tx.immediate(...args)
        } catch (error) {
          checkpointer?.writeFailed(error)
          throw error
        }
      }
    }
    this.insertTx = this.inTransaction(this.insertAll.bind(this))
    this.claimTx = this.inTransaction(this.claimAll.bind(this))
    this.updateTx = this.inTransaction(this.updateAll.bind(this))
    this.renewTx = this.inTransaction(this.renewAll.bind(this))
    this.releaseTx = this.inTransaction(this.releaseAll.bind(this))
    this.retryTx = this.inTransaction(this.retryOne.bind(this))
    this.deleteTx = this.inTransaction(this.deleteEnded.bind(this))
    this.cancelTx = this.inTransaction(this.cancelOne.bind(this))
    this.awaitChildrenTx = this.inTransaction((park: AwaitChildren) => this.children.awaitChildren(park))
    this.events = new SQLiteEventStore({ db: this.db, prefix, inTransaction: this.inTransaction })
    this.schedules = new SQLiteScheduleStore({
      db: this.db,
      prefix,
      inTransaction: this.inTransaction,
      insertWorkflows: (workflows) => this.insertAll(workflows),
    })
    this.deleteByStatusTx = this.inTransaction((selector: EndedWorkflowsSelector) => this.inspection.deleteEnded(selector))
  }

  private readonly insertTx: (workflows: NewWorkflow[]) => boolean[]
  private readonly claimTx: (claim: ClaimRequest) => WorkflowWithTasks[]
  private readonly updateTx: (writes: WorkflowWrite[]) => boolean[]
  private readonly renewTx: (renewal: LeaseRenewal) => string[]
  private readonly releaseTx: (release: LeaseRelease) => void
  private readonly retryTx: (retry: RetryRequest) => boolean
  private readonly deleteTx: (endedBefore: number) => number
  private readonly cancelTx: (id: string, now: number) => boolean
  private readonly awaitChildrenTx: (park: AwaitChildren) => number | null
  private readonly deleteByStatusTx: (selector: EndedWorkflowsSelector) => number

  async init(): Promise<void> {}

  async close(): Promise<void> {
    this.checkpointer?.stop()
    if (this.db.open) this.db.close()
  }

  async insertWorkflowsAndTasks(workflows: NewWorkflow[]): Promise<boolean[]> {
    return this.insertTx(workflows)
  }

  async claimWorkflows(claim: ClaimRequest): Promise<WorkflowWithTasks[]> {
    return this.claimTx(claim)
  }

  async renewLeases(renewal: LeaseRenewal): Promise<string[]> {
    return this.renewTx(renewal)
  }

  async releaseLeases(release: LeaseRelease): Promise<void> {
    this.releaseTx(release)
  }

  async applyWorkflowWrites(writes: WorkflowWrite[]): Promise<boolean[]> {
    return this.updateTx(writes)
  }

  async getWorkflow(id: string): Promise<WorkflowWithTasks | null> {
    const row = this.statements.selectWorkflow.get(id) as unknown[] | undefined
    if (!row) return null
    return { workflow: toWorkflowRow(row), tasks: (this.statements.selectTasks.all(id) as unknown[][]).map(toTaskRow) }
  }

  async listWorkflows(filter: WorkflowFilter): Promise<WorkflowRow[]> {
    if (usesInspectionFields(filter)) return this.inspection.list(filter).map(toWorkflowRow)
    // Every ID sorts after "" (IDs are never empty).
    const afterID = filter.afterID ?? ""
    const rows =
      filter.status === undefined
        ? this.statements.listWorkflows.all(afterID, filter.limit)
        : this.statements.listWorkflowsByStatus.all(filter.status, afterID, filter.limit)
    return (rows as unknown[][]).map(toWorkflowRow)
  }

  async getWorkflowStats(request: StatsRequest): Promise<WorkflowStats> {
    return this.inspection.stats(request)
  }

  async countEndsByInterval(request: EndSeriesRequest): Promise<EndSeriesCount[]> {
    return this.endSeries(request)
  }

  async countEndedWorkflows(selector: EndedWorkflowsSelector): Promise<number> {
    return this.inspection.countEnded(selector)
  }

  async deleteEndedWorkflowsByStatus(selector: EndedWorkflowsSelector): Promise<number> {
    return this.deleteByStatusTx(selector)
  }

  async cancelWorkflow(id: string, now: number): Promise<boolean> {
    return this.cancelTx(id, now)
  }

  async awaitChildren(park: AwaitChildren): Promise<number | null> {
    return this.awaitChildrenTx(park)
  }

  /** Reads the statuses of the given workflows, IN_LIST_SIZE IDs per statement, through the primary-key index. */
  async getWorkflows(ids: string[]): Promise<WorkflowWithTasks[]> {
    const found: WorkflowWithTasks[] = []
    const unique = [...new Set(ids)]
    // One read transaction: the workflows and their tasks come from one snapshot.
    this.db.transaction(() => {
      for (let start = 0; start < unique.length; start += IN_LIST_SIZE) {
        const chunk: Array<string | null> = unique.slice(start, start + IN_LIST_SIZE)
        while (chunk.length < IN_LIST_SIZE) chunk.push(null)
        const byID = new Map<string, WorkflowWithTasks>()
        for (const row of this.statements.selectWorkflowsOfMany.all(...chunk) as unknown[][]) {
          const workflow = toWorkflowRow(row)
          const entry = { workflow, tasks: [] }
          byID.set(workflow.id, entry)
          found.push(entry)
        }
        for (const row of this.statements.selectTasksOfMany.all(...chunk) as unknown[][]) byID.get(row[0] as string)?.tasks.push(toTaskRow(row))
      }
    })()
    return found
  }

  async getWorkflowStatuses(ids: string[]): Promise<Array<{ id: string; status: WorkflowStatus }>> {
    const statuses: Array<{ id: string; status: WorkflowStatus }> = []
    const unique = [...new Set(ids)]
    for (let start = 0; start < unique.length; start += IN_LIST_SIZE) {
      const chunk: Array<string | null> = unique.slice(start, start + IN_LIST_SIZE)
      while (chunk.length < IN_LIST_SIZE) chunk.push(null)
      for (const row of this.statements.selectStatusesOfMany.all(...chunk) as unknown[][]) {
        statuses.push({ id: row[0] as string, status: row[1] as WorkflowStatus })
      }
    }
    return statuses
  }

  async retryWorkflow(retry: RetryRequest): Promise<boolean> {
    return this.retryTx(retry)
  }

  async deleteEndedWorkflows(endedBefore: number): Promise<number> {
    return this.deleteTx(endedBefore)
  }

  private insertAll(workflows: NewWorkflow[]): boolean[] {
    const s = this.statements
    const inserted: boolean[] = []
    for (const w of workflows) {
      const lease = w.lease
      const created =
        s.insertWorkflow.run(w.id, w.now, w.now, lease ? lease.expiresAt : (w.availableAt ?? w.now), lease?.owner ?? null, lease?.token ?? null, w.tasks.length, w.parent?.id ?? null, w.parent?.seq ?? null)
          .changes === 1
      if (created) {
        for (let seq = 0; seq < w.tasks.length; seq++) {
          const t = w.tasks[seq]!
          s.insertTask.run(w.id, seq, t.name, t.task, t.data, w.now, w.now, t.kind ?? "task")
          if (t.event) this.events.storeWatermark(w.id, seq, t.event)
        }
      }
      inserted.push(created)
    }
    return inserted
  }

  private claimAll(claim: ClaimRequest): WorkflowWithTasks[] {
    const s = this.statements
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
    const chunk: Array<string | null> = []
    const leaseChunk = () => {
      // A fixed-size IN list (padded with NULLs, which match nothing) keeps one prepared statement per shape.
      while (chunk.length < IN_LIST_SIZE) chunk.push(null)
      for (const row of s.leaseMany.all(lease.owner, lease.token, lease.expiresAt, ...chunk) as unknown[][]) {
        const workflow = toWorkflowRow(row)
        byID.set(workflow.id, { workflow, tasks: [] })
      }
      for (const row of s.selectTasksOfMany.all(...chunk) as unknown[][]) byID.get(row[0] as string)?.tasks.push(toTaskRow(row))
      chunk.length = 0
    }
    for (const id of ids) {
      chunk.push(id)
      if (chunk.length === IN_LIST_SIZE) leaseChunk()
    }
    if (chunk.length > 0) leaseChunk()
    const claimed: WorkflowWithTasks[] = []
    for (const id of ids) {
      const entry = byID.get(id)
      if (entry) claimed.push(entry)
    }
    return claimed
  }

  private updateAll(writes: WorkflowWrite[]): boolean[] {
    const s = this.statements
    const applied: boolean[] = []
    for (const u of writes) {
      // One small statement per kind of write: cheaper to bind and run than one statement with CASEs for all.
      const { recoveries, crashes } = u.counts
      let ok: boolean
      switch (u.kind) {
        case "recordTask":
        case "markCrash":
          ok = s.touchWorkflow.run(u.now, recoveries, crashes, u.workflowID, u.token).changes === 1
          break
        case "parkUntil":
          ok = s.releaseWorkflowUntil.run(u.now, u.availableAt, recoveries, crashes, u.workflowID, u.token).changes === 1
          break
        case "endWorkflow": {
          // The ended workflow's parent link comes back with the update: a child's end wakes its parent in this transaction.
          const parentID = s.endWorkflow.get(u.now, u.status, recoveries, crashes, u.workflowID, u.token) as string | null | undefined
          ok = parentID !== undefined
          if (parentID) this.children.wakeParent(parentID, u.now)
          break
        }
      }
      const t = u.kind === "markCrash" ? undefined : u.task
      if (ok && t) {
        const startedAt = t.startedAt ?? null
        s.updateTask.run(t.status, t.result, t.error, t.attempts, u.now, t.wakeAt ?? null, startedAt, startedAt === null ? null : u.now, t.runnerID ?? null, t.history ?? null, u.workflowID, t.seq)
        if (t.eventSeq !== undefined) this.events.storeTaken(u.workflowID, t.seq, t.eventSeq)
      }
      applied.push(ok)
    }
    return applied
  }

  private renewAll(renewal: LeaseRenewal): string[] {
    const renewed: string[] = []
    for (const id of renewal.workflowIDs) {
      if (this.statements.renewLease.run(renewal.expiresAt, id, renewal.token).changes === 1) renewed.push(id)
    }
    return renewed
  }

  private releaseAll(release: LeaseRelease): void {
    for (const id of release.workflowIDs) this.statements.releaseLease.run(release.availableAt, id, release.token)
  }

  private cancelOne(id: string, now: number): boolean {
    if (this.statements.cancelWorkflow.run(now, id).changes !== 1) return false
    this.children.cancelled(id, now)
    return true
  }

  private retryOne({ id, now, resumeSeq, counts }: RetryRequest): boolean {
    if (this.statements.retryWorkflow.run(now, now, counts.recoveries, counts.crashes, id).changes !== 1) return false
    this.statements.resumeFailedTask.run(now, id, resumeSeq)
    return true
  }

  private deleteEnded(endedBefore: number): number {
    this.statements.deleteEndedTasks.run(endedBefore)
    return this.statements.deleteEndedWorkflows.run(endedBefore).changes
  }
}

function prepareStatements(db: Database.Database, p: string) {
  const inList = Array.from({ length: IN_LIST_SIZE }, () => "?").join(", ")
  return {
    insertWorkflow: db.prepare(
      `INSERT INTO ${p}workflows (id, status, created_at, updated_at, available_at, lease_owner, lease_token, task_count, parent_id, parent_seq)
       VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    insertTask: db.prepare(
      `INSERT INTO ${p}tasks (workflow_id, seq, name, task, data, status, result, error, attempts, created_at, updated_at, kind)
       VALUES (?, ?, ?, ?, ?, 'pending', NULL, NULL, 0, ?, ?, ?)`,
    ),
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
         WHERE id IN (${inList}) RETURNING ${WORKFLOW_COLUMNS}`,
      )
      .raw(),
    selectTasksOfMany: db
      .prepare(`SELECT ${TASK_COLUMNS} FROM ${p}tasks WHERE workflow_id IN (${inList}) ORDER BY workflow_id, seq`)
      .raw(),
    selectWorkflowsOfMany: db.prepare(`SELECT ${WORKFLOW_COLUMNS} FROM ${p}workflows WHERE id IN (${inList})`).raw(),
    selectStatusesOfMany: db.prepare(`SELECT id, status FROM ${p}workflows WHERE id IN (${inList})`).raw(),
    selectWorkflow: db.prepare(`SELECT ${WORKFLOW_COLUMNS} FROM ${p}workflows WHERE id = ?`).raw(),
    selectTasks: db.prepare(`SELECT ${TASK_COLUMNS} FROM ${p}tasks WHERE workflow_id = ? ORDER BY seq`).raw(),
    // The fenced workflow writes of applyWorkflowWrites: only a pending workflow leased under the writer's token changes.
    // Each stores the crash-loop counters it is given.
    touchWorkflow: db.prepare(
      `UPDATE ${p}workflows SET updated_at = ?, recoveries = ?, crashes = ? WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
    endWorkflow: db
      .prepare(
        `UPDATE ${p}workflows SET updated_at = ?, status = ?, lease_owner = NULL, lease_token = NULL, recoveries = ?, crashes = ?
         WHERE id = ? AND lease_token = ? AND status = 'pending' RETURNING parent_id`,
      )
      .pluck(),
    releaseWorkflowUntil: db.prepare(
      `UPDATE ${p}workflows SET updated_at = ?, available_at = ?, lease_owner = NULL, lease_token = NULL, recoveries = ?, crashes = ?
       WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
    updateTask: db.prepare(
      // The attempt columns (attempt-history) are kept when a change carries none (a step that is not an attempt).
      `UPDATE ${p}tasks SET status = ?, result = ?, error = ?, attempts = ?, updated_at = ?, wake_at = ?,
         started_at = COALESCE(?, started_at), ended_at = COALESCE(?, ended_at), runner_id = COALESCE(?, runner_id),
         attempt_history = COALESCE(?, attempt_history)
       WHERE workflow_id = ? AND seq = ?`,
    ),
    renewLease: db.prepare(
      `UPDATE ${p}workflows SET available_at = ? WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
    releaseLease: db.prepare(
      `UPDATE ${p}workflows SET lease_owner = NULL, lease_token = NULL, available_at = ?
       WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
    // Two statements rather than one with `(? IS NULL OR status = ?)`, which no index can serve.
    listWorkflows: db.prepare(`SELECT ${WORKFLOW_COLUMNS} FROM ${p}workflows WHERE id > ? ORDER BY id LIMIT ?`).raw(),
    listWorkflowsByStatus: db
      .prepare(
        `SELECT ${WORKFLOW_COLUMNS} FROM ${p}workflows INDEXED BY ${p}workflows_status
         WHERE status = ? AND id > ? ORDER BY id LIMIT ?`,
      )
      .raw(),
    cancelWorkflow: db.prepare(
      `UPDATE ${p}workflows SET status = 'cancelled', lease_owner = NULL, lease_token = NULL, updated_at = ?
       WHERE id = ? AND status = 'pending'`,
    ),
    retryWorkflow: db.prepare(
      `UPDATE ${p}workflows SET status = 'pending', lease_owner = NULL, lease_token = NULL, available_at = ?, updated_at = ?,
         recoveries = ?, crashes = ?
       WHERE id = ? AND status = 'failed'`,
    ),
    resumeFailedTask: db.prepare(
      `UPDATE ${p}tasks SET status = 'pending', attempts = 0, updated_at = ? WHERE workflow_id = ? AND seq = ? AND status = 'failed'`,
    ),
    deleteEndedTasks: db.prepare(
      `DELETE FROM ${p}tasks WHERE workflow_id IN
         (SELECT id FROM ${p}workflows INDEXED BY ${p}workflows_ended WHERE status <> 'pending' AND updated_at < ?)`,
    ),
    deleteEndedWorkflows: db.prepare(
      `DELETE FROM ${p}workflows INDEXED BY ${p}workflows_ended WHERE status <> 'pending' AND updated_at < ?`,
    ),
  }
}
