/**
 * Postgres storage through `pg`, for runners on several machines sharing one
 * database.
 *
 * Claims use `FOR UPDATE SKIP LOCKED`; every write is one statement (one
 * round trip) or, for a batch that updates one workflow more than once, one
 * transaction; batches travel as arrays expanded by `unnest`, so a batch of
 * 2,000 updates is still one round trip. Idle runners are woken by LISTEN/NOTIFY,
 * sent inside the writes that make work claimable. Statements are named
 * prepared statements, planned once per pooled connection (turn this off with
 * `preparedStatements: false` behind a pooler that cannot keep them). Times
 * come from the caller; the database clock is never read. The SQL for each
 * operation lives next to its code in `./postgres/`.
 *
 * Postgres-compatible databases: the SQL keeps to what CockroachDB and
 * YugabyteDB accept where it can. Known exceptions (for the README):
 * - LISTEN/NOTIFY: CockroachDB has neither (nor `pg_notify`); `init()` detects
 *   CockroachDB and turns notifications off unless `notifications` is set.
 *   YugabyteDB has them only in recent versions, behind the
 *   `ysql_yb_enable_listen_notify` flag (off by default): without it, pass
 *   `notifications: false`. Without notifications runners find work by
 *   polling only, so new work waits up to one poll interval.
 * - `pg_advisory_xact_lock` serializes `init()` across processes. Older
 *   CockroachDB lacks it (newer versions have it; some only as a no-op stub),
 *   and YugabyteDB has it only when advisory locks are enabled. Where it is
 *   missing, `init()` goes on without it; where it is a stub, it does not
 *   lock. Then two processes running the *first* `init()` at the same moment
 *   can fail on concurrent DDL: run `init()` once first (e.g. at deploy), or
 *   retry it. Later `init()`s only read the schema version.
 * - Transactional DDL: migrations run in one transaction. YugabyteDB (unless
 *   DDL atomicity is enabled) commits each DDL statement on its own, so an
 *   interrupted first `init()` can leave some objects behind; the
 *   `IF NOT EXISTS` everywhere makes a rerun complete them.
 * - `COLLATE "C"` on the ID columns (byte-order IDs, as in SQLite, and faster
 *   comparisons than a locale's): CockroachDB refuses it on a column and
 *   always compares bytewise, so `init()` leaves it out there.
 * - Serialization failures (SQLSTATE 40001, frequent on CockroachDB, whose
 *   transactions are SERIALIZABLE) and deadlocks (40P01) roll the work back;
 *   statements and transactions are retried up to 8 times with backoff.
 * - `deleteEndedWorkflows` deletes every eligible row in one statement; on
 *   CockroachDB a very large backlog can exceed its transaction size limits.
 *   Run retention often enough that each call stays small.
 * - Statements use data-modifying CTEs (`WITH … UPDATE … RETURNING`),
 *   `UPDATE … FROM unnest(a, b, …)`, `FOR UPDATE SKIP LOCKED` and partial
 *   indexes. CockroachDB accepts these in current versions (SKIP LOCKED since
 *   22.2, partial indexes since 20.2), each statement changing a table once as
 *   it requires; older versions are not supported.
 *
 * Text: Postgres `text` cannot hold U+0000, and stores a lone surrogate as
 * U+FFFD. The runner refuses IDs, labels and runner names with either before
 * they reach a provider (on every provider alike); this provider still throws
 * on an insert with U+0000, for direct callers. Data and results are JSON text,
 * which escapes both (`\u0000`, `\ud800`), so they round-trip exactly. An error
 * message containing U+0000 is stored with U+FFFD in its place.
 *
 * @module
 */
import { ValidationError } from "../errors.js"
import { refuseUnknownKeys } from "../known-keys.js"
import { validateLogger } from "../validate.js"
import pg from "pg"
import type { Logger } from "../logger.js"
import { claimWorkflows } from "./postgres/claim.js"
import { cancelWorkflow } from "./postgres/cancel.js"
import { awaitChildren } from "./postgres/children.js"
import { PostgresConnection } from "./postgres/connection.js"
import { deleteEndedWorkflows } from "./postgres/delete-ended.js"
import { usesInspectionFields } from "./filter.js"
import { insertWorkflowsAndTasks } from "./postgres/insert.js"
import { countEndedWorkflows, deleteEndedWorkflowsByStatus, getWorkflowStats, listFilteredWorkflows } from "./postgres/inspection.js"
import { countEndsByInterval } from "./postgres/throughput.js"
import { releaseLeases, renewLeases } from "./postgres/leases.js"
import { type PostgresNames, postgresNames } from "./postgres/names.js"
import { WorkNotifier } from "./postgres/notifier.js"
import { getWorkflow, getWorkflowStatuses, getWorkflows, listWorkflows } from "./postgres/read.js"
import { retryWorkflow } from "./postgres/retry.js"
import { migrate, type DatabaseKind } from "./postgres/schema.js"
import { applyWorkflowWrites } from "./postgres/update.js"
import { PostgresScheduleStore } from "./postgres/schedules.js"
import { PostgresEventStore } from "./postgres/events.js"
import type { EventStore } from "./event-store.js"
import type { ScheduleStore } from "./schedule-store.js"
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

