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
 * The provider wires transactions around the operations of `sqlite/`, one
 * module each: inserts, claims (and leases), updates (the fenced writes),
 * reads, client-writes (cancel, retry, retention), children, events,
 * schedules and inspection; `sqlite/schema.ts` creates and migrates the
 * tables and `sqlite/rows.ts` reads rows.
 *
 * @module
 */
import { ValidationError } from "../errors.js"
import { refuseUnknownKeys } from "../known-keys.js"
import Database from "better-sqlite3"
import { STORAGE_CONTRACT_VERSION } from "./provider.js"
import type {
  AwaitChildren,
  StorageCapabilities,
  ClaimRequest,
  LeaseRelease,
  LeaseRenewal,
  NewWorkflow,
  StorageProvider,
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
import { validateSQLiteTablePrefix } from "./sqlite/table-prefix.js"
import { SQLiteChildren } from "./sqlite/children.js"
import type { ScheduleStore } from "./schedule-store.js"
import { usesInspectionFields } from "./filter.js"
import { SQLiteInspection } from "./sqlite/inspection.js"
import { prepareEndSeries } from "./sqlite/throughput.js"
import { SQLiteClaims } from "./sqlite/claims.js"
import { SQLiteClientWrites } from "./sqlite/client-writes.js"
import { SQLiteInserts } from "./sqlite/inserts.js"
import { SQLiteReads } from "./sqlite/reads.js"
import { WORKFLOW_COLUMNS_OF_W, toWorkflowRow } from "./sqlite/rows.js"
import { SQLiteUpdates } from "./sqlite/updates.js"

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

/** Every key of {@link SQLiteStorageOptions}: the compiler checks that none is missing, the constructor refuses others. */
const SQLITE_OPTION_KEYS = Object.keys({ tablePrefix: true, synchronous: true, busyTimeoutMS: true } satisfies Record<keyof SQLiteStorageOptions, true>)

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
  private readonly reads: SQLiteReads
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
    if (typeof options !== "object" || options === null) throw new ValidationError("SQLiteStorageProvider's options must be an object")
    refuseUnknownKeys(options, SQLITE_OPTION_KEYS, "new SQLiteStorageProvider")
    const prefix = validateSQLiteTablePrefix(options.tablePrefix ?? "durabletasks_")
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
    let inserts: SQLiteInserts
    let claims: SQLiteClaims
    let updates: SQLiteUpdates
    let clientWrites: SQLiteClientWrites
    try {
      const wal = this.db.pragma("journal_mode = WAL", { simple: true }) === "wal"
      this.db.pragma(`synchronous = ${synchronous}`)
      createSchema(this.db, prefix)
      this.events = new SQLiteEventStore({ db: this.db, prefix, inTransaction: this.inTransaction })
      this.children = new SQLiteChildren(this.db, prefix)
      inserts = new SQLiteInserts(this.db, prefix, this.events)
      claims = new SQLiteClaims(this.db, prefix)
      updates = new SQLiteUpdates(this.db, prefix, this.children, this.events)
      clientWrites = new SQLiteClientWrites(this.db, prefix, this.children)
      this.reads = new SQLiteReads(this.db, prefix)
      this.inspection = new SQLiteInspection(this.db, prefix, WORKFLOW_COLUMNS_OF_W)
      this.endSeries = prepareEndSeries(this.db, prefix)
      checkpointer = wal ? new WalCheckpointer(this.db, busyTimeoutMS) : undefined
    } catch (error) {
      this.db.close()
      throw error
    }
    this.checkpointer = checkpointer
    this.insertTx = this.inTransaction((workflows: NewWorkflow[]) => inserts.insert(workflows))
    this.claimTx = this.inTransaction((claim: ClaimRequest) => claims.claim(claim))
    this.updateTx = this.inTransaction((writes: WorkflowWrite[]) => updates.apply(writes))
    this.renewTx = this.inTransaction((renewal: LeaseRenewal) => claims.renew(renewal))
    this.releaseTx = this.inTransaction((release: LeaseRelease) => claims.release(release))
    this.retryTx = this.inTransaction((retry: RetryRequest) => clientWrites.retry(retry))
    this.deleteTx = this.inTransaction((endedBefore: number) => clientWrites.deleteEnded(endedBefore))
    this.cancelTx = this.inTransaction((id: string, now: number) => clientWrites.cancel(id, now))
    this.awaitChildrenTx = this.inTransaction((park: AwaitChildren) => this.children.awaitChildren(park))
    this.schedules = new SQLiteScheduleStore({
      db: this.db,
      prefix,
      inTransaction: this.inTransaction,
      insertWorkflows: (workflows) => inserts.insert(workflows),
    })
    this.deleteByStatusTx = this.inTransaction((selector: EndedWorkflowsSelector) => this.inspection.deleteEnded(selector))
  }

  // Each write method is one write transaction (BEGIN IMMEDIATE) around the operation of its sqlite/ module.
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

  // ---- core writes (sqlite/inserts.ts, claims.ts, updates.ts) ----

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

  // ---- reads (sqlite/reads.ts; filtered listings: sqlite/inspection.ts) ----

  async getWorkflow(id: string): Promise<WorkflowWithTasks | null> {
    return this.reads.workflow(id)
  }

  async getWorkflows(ids: string[]): Promise<WorkflowWithTasks[]> {
    return this.reads.workflows(ids)
  }

  async getWorkflowStatuses(ids: string[]): Promise<Array<{ id: string; status: WorkflowStatus }>> {
    return this.reads.statuses(ids)
  }

  async listWorkflows(filter: WorkflowFilter): Promise<WorkflowRow[]> {
    if (usesInspectionFields(filter)) return this.inspection.list(filter).map(toWorkflowRow)
    return this.reads.list(filter)
  }

  // ---- the client's writes (sqlite/client-writes.ts) ----

  async cancelWorkflow(id: string, now: number): Promise<boolean> {
    return this.cancelTx(id, now)
  }

  async retryWorkflow(retry: RetryRequest): Promise<boolean> {
    return this.retryTx(retry)
  }

  async deleteEndedWorkflows(endedBefore: number): Promise<number> {
    return this.deleteTx(endedBefore)
  }

  // ---- children (sqlite/children.ts) ----

  async awaitChildren(park: AwaitChildren): Promise<number | null> {
    return this.awaitChildrenTx(park)
  }

  // ---- inspection (sqlite/inspection.ts, sqlite/throughput.ts) ----

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
}
