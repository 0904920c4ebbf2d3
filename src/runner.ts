/**
 * The WorkflowRunner: adds workflows, claims and leases them, runs them within
 * a concurrency limit, keeps its leases alive, and answers questions about
 * stored workflows.
 */
import { randomUUID } from "node:crypto"
import { EventEmitter } from "node:events"
import { RunnerStoppedError, StorageError, ValidationError } from "./errors.js"
import type { RunnerEventMap } from "./events.js"
import { executeWorkflow, type ExecutionEnd, type ExecutionEnvironment } from "./execute.js"
import { GroupCommitter } from "./group-commit.js"
import { SuspectLane, executeSuspect, isSuspect } from "./crash-loop.js"
import { toWorkflowInfo, toWorkflowSummary, type WorkflowInfo, type WorkflowSummary } from "./info.js"
import { errorMessage, type Logger } from "./logger.js"
import type {
  NewWorkflow,
  StorageProvider,
  TaskStatusUpdate,
  WorkflowStatus,
  WorkflowWithTasks,
} from "./storage/provider.js"
import { WORKFLOW_STATUSES } from "./storage/provider.js"
import { newWorkflowRows } from "./storage/rows.js"
import { StorageHealth } from "./storage-health.js"
import type { RetryPolicy, SpawnWorkflowInput, SpawnedWorkflow, TaskRunner } from "./task.js"
import {
  validatePositiveNumber,
  validateRetryPolicy,
  validateTaskRunners,
  validateWorkflowID,
  validateWorkflowInput,
} from "./validate.js"

/** The loosest TaskRunner type: every typed runner is one. */
export type AnyTaskRunner = TaskRunner<unknown, unknown, string, unknown>

/** A task entry of `addWorkflow`, typed by the runners a WorkflowRunner has. */
export type TaskSpec<R extends AnyTaskRunner> = R extends TaskRunner<infer In, unknown, infer N, unknown>
  ? { task: N } & (undefined extends In ? { data?: In } : { data: In })
  : never

/** Input of {@link WorkflowRunner.addWorkflow}. */
export interface WorkflowInput<R extends AnyTaskRunner = AnyTaskRunner> {
  /** Unique ID; a random UUID when omitted. Adding an existing ID changes nothing. */
  workflowID?: string
  /** The tasks, run in the order given; each key is the task's label. */
  tasks: Record<string, TaskSpec<R>>
}

/** What `addWorkflow` returns once the workflow is durably stored. */
export interface WorkflowHandle {
  /** The workflow's ID. */
  readonly id: string
  /** `true` if this call created it, `false` if a workflow with this ID existed (it was left unchanged). */
  readonly created: boolean
  /** Waits until the workflow has ended (completed, failed or cancelled) and returns it. */
  result(): Promise<WorkflowInfo>
}

/** Options of a {@link WorkflowRunner}. */
export interface WorkflowRunnerOptions<Runners extends readonly AnyTaskRunner[] = readonly AnyTaskRunner[]> {
  /** The task runners this process can execute. Names must be unique. */
  taskRunners: Runners
  /** Where workflows are stored. */
  storageProvider: StorageProvider
  /** Delay before retrying a task that threw an unexpected error. Default 5,000 ms. */
  retryDelayMS?: number
  /** Default retry policy for runners without their own. Default: fixed `retryDelayMS`, unlimited attempts. */
  retry?: RetryPolicy
  /** Where to log; nothing is logged without one. */
  logger?: Logger
  /**
   * This runner's identity in leases. Default `"local"`. Runners sharing one
   * store need distinct IDs; a restart with the same ID takes back its
   * earlier life's workflows at once.
   */
  runnerID?: string
  /** How long a lease lasts without renewal. Default 30,000 ms. */
  leaseMS?: number
  /** How often leases are renewed. Default `leaseMS / 3`. */
  heartbeatMS?: number
  /** Most workflows executed at once by this process. Default 100. */
  concurrency?: number
  /** How often storage is polled for claimable work (retries due, expired leases). Default 1,000 ms. */
  pollIntervalMS?: number
  /** Largest JSON of a task's data or result, in bytes. Default 1 MiB. */
  maxPayloadBytes?: number
  /**
   * When set, ended workflows whose last change is older than this are
   * deleted periodically. Pending workflows are never deleted.
   */
  retentionMS?: number
  /**
   * Crash-loop protection: a workflow taken over twice in a row from a runner
   * that died (or lost its lease) with no progress between runs its next task
   * on its own, and is failed after its runner has died this many times while
   * that task ran. Stops a task that calls `process.exit`, throws where
   * nothing catches, or runs out of memory from taking runners down forever.
   * `retryWorkflow` runs it again. Default 5; `Infinity` turns it off.
   */
  maxCrashes?: number
  /** The clock, for tests. Default `Date.now`. */
  clock?: () => number
}