/** Options of {@link PostgresStorageProvider}. */
export interface PostgresStorageOptions {
  /**
   * Schema holding the tables; created by `init()` if missing. Lower-case
   * letters, digits and `_`, not starting with a digit, at most 41. Default
   * `"public"`.
   */
  schema?: string
  /**
   * Prefix of the table and index names, so several apps can share a schema.
   * Same characters as `schema`, or `""`. Default `"durabletasks_"`.
   */
  tablePrefix?: string
  /**
   * Whether to wake idle runners with LISTEN/NOTIFY. Default: on, except on
   * CockroachDB (detected by `init()`), which has no LISTEN/NOTIFY. Set
   * `false` on other servers without it (YugabyteDB with it disabled):
   * runners then poll only.
   */
  notifications?: boolean
  /**
   * Settings of the pool the provider creates from a connection string (size,
   * TLS, timeouts…). Ignored when you pass your own pool. `application_name`
   * defaults to `"durabletasks"`.
   */
  poolConfig?: Omit<pg.PoolConfig, "connectionString">
  /** Receives warnings about lost connections (they are retried or replaced). */
  logger?: Logger
  /**
   * Whether to run the provider's statements as named prepared statements, so
   * each connection plans them once. Default `true`. Set `false` behind a
   * connection pooler that does not keep prepared statements across
   * transactions (PgBouncer in transaction mode before 1.21, or without
   * `max_prepared_statements`).
   */
  preparedStatements?: boolean
  /**
   * How many write batches a runner on this provider keeps in flight at once
   * (see {@link StorageProvider.writeBatchesInFlight}): with more than one,
   * the next batch is sent while a batch's round trip and commit are under
   * way. Each takes a pooled connection, so keep it below the pool size.
   * Default 1: with the database on the same machine, fewer and larger
   * batches cost less CPU. Worth 2 when the database is a network hop away
   * (see the README's Postgres figures).
   */
  writeBatchesInFlight?: number
}

/** Every key of {@link PostgresStorageOptions}: the compiler checks that none is missing, the constructor refuses others. */
const POSTGRES_OPTION_KEYS = Object.keys({
  schema: true,
  tablePrefix: true,
  notifications: true,
  poolConfig: true,
  logger: true,
  preparedStatements: true,
  writeBatchesInFlight: true,
} satisfies Record<keyof PostgresStorageOptions, true>)

/**
 * Stores workflows in Postgres (or a compatible database: see the module
 * notes), shared safely by any number of runner processes.
 *
 * ```ts
 * const storage = new PostgresStorageProvider("postgres://user@host/db", { schema: "jobs" })
 * ```
 */
export class PostgresStorageProvider implements StorageProvider {
  /** Contract 1, with crash counts, status reads, LISTEN/NOTIFY notifications, schedules, inspection, waits, events, children and attempt history. */
  readonly capabilities: StorageCapabilities = {
    contract: STORAGE_CONTRACT_VERSION,
    supports: ["crash-counts", "status-reads", "notifications", "schedules", "inspection", "waits", "events", "children", "attempt-history"],
  }
  /** Events, in the same schema as the workflows that wait for them. */
  readonly events: EventStore
  /** Schedules, in the same schema as the workflows their ticks add. */
  readonly schedules: ScheduleStore
  /**
   * The pool all statements run on: the one you passed, or the one created
   * from your connection string.
   */
  readonly pool: pg.Pool
  /** The LISTEN/NOTIFY channel this store's writes notify (distinct per schema and prefix). */
  readonly notificationChannel: string
  private readonly names: PostgresNames
  private readonly db: PostgresConnection
  private readonly ownsPool: boolean
  /** Whether writes notify; settled by `init()` when not set in the options. */
  private notify: boolean
  /** Which server this is; settled by `init()`. */
  private kind: DatabaseKind = "postgres"
  private readonly notifyOption: boolean | undefined
  private readonly notifier: WorkNotifier
  private readonly logger: Logger | undefined
  private readonly onPoolError = (error: Error): void => {
    // An idle client's connection died; the pool has already dropped it.
    this.logger?.debug?.(`durabletasks: an idle Postgres connection was lost: ${error.message}`)
  }
  private initialized: Promise<void> | undefined
  private closed = false
  readonly writeBatchesInFlight: number

