/**
 * The embedded default: SQLite through better-sqlite3.
 *
 * WAL mode, `synchronous=FULL` unless relaxed, `BEGIN IMMEDIATE` for every
 * write (so a read never has to upgrade to a write lock and hit
 * `SQLITE_BUSY_SNAPSHOT`), and a busy timeout so several processes can share
 * one file. Each method is one transaction; the runner's group commit hands
 * it arrays, so one fsync serves many writes.
 *
 * @module
 */
import Database from "better-sqlite3"
import type {
  ClaimRequest,
  LeaseRelease,
  LeaseRenewal,
  NewWorkflow,
  StorageProvider,
  TaskRow,
  TaskStatusUpdate,
  WorkflowFilter,
  WorkflowRow,
  WorkflowWithTasks,
} from "./provider.js"

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

const SCHEMA_VERSION = 1
const TABLE_PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,48}$/

const WORKFLOW_COLUMNS =
  "id, status, created_at AS createdAt, updated_at AS updatedAt, available_at AS availableAt, lease_owner AS leaseOwner, lease_token AS leaseToken, task_count AS taskCount"
const TASK_COLUMNS =
  "workflow_id AS workflowID, seq, name, task, data, status, result, error, attempts, created_at AS createdAt, updated_at AS updatedAt"