/** Options of {@link WorkflowRunner.stop}. */
export interface StopOptions {
  /** How long in-flight tasks may take to finish before their signals fire. Default 10,000 ms. */
  timeoutMS?: number
  /** Close the storage provider once stopped. Default `true`. */
  closeStorage?: boolean
}

interface ActiveWorkflow {
  controller: AbortController
  leaseExpiresAt: number
  done: Promise<void>
  /**
   * Set when this process claimed the workflow again while this execution
   * still ran (its lease had lapsed, so another runner may have written
   * meanwhile). The lease token is the same, so storage cannot fence this
   * execution: the runner refuses its writes instead.
   */
  superseded: boolean
  /** Set when a renewal found the lease gone (taken over, cancelled, deleted): reported as `leaseLost` when the execution ends. */
  leaseLost: boolean
}

/** A fenced write of one execution, refused locally if that execution may no longer own the workflow. */
interface ExecutionWrite {
  update: TaskStatusUpdate
  owned(): boolean
}

/** Filter of {@link WorkflowRunner.listWorkflows}. */
export interface ListWorkflowsFilter {
  status?: WorkflowStatus
  /** Continue after this ID (the last ID of the previous page). */
  afterID?: string
  /** Page size, 1 to 1,000. Default 100. */
  limit?: number
}

const STORAGE_BACKOFF_MIN_MS = 50
const STORAGE_BACKOFF_MAX_MS = 5_000
const PREPARED_CACHE_LIMIT = 10_000
const WAITERS_POLLED_PER_TICK = 200

/**
 * Runs durable workflows.
 *
 * @typeParam Runners - the task runners it was given; makes `addWorkflow` check each task's runner name and `data`
 */
export class WorkflowRunner<const Runners extends readonly AnyTaskRunner[] = readonly AnyTaskRunner[]> extends EventEmitter<RunnerEventMap> {
  /** This runner's identity in leases. */
  readonly runnerID: string
  /** This process life's lease token (the fence). */
  readonly token = randomUUID()

  private readonly storage: StorageProvider
  private readonly runners: Map<string, TaskRunner>
  private readonly logger: Logger
  private readonly retryDelayMS: number
  private readonly defaultRetry: RetryPolicy | undefined
  private readonly leaseMS: number
  private readonly heartbeatMS: number
  /** The lease guard fires a task's signal this long before its lease, as last renewed, expires. */
  private readonly leaseMargin: number
  private readonly concurrency: number
  private readonly pollIntervalMS: number
  private readonly maxPayloadBytes: number
  private readonly retentionMS: number | undefined
  private readonly maxCrashes: number
  private readonly suspects: SuspectLane
  private readonly now: () => number

  private readonly active = new Map<string, ActiveWorkflow>()
  private readonly prepared = new Map<string, Map<string, unknown>>()
  private readonly waiters = new Map<string, Array<{ resolve: (info: WorkflowInfo) => void; reject: (e: unknown) => void }>>()
  private readonly inserts: GroupCommitter<NewWorkflow, boolean>
  private readonly updates: GroupCommitter<ExecutionWrite, boolean>
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly environment: ExecutionEnvironment
  private initialized: Promise<void> | undefined
  private started = false
  private stopping = false
  private reserved = 0
  private filling = false
  private refillRequested = false
  private wakeAt = Infinity
  private wakeTimer: NodeJS.Timeout | undefined
  private guardAt = Infinity
  private guardTimer: NodeJS.Timeout | undefined
  private heartbeatInFlight = false
  private renewalFailing = false
  private claimsPausedUntil = 0
  private readonly storageHealth: StorageHealth
  /** Until when claims also take leases held by this runnerID under another token (an earlier life's). */
  private reclaimOwnUntil = 0
  private unsubscribe: (() => void) | undefined