  /**
   * Validates the options and sets up the pool; connects lazily (call `init()`).
   *
   * @param connectionStringOrPool - a connection string (the provider then owns
   *   its pool and ends it on `close()`), or your `pg.Pool` (left open)
   * @throws ValidationError naming the bad value if `schema` or `tablePrefix` is not a plain identifier, `logger` is not a logger, or an option is unknown
   */
  constructor(connectionStringOrPool: string | pg.Pool, options: PostgresStorageOptions = {}) {
    if (typeof options !== "object" || options === null) throw new ValidationError("PostgresStorageProvider's options must be an object")
    refuseUnknownKeys(options, POSTGRES_OPTION_KEYS, "new PostgresStorageProvider")
    this.names = postgresNames(options.schema ?? "public", options.tablePrefix ?? "durabletasks_")
    this.notificationChannel = this.names.channel
    this.notifyOption = options.notifications
    this.notify = options.notifications ?? true
    this.logger = validateLogger(options.logger)
    const inFlight = options.writeBatchesInFlight ?? 1
    if (!Number.isInteger(inFlight) || inFlight < 1 || inFlight > 64) {
      throw new ValidationError(`writeBatchesInFlight must be an integer from 1 to 64, got ${String(options.writeBatchesInFlight)}`)
    }
    this.writeBatchesInFlight = inFlight
    let listenConfig: pg.ClientConfig
    if (typeof connectionStringOrPool === "string") {
      if (connectionStringOrPool === "") throw new ValidationError("PostgresStorageProvider needs a connection string or a pg.Pool")
      const config: pg.PoolConfig = { application_name: "durabletasks", ...options.poolConfig, connectionString: connectionStringOrPool }
      this.pool = new pg.Pool(config)
      this.ownsPool = true
      listenConfig = config
    } else if (isPool(connectionStringOrPool)) {
      this.pool = connectionStringOrPool
      this.ownsPool = false
      listenConfig = connectionStringOrPool.options
    } else {
      throw new ValidationError("PostgresStorageProvider needs a connection string or a pg.Pool")
    }
    // An 'error' event without a listener would crash the process.
    this.pool.on("error", this.onPoolError)
    this.db = new PostgresConnection(this.pool, options.preparedStatements ?? true)
    this.schedules = new PostgresScheduleStore(this.db, this.names, () => this.notify)
    this.events = new PostgresEventStore(this.db, this.names, () => this.notify)
    this.notifier = new WorkNotifier(
      { work: this.names.channel, cancel: this.names.cancelChannel, ended: this.names.endedChannel },
      () => new pg.Client({ ...listenConfig, keepAlive: true, keepAliveInitialDelayMillis: 10_000 }),
      this.logger,
    )
  }

  /**
   * Creates the schema, tables and indexes if missing, or migrates them to
   * this version. Safe to call from many processes at once; cheap once done.
   *
   * @throws Error if the tables were made by a newer durabletasks
   */
  async init(): Promise<void> {
    this.initialized ??= migrate(this.db, this.names).then(
      (kind) => {
        this.notify = this.notifyOption ?? kind !== "cockroachdb"
        this.kind = kind
      },
      (error: unknown) => {
        this.initialized = undefined
        throw error
      },
    )
    return this.initialized
  }

  /** Closes the LISTEN connection and, if the provider created its pool, the pool. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.notifier.close()
    if (this.ownsPool) await this.pool.end()
    this.pool.off("error", this.onPoolError)
  }

  /** Inserts the whole batch in one statement (`ON CONFLICT DO NOTHING`); returns per input whether it was created. */
  insertWorkflowsAndTasks(workflows: NewWorkflow[]): Promise<boolean[]> {
    return insertWorkflowsAndTasks(this.db, this.names, this.notify, workflows)
  }

  /** Picks (`FOR UPDATE SKIP LOCKED`), leases and returns workflows with their tasks, in one statement. */
  claimWorkflows(claim: ClaimRequest): Promise<WorkflowWithTasks[]> {
    return claimWorkflows(this.db, this.names, claim, this.kind)
  }

  /** Extends every lease the token holds on the given workflows, in one statement; returns the renewed IDs. */
  renewLeases(renewal: LeaseRenewal): Promise<string[]> {
    return renewLeases(this.db, this.names, renewal)
  }

  /** Drops the token's leases on the given workflows in one statement, and wakes listeners. */
  releaseLeases(release: LeaseRelease): Promise<void> {
    return releaseLeases(this.db, this.names, this.notify, release)
  }

  /** Applies the fenced updates in order: one statement, or one transaction when a workflow appears more than once. */
  applyWorkflowWrites(writes: WorkflowWrite[]): Promise<boolean[]> {
    return applyWorkflowWrites(this.db, this.names, this.notify, writes)
  }