/** Stores workflows in a SQLite file (or `":memory:"`). */
export class SQLiteStorageProvider implements StorageProvider {
  /** The better-sqlite3 connection, for inspection in tests and tools. */
  readonly db: Database.Database
  private readonly statements: ReturnType<typeof prepareStatements>
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
      throw new Error(`tablePrefix ${JSON.stringify(prefix)} is invalid: use letters, digits and _ (at most 49), not starting with a digit`)
    }
    const synchronous = options.synchronous ?? "FULL"
    if (synchronous !== "FULL" && synchronous !== "NORMAL") {
      throw new Error(`synchronous must be "FULL" or "NORMAL", got ${JSON.stringify(synchronous)}`)
    }
    const busyTimeoutMS = options.busyTimeoutMS ?? 10_000
    if (!Number.isInteger(busyTimeoutMS) || busyTimeoutMS < 0) {
      throw new Error(`busyTimeoutMS must be an integer >= 0, got ${String(busyTimeoutMS)}`)
    }
    if (typeof path !== "string" || path === "") throw new Error(`SQLiteStorageProvider needs a file path or ":memory:"`)
    this.db = new Database(path, { timeout: busyTimeoutMS })
    try {
      this.db.pragma("journal_mode = WAL")
      this.db.pragma(`synchronous = ${synchronous}`)
      createSchema(this.db, prefix)
      this.statements = prepareStatements(this.db, prefix)
    } catch (error) {
      this.db.close()
      throw error
    }
    this.inTransaction = (fn) => {
      const tx = this.db.transaction(fn)
      return (...args) => tx.immediate(...args)
    }
    this.insertTx = this.inTransaction(this.insertAll.bind(this))
    this.claimTx = this.inTransaction(this.claimAll.bind(this))
    this.updateTx = this.inTransaction(this.updateAll.bind(this))
    this.renewTx = this.inTransaction(this.renewAll.bind(this))
    this.releaseTx = this.inTransaction(this.releaseAll.bind(this))
    this.retryTx = this.inTransaction(this.retryOne.bind(this))
    this.deleteTx = this.inTransaction(this.deleteEnded.bind(this))
  }

  private readonly insertTx: (workflows: NewWorkflow[]) => boolean[]
  private readonly claimTx: (claim: ClaimRequest) => WorkflowWithTasks[]
  private readonly updateTx: (updates: TaskStatusUpdate[]) => boolean[]
  private readonly renewTx: (renewal: LeaseRenewal) => string[]
  private readonly releaseTx: (release: LeaseRelease) => void
  private readonly retryTx: (id: string, now: number) => boolean
  private readonly deleteTx: (endedBefore: number) => number

  async init(): Promise<void> {}

  async close(): Promise<void> {
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

  async updateWorkflowTaskStatuses(updates: TaskStatusUpdate[]): Promise<boolean[]> {
    return this.updateTx(updates)
  }

  async getWorkflow(id: string): Promise<WorkflowWithTasks | null> {
    const workflow = this.statements.selectWorkflow.get(id) as WorkflowRow | undefined
    if (!workflow) return null
    return { workflow, tasks: this.statements.selectTasks.all(id) as TaskRow[] }
  }

  async listWorkflows(filter: WorkflowFilter): Promise<WorkflowRow[]> {
    return this.statements.listWorkflows.all({
      status: filter.status ?? null,
      afterID: filter.afterID ?? null,
      limit: filter.limit,
    }) as WorkflowRow[]
  }

  async cancelWorkflow(id: string, now: number): Promise<boolean> {
    return this.statements.cancelWorkflow.run(now, id).changes === 1
  }

  async retryWorkflow(id: string, now: number): Promise<boolean> {
    return this.retryTx(id, now)
  }

  async deleteEndedWorkflows(endedBefore: number): Promise<number> {
    return this.deleteTx(endedBefore)
  }

  private insertAll(workflows: NewWorkflow[]): boolean[] {
    const s = this.statements
    return workflows.map((w) => {
      const inserted =
        s.insertWorkflow.run(
          w.id,
          w.now,
          w.now,
          w.lease ? w.lease.expiresAt : w.now,
          w.lease?.owner ?? null,
          w.lease?.token ?? null,
          w.tasks.length,
        ).changes === 1
      if (!inserted) return false
      w.tasks.forEach((t, seq) => s.insertTask.run(w.id, seq, t.name, t.task, t.data, w.now, w.now))
      return true
    })
  }

  private claimAll(claim: ClaimRequest): WorkflowWithTasks[] {
    const s = this.statements
    const { lease, now, limit } = claim
    if (limit <= 0) return []
    const ids = new Set<string>()
    if (claim.reclaimOwn) {
      for (const row of s.selectOwnLeased.all(lease.owner, lease.token, limit) as Array<{ id: string }>) ids.add(row.id)
    }
    if (ids.size < limit) {
      for (const row of s.selectClaimable.all(now, limit - ids.size) as Array<{ id: string }>) ids.add(row.id)
    }
    const claimed: WorkflowWithTasks[] = []
    for (const id of ids) {
      s.lease.run(lease.owner, lease.token, lease.expiresAt, id)
      claimed.push({
        workflow: s.selectWorkflow.get(id) as WorkflowRow,
        tasks: s.selectTasks.all(id) as TaskRow[],
      })
    }
    return claimed
  }

  private updateAll(updates: TaskStatusUpdate[]): boolean[] {
    const s = this.statements
    return updates.map((u) => {
      const w = u.workflow
      const applied =
        s.fencedUpdateWorkflow.run({
          id: u.workflowID,
          token: u.token,
          now: u.now,
          status: w?.status ?? null,
          availableAt: w?.status === "pending" ? w.availableAt : null,
        }).changes === 1
      if (applied && u.task) {
        const t = u.task
        s.updateTask.run(t.status, t.result ?? null, t.error ?? null, t.attempts, u.now, u.workflowID, t.seq)
      }
      return applied
    })
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

  private retryOne(id: string, now: number): boolean {
    if (this.statements.retryWorkflow.run(now, now, id).changes !== 1) return false
    this.statements.retryLastFailedTask.run(now, id, id)
    return true
  }

  private deleteEnded(endedBefore: number): number {
    this.statements.deleteEndedTasks.run(endedBefore)
    return this.statements.deleteEndedWorkflows.run(endedBefore).changes
  }
}

function createSchema(db: Database.Database, p: string): void {
  const create = db.transaction(() => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${p}schema (version INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS ${p}workflows (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        available_at INTEGER NOT NULL,
        lease_owner TEXT,
        lease_token TEXT,
        task_count INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS ${p}tasks (
        workflow_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        task TEXT NOT NULL,
        data TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT,
        error TEXT,
        attempts INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (workflow_id, seq)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ${p}workflows_claimable ON ${p}workflows (available_at) WHERE status = 'pending';
      CREATE INDEX IF NOT EXISTS ${p}workflows_leased ON ${p}workflows (lease_owner) WHERE status = 'pending';
      CREATE INDEX IF NOT EXISTS ${p}workflows_ended ON ${p}workflows (updated_at) WHERE status <> 'pending';
      CREATE INDEX IF NOT EXISTS ${p}workflows_status ON ${p}workflows (status, id);
    `)
    const row = db.prepare(`SELECT version FROM ${p}schema`).get() as { version: number } | undefined
    if (!row) db.prepare(`INSERT INTO ${p}schema (version) VALUES (?)`).run(SCHEMA_VERSION)
    else if (row.version > SCHEMA_VERSION) {
      throw new Error(`the database has durabletasks schema version ${row.version}, newer than this library's ${SCHEMA_VERSION}: upgrade durabletasks`)
    }
  })
  create.immediate()
}

function prepareStatements(db: Database.Database, p: string) {
  return {
    insertWorkflow: db.prepare(
      `INSERT INTO ${p}workflows (id, status, created_at, updated_at, available_at, lease_owner, lease_token, task_count)
       VALUES (?, 'pending', ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    insertTask: db.prepare(
      `INSERT INTO ${p}tasks (workflow_id, seq, name, task, data, status, result, error, attempts, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'pending', NULL, NULL, 0, ?, ?)`,
    ),
    selectOwnLeased: db.prepare(
      `SELECT id FROM ${p}workflows WHERE status = 'pending' AND lease_owner = ? AND lease_token <> ? LIMIT ?`,
    ),
    selectClaimable: db.prepare(
      `SELECT id FROM ${p}workflows WHERE status = 'pending' AND available_at <= ? ORDER BY available_at LIMIT ?`,
    ),
    lease: db.prepare(`UPDATE ${p}workflows SET lease_owner = ?, lease_token = ?, available_at = ? WHERE id = ?`),
    selectWorkflow: db.prepare(`SELECT ${WORKFLOW_COLUMNS} FROM ${p}workflows WHERE id = ?`),
    selectTasks: db.prepare(`SELECT ${TASK_COLUMNS} FROM ${p}tasks WHERE workflow_id = ? ORDER BY seq`),
    fencedUpdateWorkflow: db.prepare(
      `UPDATE ${p}workflows SET
         updated_at = :now,
         status = COALESCE(:status, status),
         lease_owner = CASE WHEN :status IS NULL THEN lease_owner ELSE NULL END,
         lease_token = CASE WHEN :status IS NULL THEN lease_token ELSE NULL END,
         available_at = COALESCE(:availableAt, available_at)
       WHERE id = :id AND lease_token = :token AND status = 'pending'`,
    ),
    updateTask: db.prepare(
      `UPDATE ${p}tasks SET status = ?, result = ?, error = ?, attempts = ?, updated_at = ? WHERE workflow_id = ? AND seq = ?`,
    ),
    renewLease: db.prepare(
      `UPDATE ${p}workflows SET available_at = ? WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
    releaseLease: db.prepare(
      `UPDATE ${p}workflows SET lease_owner = NULL, lease_token = NULL, available_at = ?
       WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
    listWorkflows: db.prepare(
      `SELECT ${WORKFLOW_COLUMNS} FROM ${p}workflows
       WHERE (:status IS NULL OR status = :status) AND (:afterID IS NULL OR id > :afterID)
       ORDER BY id LIMIT :limit`,
    ),
    cancelWorkflow: db.prepare(
      `UPDATE ${p}workflows SET status = 'cancelled', lease_owner = NULL, lease_token = NULL, updated_at = ?
       WHERE id = ? AND status = 'pending'`,
    ),
    retryWorkflow: db.prepare(
      `UPDATE ${p}workflows SET status = 'pending', lease_owner = NULL, lease_token = NULL, available_at = ?, updated_at = ?
       WHERE id = ? AND status = 'failed'`,
    ),
    retryLastFailedTask: db.prepare(
      `UPDATE ${p}tasks SET status = 'pending', attempts = 0, updated_at = ?
       WHERE workflow_id = ? AND seq = (SELECT MAX(seq) FROM ${p}tasks WHERE workflow_id = ? AND status = 'failed')`,
    ),
    deleteEndedTasks: db.prepare(
      `DELETE FROM ${p}tasks WHERE workflow_id IN
         (SELECT id FROM ${p}workflows WHERE status <> 'pending' AND updated_at < ?)`,
    ),
    deleteEndedWorkflows: db.prepare(`DELETE FROM ${p}workflows WHERE status <> 'pending' AND updated_at < ?`),
  }
}