  constructor(options: WorkflowRunnerOptions<Runners>) {
    super()
    if (typeof options !== "object" || options === null) throw new ValidationError("WorkflowRunner needs an options object")
    const storage = options.storageProvider as StorageProvider | undefined
    if (!storage || typeof storage.insertWorkflowsAndTasks !== "function") {
      throw new ValidationError("storageProvider is required: for example new SQLiteStorageProvider(\"workflows.sqlite\")")
    }
    this.storage = storage
    this.runners = validateTaskRunners(options.taskRunners)
    this.logger = options.logger ?? {}
    this.retryDelayMS = validatePositiveNumber(options.retryDelayMS ?? 5_000, "retryDelayMS", { allowZero: true })
    this.defaultRetry = validateRetryPolicy(options.retry, "retry")
    this.runnerID = validateWorkflowID(options.runnerID ?? "local", "runnerID")
    this.leaseMS = validatePositiveNumber(options.leaseMS ?? 30_000, "leaseMS")
    this.heartbeatMS = validatePositiveNumber(options.heartbeatMS ?? this.leaseMS / 3, "heartbeatMS")
    if (this.heartbeatMS >= this.leaseMS) {
      throw new ValidationError(`heartbeatMS (${this.heartbeatMS}) must be less than leaseMS (${this.leaseMS}), or leases lapse between renewals`)
    }
    this.leaseMargin = Math.min(this.heartbeatMS, this.leaseMS - this.heartbeatMS) / 2
    this.concurrency = validatePositiveNumber(options.concurrency ?? 100, "concurrency", { integer: true })
    this.pollIntervalMS = validatePositiveNumber(options.pollIntervalMS ?? 1_000, "pollIntervalMS")
    this.maxPayloadBytes = validatePositiveNumber(options.maxPayloadBytes ?? 1_048_576, "maxPayloadBytes", { integer: true })
    this.retentionMS =
      options.retentionMS === undefined ? undefined : validatePositiveNumber(options.retentionMS, "retentionMS")
    this.suspects = new SuspectLane(this.leaseMS)
    this.maxCrashes =
      options.maxCrashes === Infinity ? Infinity : validatePositiveNumber(options.maxCrashes ?? 5, "maxCrashes", { integer: true })
    if (options.clock !== undefined && typeof options.clock !== "function") throw new ValidationError("clock must be a function")
    this.now = options.clock ?? Date.now
    this.storageHealth = new StorageHealth(this.logger, this.now)

    const maxInFlight = storage.writeBatchesInFlight ?? 1
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
      throw new ValidationError(`storageProvider.writeBatchesInFlight must be an integer >= 1, got ${String(maxInFlight)}`)
    }
    this.inserts = new GroupCommitter((batch) => this.storage.insertWorkflowsAndTasks(batch), { maxInFlight, keyOf: (w) => w.id })
    this.updates = new GroupCommitter((batch) => this.writeOwned(batch), { maxInFlight, keyOf: (w) => w.update.workflowID })
    this.environment = {
      runners: this.runners,
      token: this.token,
      logger: this.logger,
      maxPayloadBytes: this.maxPayloadBytes,
      retryDelayMS: this.retryDelayMS,
      defaultRetry: this.defaultRetry,
      now: this.now,
      commit: (update) => this.commitUpdate({ update, owned: () => true }),
      preparedFor: (id) => this.preparedFor(id),
      addWorkflow: (input) => this.spawn(input),
      emit: (event, ...args) => (this.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args),
      listening: (event) => this.listenerCount(event) > 0,
      mayStartTask: () => !this.stopping,
    }
  }

  /**
   * Starts executing: claims every pending workflow this `runnerID` held in an
   * earlier life and every one whose lease expired, then keeps polling for
   * claimable work. Until it is called the runner executes nothing. Calling
   * it again does nothing.
   */
  async recover(): Promise<void> {
    if (this.stopping) throw new RunnerStoppedError("this runner was stopped; create a new WorkflowRunner")
    await this.init()
    if (this.started) return
    this.started = true
    // An earlier life's leases run out within leaseMS of its death, so taking them early only matters that long;
    // past it, reclaiming would only steal from a live runner that shares our runnerID.
    this.reclaimOwnUntil = this.now() + this.leaseMS
    this.unsubscribe = this.storage.onWorkAvailable?.(() => this.requestFill())
    this.every(this.heartbeatMS, () => this.heartbeat())
    this.every(this.pollIntervalMS, () => {
      this.requestFill()
      void this.pollWaiters()
    })
    if (this.retentionMS !== undefined) {
      const retentionMS = this.retentionMS
      this.every(Math.min(Math.max(retentionMS / 10, 1_000), 3_600_000), () => void this.deleteEndedWorkflows(retentionMS).catch(() => {}))
    }
    await this.fill()
  }

  /**
   * Durably stores a workflow and all its tasks in one atomic write, then
   * returns. If this runner has a free slot it starts the workflow at once.
   *
   * @throws ValidationError / SerializationError for bad input (nothing written)
   * @throws StorageError if storage failed (the workflow may or may not exist; adding again is safe)
   */
  async addWorkflow(input: WorkflowInput<Runners[number]>): Promise<WorkflowHandle> {
    if (this.stopping) throw new RunnerStoppedError("this runner was stopped; it accepts no new workflows")
    const valid = validateWorkflowInput(input, (name) => this.runners.has(name), this.maxPayloadBytes)
    await this.init()
    const id = valid.id ?? randomUUID()
    const now = this.now()
    const claimNow = this.started && !this.stopping && this.freeSlots() > 0
    const workflow: NewWorkflow = { id, now, tasks: valid.tasks }
    if (claimNow) {
      this.reserved++
      workflow.lease = { owner: this.runnerID, token: this.token, expiresAt: now + this.leaseMS }
    }
    let created: boolean
    try {
      created = await this.inserts.submit(workflow)
    } catch (error) {
      if (claimNow) {
        await this.releaseOrphanedLease(id)
        this.reserved--
      }
      throw new StorageError(`could not store workflow "${id}": ${errorMessage(error)}`, { cause: error })
    }
    if (claimNow) {
      this.reserved--
      if (created && this.stopping) await this.release([id])
      else if (created) this.startExecution(newWorkflowRows(workflow))
    }
    return { id, created, result: () => this.waitForEnd(id) }
  }

  /** Reads a workflow and its tasks, or `null` if there is none. */
  async getWorkflow(id: string): Promise<WorkflowInfo | null> {
    validateWorkflowID(id)
    await this.init()
    const stored = await this.storage.getWorkflow(id)
    return stored ? toWorkflowInfo(stored) : null
  }

  /** Lists workflows in ID order, a page at a time. */
  async listWorkflows(filter: ListWorkflowsFilter = {}): Promise<WorkflowSummary[]> {
    if (typeof filter !== "object" || filter === null) throw new ValidationError("listWorkflows takes a filter object")
    if (filter.status !== undefined && !WORKFLOW_STATUSES.includes(filter.status)) {
      throw new ValidationError(`status must be one of ${WORKFLOW_STATUSES.join(", ")}, got ${JSON.stringify(filter.status)}`)
    }
    if (filter.afterID !== undefined) validateWorkflowID(filter.afterID, "afterID")
    const limit = validatePositiveNumber(filter.limit ?? 100, "limit", { integer: true })
    if (limit > 1_000) throw new ValidationError(`limit must be at most 1000, got ${limit}`)
    await this.init()
    const rows = await this.storage.listWorkflows({ status: filter.status, afterID: filter.afterID, limit })
    return rows.map(toWorkflowSummary)
  }

  /**
   * Cancels a pending workflow wherever it runs: it becomes `cancelled`, its
   * running task's signal fires, and no further task starts. Returns `false`
   * if there is no pending workflow with that ID.
   */
  async cancelWorkflow(id: string): Promise<boolean> {
    validateWorkflowID(id)
    await this.init()
    const cancelled = await this.storage.cancelWorkflow(id, this.now())
    if (cancelled) {
      this.active.get(id)?.controller.abort(new Error("workflow cancelled"))
      this.emit("workflowEnded", { workflowID: id, status: "cancelled" })
      void this.resolveWaiters(id)
    }
    return cancelled
  }

  /**
   * Resumes a failed workflow from the task that failed (its attempts start
   * again from 0). Returns `false` if there is no failed workflow with that ID.
   */
  async retryWorkflow(id: string): Promise<boolean> {
    validateWorkflowID(id)
    await this.init()
    const resumed = await this.storage.retryWorkflow(id, this.now())
    if (resumed) this.requestFill()
    return resumed
  }

  /** Deletes ended workflows whose last change is older than `olderThanMS`; returns how many. Pending ones are kept. */
  async deleteEndedWorkflows(olderThanMS: number): Promise<number> {
    validatePositiveNumber(olderThanMS, "olderThanMS", { allowZero: true })
    await this.init()
    return this.storage.deleteEndedWorkflows(this.now() - olderThanMS)
  }

  /**
   * Stops gracefully: claims nothing more, lets in-flight tasks finish (firing
   * their signals after `timeoutMS`), releases the leases of unfinished
   * workflows so other runners can take them at once, and closes storage.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    const timeoutMS = validatePositiveNumber(options.timeoutMS ?? 10_000, "timeoutMS", { allowZero: true })
    if (this.stopping) return
    this.stopping = true
    for (const timer of this.timers) clearInterval(timer)
    this.timers.clear()
    clearTimeout(this.wakeTimer)
    this.unsubscribe?.()
    const grace = setTimeout(() => {
      for (const a of this.active.values()) a.controller.abort(new RunnerStoppedError("runner stopping"))
    }, timeoutMS)
    // Executions, claims and writes already under way finish (or release their leases) before storage closes.
    while (this.active.size > 0 || this.reserved > 0 || this.filling || !this.inserts.idle || !this.updates.idle) {
      if (this.active.size > 0) await Promise.all([...this.active.values()].map((a) => a.done))
      else await sleep(5)
    }
    clearTimeout(grace)
    clearTimeout(this.guardTimer)
    for (const list of this.waiters.values()) {
      for (const waiter of list) waiter.reject(new RunnerStoppedError("runner stopped before the workflow ended"))
    }
    this.waiters.clear()
    if (options.closeStorage ?? true) await this.storage.close()
  }

  // ---- claiming and executing -------------------------------------------

  private init(): Promise<void> {
    this.initialized ??= this.storage.init().catch((error: unknown) => {
      this.initialized = undefined
      throw new StorageError(`storage init failed: ${errorMessage(error)}`, { cause: error })
    })
    return this.initialized
  }

  private freeSlots(): number {
    return this.concurrency - this.active.size - this.reserved
  }

  private requestFill(): void {
    if (this.filling) this.refillRequested = true
    else void this.fill()
  }

  /** Claims work until the concurrency limit is reached or nothing is claimable. */
  private async fill(): Promise<void> {
    if (!this.started || this.stopping || this.now() < this.claimsPausedUntil) return
    if (this.filling) {
      this.refillRequested = true
      return
    }
    this.filling = true
    try {
      do {
        this.refillRequested = false
        for (;;) {
          const free = this.freeSlots()
          if (free <= 0 || this.stopping) break
          const now = this.now()
          const claimed = await this.storage.claimWorkflows({
            lease: { owner: this.runnerID, token: this.token, expiresAt: now + this.leaseMS },
            now,
            limit: free,
            reclaimOwn: now < this.reclaimOwnUntil,
          })
          this.storageRecovered("claimWorkflows")
          for (const workflow of claimed) {
            if (this.stopping) {
              await this.release([workflow.workflow.id])
              continue
            }
            this.startExecution(workflow)
          }
          if (claimed.length < free) break
        }
      } while (this.refillRequested && !this.stopping)
    } catch (error) {
      this.storageFailed("claimWorkflows", error)
    } finally {
      this.filling = false
    }
  }

  private startExecution(claimed: WorkflowWithTasks): void {
    const id = claimed.workflow.id
    const running = this.active.get(id)
    if (running) {
      // Claimed again while still running here: the old execution's lease lapsed and another runner may
      // have recorded results since. Stop it, refuse its writes, and start afresh from what was claimed.
      running.superseded = true
      running.controller.abort(new Error("lease lapsed; the workflow was claimed again"))
      void running.done.then(() => {
        if (this.stopping) return this.release([id])
        this.startExecution(claimed)
      })
      return
    }
    const controller = new AbortController()
    const entry: ActiveWorkflow = { controller, leaseExpiresAt: claimed.workflow.availableAt, done: Promise.resolve(), superseded: false, leaseLost: false }
    // Writes stop a little before the lease as last renewed ends: past it, another runner may own the workflow.
    const owned = () => !entry.superseded && entry.leaseExpiresAt - this.leaseMargin / 2 > this.now()
    // Inherits the shared environment rather than copying it for each workflow.
    const environment: ExecutionEnvironment = Object.create(this.environment) as ExecutionEnvironment
    environment.commit = (update) => this.commitUpdate({ update, owned })
    environment.mayStartTask = () => !this.stopping && entry.leaseExpiresAt - this.heartbeatMS > this.now()
    this.active.set(id, entry)
    this.armLeaseGuard(entry.leaseExpiresAt - this.leaseMargin)
    const execution = isSuspect(claimed, this.maxCrashes)
      ? executeSuspect(environment, claimed, controller.signal, this.suspects, this.maxCrashes, executeWorkflow)
      : executeWorkflow(environment, claimed, controller.signal)
    entry.done = execution
      .then((end) => this.finishExecution(id, end))
      .catch((error: unknown) => {
        this.logger.error?.(`workflow execution failed unexpectedly: ${errorMessage(error)}`, { workflowID: id })
        this.prepared.delete(id)
      })
      .finally(() => {
        this.active.delete(id)
        if (!this.stopping) this.requestFill()
      })
  }

  private async finishExecution(id: string, end: ExecutionEnd): Promise<void> {
    switch (end.kind) {
      case "ended":
        this.prepared.delete(id)
        this.emit("workflowEnded", { workflowID: id, status: end.status })
        if (this.waiters.has(id)) void this.resolveWaiters(id)
        return
      case "retryAt":
        this.scheduleWake(end.at)
        return
      case "fenced":
        this.prepared.delete(id)
        await this.reportLostLease(id)
        return
      case "interrupted":
        this.prepared.delete(id)
        // A renewal found the lease gone: there is nothing to release; say why it was lost.
        if (this.active.get(id)?.leaseLost) return this.reportLostLease(id)
        // Its task has stopped: whoever may run the workflow next (this runner too) need not wait for the lease to expire.
        // A superseded execution leaves the lease alone: it belongs to the execution that replaces it.
        if (!this.active.get(id)?.superseded) await this.release([id])
        return
    }
  }

  /**
   * After an insert that failed but may have happened all the same (its reply
   * was lost), the workflow may be stored leased to this runner with nobody
   * executing it: release that lease, so it need not wait for it to expire.
   * A workflow this runner executes is left alone (an earlier add stored it).
   */
  private async releaseOrphanedLease(id: string): Promise<void> {
    if (this.active.has(id)) return
    await this.release([id])
    this.requestFill()
  }

  private async release(ids: string[]): Promise<void> {
    try {
      await this.storage.releaseLeases({ token: this.token, workflowIDs: ids, availableAt: this.now() })
    } catch (error) {
      // The leases expire by themselves; nothing is lost.
      this.storageFailed("releaseLeases", error)
    }
  }

  /** Finds out why a write was fenced off, and says so. */
  private async reportLostLease(id: string): Promise<void> {
    let reason = "another runner took the workflow"
    try {
      const stored = await this.storage.getWorkflow(id)
      if (!stored) reason = "the workflow was deleted"
      else if (stored.workflow.status !== "pending") {
        reason = `the workflow is ${stored.workflow.status}`
        void this.resolveWaiters(id)
      } else if (stored.workflow.leaseOwner === this.runnerID && stored.workflow.leaseToken !== this.token) {
        reason = `another live runner uses the same runnerID "${this.runnerID}"`
        this.reclaimOwnUntil = 0
        this.logger.error?.(
          `two live runners share runnerID "${this.runnerID}": give each process its own runnerID (fencing kept state safe)`,
          { workflowID: id },
        )
      }
    } catch {
      // Reading why is best effort.
    }
    this.logger.warn?.(`lost the lease of workflow "${id}": ${reason}; dropping it here`, { workflowID: id })
    this.emit("leaseLost", { workflowID: id, reason })
  }

  private scheduleWake(at: number): void {
    if (this.stopping || at >= this.wakeAt) return
    clearTimeout(this.wakeTimer)
    this.wakeAt = at
    this.wakeTimer = setTimeout(() => {
      this.wakeAt = Infinity
      this.wakeTimer = undefined
      this.requestFill()
    }, Math.max(0, at - this.now()))
  }

  /** Renews every lease this process holds in one write; fires the signal of any it lost. */
  private async heartbeat(): Promise<void> {
    this.guardLeases()
    // One renewal at a time: while one hangs, the lease guard stops what would outlive its lease.
    if (this.heartbeatInFlight) this.renewalFailing = true
    if (this.active.size === 0 || this.heartbeatInFlight) return
    const ids = [...this.active.keys()]
    const now = this.now()
    const expiresAt = now + this.leaseMS
    this.heartbeatInFlight = true
    try {
      const renewed = new Set(await this.storage.renewLeases({ token: this.token, workflowIDs: ids, expiresAt }))
      this.storageRecovered("renewLeases")
      this.renewalFailing = false
      this.claimsPausedUntil = 0
      for (const id of ids) {
        const entry = this.active.get(id)
        if (!entry) continue
        if (renewed.has(id)) entry.leaseExpiresAt = expiresAt
        else {
          entry.leaseLost = true
          entry.controller.abort(new Error("lease lost"))
        }
      }
    } catch (error) {
      // The lease guard fires the signals of executions whose leases would run out before a renewal succeeds.
      this.renewalFailing = true
      this.storageFailed("renewLeases", error)
    } finally {
      this.heartbeatInFlight = false
    }
  }

  /**
   * The lease guard: fires the signal of every execution whose lease, as last
   * renewed in storage, ends within `leaseMargin`, so that its task stops
   * before another runner may take the workflow. Renewals that fail or hang
   * just stop moving the deadline.
   */
  private guardLeases(): void {
    const now = this.now()
    for (const entry of this.active.values()) {
      const abortAt = entry.leaseExpiresAt - this.leaseMargin
      if (abortAt > now) this.armLeaseGuard(abortAt)
      else if (!entry.controller.signal.aborted) {
        entry.controller.abort(new Error("lease about to expire: it could not be renewed"))
        if (this.renewalFailing && now >= this.claimsPausedUntil) {
          // A runner that cannot keep leases would take the work back and lose it again: leave it to healthy runners for a lease.
          this.claimsPausedUntil = now + this.leaseMS
          this.logger.warn?.(`lease renewals are failing: stopped tasks whose leases could not be renewed; claiming nothing for ${this.leaseMS} ms`)
        }
      }
    }
  }

  private armLeaseGuard(at: number): void {
    if (at >= this.guardAt) return
    clearTimeout(this.guardTimer)
    this.guardAt = at
    this.guardTimer = setTimeout(() => {
      this.guardAt = Infinity
      this.guardTimer = undefined
      this.guardLeases()
    }, Math.max(0, at - this.now()))
  }

  /** Group-committed fenced write; storage errors are retried with backoff while this runner runs. */
  private async commitUpdate(write: ExecutionWrite): Promise<boolean> {
    const { update } = write
    for (let failures = 0; ; failures++) {
      // Refused locally: an earlier try whose reply was lost may still have written it.
      if (!write.owned()) return failures > 0 ? await this.alreadyApplied(update) : false
      try {
        const applied = await this.updates.submit(write)
        this.storageRecovered("updateWorkflowTaskStatuses")
        // After a failed try, "fenced off" may mean that try took effect and only its reply was lost.
        if (!applied && failures > 0) return await this.alreadyApplied(update)
        return applied
      } catch (error) {
        this.storageFailed("updateWorkflowTaskStatuses", error)
        if (this.stopping && failures >= 3) throw error
        await sleep(backoff(failures))
      }
    }
  }

  /** Commits a batch of writes; a write whose execution no longer owns its workflow is refused (fenced) unwritten. */
  private async writeOwned(batch: ExecutionWrite[]): Promise<boolean[]> {
    const owned = batch.map((w) => w.owned())
    const toWrite = batch.filter((_, i) => owned[i]).map((w) => w.update)
    const applied = toWrite.length > 0 ? await this.storage.updateWorkflowTaskStatuses(toWrite) : []
    let next = 0
    return owned.map((o) => (o ? (applied[next++] as boolean) : false))
  }

  /** Whether storage already shows `update` (written by an earlier try whose reply was lost). */
  private async alreadyApplied(update: TaskStatusUpdate): Promise<boolean> {
    let stored: WorkflowWithTasks | null
    for (let failures = 0; ; failures++) {
      try {
        stored = await this.storage.getWorkflow(update.workflowID)
        break
      } catch (error) {
        this.storageFailed("getWorkflow", error)
        if (this.stopping && failures >= 3) return false
        await sleep(backoff(failures))
      }
    }
    if (!stored || (update.workflow && stored.workflow.status !== update.workflow.status)) return false
    if (!update.task) return update.workflow !== undefined
    const task = stored.tasks.find((t) => t.seq === update.task!.seq)
    return (
      task !== undefined &&
      task.status === update.task.status &&
      task.attempts === update.task.attempts &&
      task.result === (update.task.result ?? null) &&
      task.error === (update.task.error ?? null)
    )
  }

  private preparedFor(id: string): Map<string, unknown> {
    let cache = this.prepared.get(id)
    if (!cache) {
      if (this.prepared.size >= PREPARED_CACHE_LIMIT) {
        const oldest = this.prepared.keys().next().value
        if (oldest !== undefined) this.prepared.delete(oldest)
      }
      cache = new Map()
      this.prepared.set(id, cache)
    }
    return cache
  }

  private async spawn(input: SpawnWorkflowInput): Promise<SpawnedWorkflow> {
    const handle = await this.addWorkflow(input as WorkflowInput<Runners[number]>)
    return { id: handle.id, created: handle.created }
  }

  // ---- waiting for results ---------------------------------------------

  private waitForEnd(id: string): Promise<WorkflowInfo> {
    return new Promise<WorkflowInfo>((resolve, reject) => {
      if (this.stopping) return reject(new RunnerStoppedError("runner stopped"))
      const list = this.waiters.get(id) ?? []
      list.push({ resolve, reject })
      this.waiters.set(id, list)
      void this.resolveWaiters(id)
    })
  }

  /** Resolves the waiters of `id` if storage says it has ended. */
  private async resolveWaiters(id: string): Promise<void> {
    if (!this.waiters.has(id)) return
    try {
      const stored = await this.storage.getWorkflow(id)
      const list = this.waiters.get(id)
      if (!list) return
      if (!stored) {
        this.waiters.delete(id)
        for (const w of list) w.reject(new ValidationError(`there is no workflow "${id}"`))
      } else if (stored.workflow.status !== "pending") {
        this.waiters.delete(id)
        const info = toWorkflowInfo(stored)
        for (const w of list) w.resolve(info)
      }
    } catch (error) {
      this.storageFailed("getWorkflow", error)
    }
  }

  /**
   * Checks storage for waited-on workflows that end elsewhere (another runner,
   * a cancel from another process). Local ends resolve at once without it, so
   * a bounded number per tick keeps thousands of waiters cheap.
   */
  private async pollWaiters(): Promise<void> {
    let checked = 0
    for (const id of [...this.waiters.keys()]) {
      if (checked >= WAITERS_POLLED_PER_TICK) break
      if (this.active.has(id)) continue
      checked++
      const list = this.waiters.get(id)
      if (!list) continue
      // Rotate: the next tick starts with other IDs.
      this.waiters.delete(id)
      this.waiters.set(id, list)
      await this.resolveWaiters(id)
    }
  }

  // ---- plumbing ----------------------------------------------------------

  private every(ms: number, fn: () => void | Promise<void>): void {
    const timer = setInterval(() => void fn(), ms)
    this.timers.add(timer)
  }

  /** Logged at `error` on the first failure of `operation` and then every 30 s while it goes on (see storage-health.ts). */
  private storageFailed(operation: string, error: unknown): void {
    this.storageHealth.failed(operation, error)
    this.emit("storageError", { operation, error })
  }

  private storageRecovered(operation: string): void {
    this.storageHealth.recovered(operation)
  }
}

function backoff(failures: number): number {
  const cap = Math.min(STORAGE_BACKOFF_MAX_MS, STORAGE_BACKOFF_MIN_MS * 2 ** Math.min(failures, 10))
  return cap / 2 + Math.random() * (cap / 2)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