  /** Reads a workflow with its tasks in one statement, or `null`. */
  getWorkflow(id: string): Promise<WorkflowWithTasks | null> {
    return getWorkflow(this.db, this.names, id)
  }

  /** Lists workflows in byte order of ID (keyset pagination with `afterID`), without tasks. */
  listWorkflows(filter: WorkflowFilter): Promise<WorkflowRow[]> {
    if (usesInspectionFields(filter)) return listFilteredWorkflows(this.db, this.names, filter)
    return listWorkflows(this.db, this.names, filter)
  }

  /** Counts by status, the oldest pending workflow and recent ends, in one statement. */
  getWorkflowStats(request: StatsRequest): Promise<WorkflowStats> {
    return getWorkflowStats(this.db, this.names, request, this.kind)
  }

  /** Counts the workflows that ended in each interval from `since` on, by status. */
  countEndsByInterval(request: EndSeriesRequest): Promise<EndSeriesCount[]> {
    return countEndsByInterval(this.db, this.names, request, this.kind)
  }

  /** Counts the ended workflows of the given statuses last updated before the cutoff. */
  countEndedWorkflows(selector: EndedWorkflowsSelector): Promise<number> {
    return countEndedWorkflows(this.db, this.names, selector, this.kind)
  }

  /** Deletes the ended workflows of the given statuses last updated before the cutoff, with their tasks, in one statement. */
  deleteEndedWorkflowsByStatus(selector: EndedWorkflowsSelector): Promise<number> {
    return deleteEndedWorkflowsByStatus(this.db, this.names, selector, this.kind)
  }

  /** Cancels a pending workflow, clearing whoever's lease, and notifies the cancel channel; `false` if none is pending with that ID. */
  cancelWorkflow(id: string, now: number): Promise<boolean> {
    return cancelWorkflow(this.db, this.names, this.notify, id, now)
  }

  /** Parks a parent until one of its children ends, in one transaction (see postgres/children.ts). */
  awaitChildren(park: AwaitChildren): Promise<number | null> {
    return awaitChildren(this.db, this.names, this.notify, park)
  }

  /** Reads the given workflows with their tasks in one statement (`id = ANY($1)`). */
  getWorkflows(ids: string[]): Promise<WorkflowWithTasks[]> {
    return getWorkflows(this.db, this.names, ids)
  }

  /** Reads the statuses of the given workflows in one statement (`id = ANY($1)`). */
  getWorkflowStatuses(ids: string[]): Promise<Array<{ id: string; status: WorkflowStatus }>> {
    return getWorkflowStatuses(this.db, this.names, ids)
  }

  /** Resumes a failed workflow from its last failed task, in one statement, and wakes listeners. */
  retryWorkflow(retry: RetryRequest): Promise<boolean> {
    return retryWorkflow(this.db, this.names, this.notify, retry)
  }

  /** Deletes ended workflows last updated before `endedBefore`, with their tasks, in one statement. */
  deleteEndedWorkflows(endedBefore: number): Promise<number> {
    return deleteEndedWorkflows(this.db, this.names, endedBefore, this.kind)
  }

  /**
   * Calls `listener` when another process (or this one) inserts claimable
   * work, releases leases, releases a workflow for an immediate retry, or
   * resumes a failed workflow; and once after the LISTEN connection is
   * restored, since notifications may have been missed. The first listener
   * opens a dedicated connection (outside the pool); the last unsubscribe
   * closes it. With `notifications: false` the listener is never called.
   */
  onWorkAvailable(listener: () => void): () => void {
    if (!this.notify || this.closed) return () => {}
    return this.notifier.subscribe(listener)
  }

  /**
   * Calls `listener` with the ID of each workflow cancelled by any process on
   * this store (LISTEN on the cancel channel, on the same dedicated connection
   * as `onWorkAvailable`), so the runner executing it stops its task at once.
   * With `notifications: false` the listener is never called; runners then
   * find cancels by polling `getWorkflowStatuses`.
   */
  onWorkflowsCancelled(listener: (ids: string[]) => void): () => void {
    if (!this.notify || this.closed) return () => {}
    return this.notifier.subscribeCancels(listener)
  }

  /**
   * Calls `listener` when workflows end (complete or fail) in any process on
   * this store: every batch of updates that ends one notifies the ended
   * channel once. Waiters of results read storage at once instead of at their
   * next poll. Cancels are told through {@link onWorkflowsCancelled}.
   */
  onWorkflowsEnded(listener: () => void): () => void {
    if (!this.notify || this.closed) return () => {}
    return this.notifier.subscribeEnded(listener)
  }
}

function isPool(value: unknown): value is pg.Pool {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { connect?: unknown }).connect === "function" &&
    typeof (value as { query?: unknown }).query === "function" &&
    typeof (value as { options?: unknown }).options === "object"
  )
}
