/**
 * The WorkflowClient: adds, reads, cancels and retries workflows, and waits
 * for their results, without executing anything. A web server that only
 * starts workflows uses it with no task code at all; the WorkflowRunner
 * builds on it and adds execution.
 */
import { randomUUID } from "node:crypto"
import { RunnerStoppedError, StorageError, ValidationError } from "./errors.js"
import { CallGate } from "./call-gate.js"
import { PROGRESS, resumePoint } from "./engine.js"
import { GroupCommitter } from "./group-commit.js"
import { toWorkflowInfo, toWorkflowSummary, type WorkflowInfo, type WorkflowSummary } from "./info.js"
import { errorMessage, type Logger } from "./logger.js"
import { ResultWaiters } from "./result-waiters.js"
import {
  type DeleteEndedOptions,
  type ListWorkflowsFilter,
  type WorkflowStatsInfo,
  type WorkflowStatsOptions,
  endedStatusesOf,
  statsWindowOf,
  toWorkflowFilter,
} from "./inspection.js"
import { StorageFailureLog } from "./runtime/storage-failure-log.js"
import { sleep } from "./runtime/storage-health.js"
import { planThroughput, toThroughput, type WorkflowThroughput, type WorkflowThroughputOptions } from "./throughput.js"
import type { NewWorkflow, StorageCapability, StorageProvider } from "./storage/provider.js"
import type { EventInfo, SendEventInput, SentEvent } from "./steps/spec.js"
import type { AnyTaskRunner, WorkflowHandle, WorkflowInput } from "./workflow-input.js"
import { EventOperations, type ListEventsFilter } from "./event-operations.js"
import { failedChildrenToRetry } from "./steps/retry-children.js"
import type { ScheduleDefinition } from "./schedules/definition.js"
import type { ScheduleDeclared, ScheduleInfo } from "./schedules/info.js"
import { ScheduleOperations, type ListSchedulesFilter } from "./schedules/operations.js"
import { capabilitiesOf, requireStepCapabilities } from "./storage/capabilities.js"
import { refuseUnknownKeys } from "./known-keys.js"
import { validateLogger, validatePositiveNumber, validateStartTime, validateWorkflowID, validateWorkflowInput } from "./validate.js"

export type { ListWorkflowsFilter } from "./inspection.js"
export type { ListEventsFilter } from "./event-operations.js"
export type { AnyTaskRunner, MemberSpec, NamedStepSpec, NamedTaskSpec, StepSpec, TaskSpec, WorkflowHandle, WorkflowInput } from "./workflow-input.js"

/** What the group commit of inserts tells each add (internal). */
export interface InsertOutcome {
  created: boolean
  /** Committed again after a batch holding it failed (that try may have stored it, its reply lost). */
  afterFailure: boolean
}

/** Options of a {@link WorkflowClient}. */
export interface WorkflowClientOptions {
  /** Where workflows are stored. */
  storageProvider: StorageProvider
  /**
   * Names of the task runners that exist somewhere (in the processes that run
   * workflows). When given, `addWorkflow` refuses a task naming any other;
   * when omitted, any name is accepted, and a task naming a runner nobody has
   * stays pending until a runner that has it runs.
   */
  knownTasks?: readonly string[]
  /** Largest JSON of a task's data, in bytes. Default 1 MiB. Keep it equal to the runners'. */
  maxPayloadBytes?: number
  /** How often `result()` reads storage for workflows that end in other processes. Default 1,000 ms. */
  pollIntervalMS?: number
  /** Where to log storage errors of `result()` polling; nothing is logged without one. */
  logger?: Logger
  /** The clock, for tests. Default `Date.now`. */
  clock?: () => number
}

/** Options of {@link WorkflowClient.close}. */
export interface CloseOptions {
  /** Close the storage provider too. Default `true`. */
  closeStorage?: boolean
}

/** Every key of {@link WorkflowClientOptions}: the compiler checks that none is missing, the constructor refuses others. */
const CLIENT_OPTION_KEYS = Object.keys({
  storageProvider: true,
  knownTasks: true,
  maxPayloadBytes: true,
  pollIntervalMS: true,
  logger: true,
  clock: true,
} satisfies Record<keyof WorkflowClientOptions, true>)

/** Every key of {@link CloseOptions}. */
const CLOSE_OPTION_KEYS = Object.keys({ closeStorage: true } satisfies Record<keyof CloseOptions, true>)

/** What a runner lends the client it builds on (internal). */
interface ClientInternals {
  /** Checks runner names in `addWorkflow`, with a message naming who does not know a runner. */
  isRegistered?: (name: string) => boolean
  registryName?: string
  onStorageError?: (operation: string, error: unknown) => void
  /** Whether a workflow executes in this process (the runner reports its end itself). */
  runsHere?: (id: string) => boolean
}

/**
 * Adds and reads durable workflows without running them.
 *
 * Typed from the runners' types without importing their code:
 * `new WorkflowClient<typeof runners>({ … })` with `import type`, so that
 * `addWorkflow` checks each task's runner name and `data`.
 *
 * @typeParam Runners - the task runners workflows may name (types only)
 */
export class WorkflowClient<const Runners extends readonly AnyTaskRunner[] = readonly AnyTaskRunner[]> {
  /** Where workflows are stored. */
  readonly storage: StorageProvider
  private readonly maxPayloadBytes: number
  private readonly isRegistered: (name: string) => boolean
  private readonly registryName: string
  private readonly now: () => number
  private readonly inserts: GroupCommitter<NewWorkflow, InsertOutcome>
  private readonly waiters: ResultWaiters
  private initialized: Promise<void> | undefined
  private closed = false
  /** Counts public calls under way (storage closes after them) and refuses them once closed. */
  private readonly gate = new CallGate()
  private readonly schedules: ScheduleOperations
  private capabilitiesRead: ReadonlySet<StorageCapability> | undefined
  private readonly events: EventOperations

  constructor(options: WorkflowClientOptions, internals: ClientInternals = {}) {
    if (typeof options !== "object" || options === null) throw new ValidationError("WorkflowClient needs an options object")
    refuseUnknownKeys(options, CLIENT_OPTION_KEYS, "new WorkflowClient")
    const storage = options.storageProvider as StorageProvider | undefined
    if (!storage || typeof storage.insertWorkflowsAndTasks !== "function") {
      throw new ValidationError("storageProvider is required: for example new SQLiteStorageProvider(\"workflows.sqlite\")")
    }
    this.storage = storage
    this.maxPayloadBytes = validatePositiveNumber(options.maxPayloadBytes ?? 1_048_576, "maxPayloadBytes", { integer: true })
    const pollIntervalMS = validatePositiveNumber(options.pollIntervalMS ?? 1_000, "pollIntervalMS")
    if (options.clock !== undefined && typeof options.clock !== "function") throw new ValidationError("clock must be a function")
    this.now = options.clock ?? Date.now
    const logger = validateLogger(options.logger) ?? {}
    if (internals.isRegistered) {
      this.isRegistered = internals.isRegistered
      this.registryName = internals.registryName ?? "this WorkflowRunner"
    } else if (options.knownTasks !== undefined) {
      const known = validateKnownTasks(options.knownTasks)
      this.isRegistered = (name) => known.has(name)
      this.registryName = "this WorkflowClient (knownTasks)"
    } else {
      this.isRegistered = () => true
      this.registryName = "this WorkflowClient (knownTasks)"
    }
    const maxInFlight = storage.writeBatchesInFlight ?? 1
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
      throw new ValidationError(`storageProvider.writeBatchesInFlight must be an integer >= 1, got ${String(maxInFlight)}`)
    }
    // Inserts are idempotent, so a failed batch is committed again in halves: one caller's insert that the store
    // refuses fails that caller alone.
    this.inserts = new GroupCommitter(
      async (batch, afterFailure) => (await this.storage.insertWorkflowsAndTasks(batch)).map((created) => ({ created, afterFailure })),
      { maxInFlight, keyOf: (w) => w.id, isolateFailures: true },
    )
    const failureLog = new StorageFailureLog(logger, this.now)
    const onStorageError = internals.onStorageError ?? ((operation: string, error: unknown) => failureLog.failed(operation, error))
    this.waiters = new ResultWaiters(storage, pollIntervalMS, onStorageError, this.now, internals.runsHere)
    this.events = new EventOperations({ storage, capabilities: () => this.capabilities, now: this.now, maxPayloadBytes: this.maxPayloadBytes })
    this.schedules = new ScheduleOperations({
      storage,
      capabilities: () => this.capabilities,
      now: this.now,
      isRegistered: this.isRegistered,
      registryName: this.registryName,
      maxPayloadBytes: this.maxPayloadBytes,
      init: () => this.init(),
    })
  }

  /**
   * Durably stores a workflow and all its tasks in one atomic write, then
   * returns. A runner with the named task runners executes it.
   *
   * @throws ValidationError / SerializationError for bad input (nothing written)
   * @throws StorageError if storage failed (the workflow may or may not exist; adding again is safe)
   */
  async addWorkflow(input: WorkflowInput<Runners[number]>): Promise<WorkflowHandle> {
    if (this.closed) throw new RunnerStoppedError("this client was closed; it accepts no new workflows")
    return this.gate.run(async () => {
      const workflow = this.prepareWorkflow(input)
      await this.init()
      const { created } = await this.insert(workflow)
      return this.handle(workflow.id, created)
    })
  }

  /** Reads a workflow and its tasks, or `null` if there is none. */
  async getWorkflow(id: string): Promise<WorkflowInfo | null> {
    return this.gate.run(async () => {
      validateWorkflowID(id)
      await this.init()
      const stored = await this.storage.getWorkflow(id)
      return stored ? toWorkflowInfo(stored, this.now()) : null
    })
  }

  /**
   * Lists workflows a page at a time: in ID order (continue with `afterID`),
   * or newest first (`order: "newest"`, continue with `cursor`), optionally
   * filtered by runner name, creation time and ID prefix (those need a
   * provider with the `inspection` capability, as all of this library's have).
   */
  async listWorkflows(filter: ListWorkflowsFilter = {}): Promise<WorkflowSummary[]> {
    return this.gate.run(async () => {
      const storageFilter = toWorkflowFilter(filter, this.storage)
      await this.init()
      const rows = await this.storage.listWorkflows(storageFilter)
      const now = this.now()
      return rows.map((row) => toWorkflowSummary(row, now))
    })
  }

  /**
   * Counts workflows by status, finds the oldest pending one, and counts
   * those that ended within the last `windowMS` (default one hour). Needs a
   * provider with the `inspection` capability.
   */
  async getWorkflowStats(options: WorkflowStatsOptions = {}): Promise<WorkflowStatsInfo> {
    return this.gate.run(async () => {
      const windowMS = statsWindowOf(options, this.storage)
      await this.init()
      const now = this.now()
      const stats = await (this.storage.getWorkflowStats as NonNullable<StorageProvider["getWorkflowStats"]>).call(this.storage, {
        endedSince: now - windowMS,
      })
      const oldest = stats.oldestPending
      return {
        counts: stats.counts,
        oldestPending: oldest ? { id: oldest.id, createdAt: new Date(oldest.createdAt) } : null,
        windowMS,
        endedInWindow: stats.endedSince,
      }
    })
  }

  /**
   * Counts the workflows that ended with each status in each interval of a
   * window (by default each minute of the last hour), oldest first, for a
   * throughput chart. Needs a provider with `inspection` and its
   * `countEndsByInterval` read (all of this library's have both).
   */
  async getWorkflowThroughput(options: WorkflowThroughputOptions = {}): Promise<WorkflowThroughput> {
    return this.gate.run(async () => {
      const plan = planThroughput(options, this.storage, this.now())
      await this.init()
      const counts = await (this.storage.countEndsByInterval as NonNullable<StorageProvider["countEndsByInterval"]>).call(this.storage, {
        since: plan.since,
        intervalMS: plan.intervalMS,
      })
      return toThroughput(plan, counts)
    })
  }

  /**
   * Cancels a pending workflow wherever it runs: it becomes `cancelled`, the
   * runner executing it fires its running task's signal, and no further task
   * starts. Returns `false` if there is no pending workflow with that ID.
   */
  async cancelWorkflow(id: string): Promise<boolean> {
    return this.gate.run(async () => {
      validateWorkflowID(id)
      await this.init()
      const cancelled = await this.storage.cancelWorkflow(id, this.now())
      if (cancelled) this.waiters.ended(id)
      return cancelled
    })
  }

  /**
   * Resumes a failed workflow from the task that failed (its attempts start
   * again from 0). When that step is a child workflow whose child failed
   * (or a member of a parallel step whose child members' children failed),
   * those children are retried too, first. Returns `false` if there is no
   * failed workflow with that ID.
   */
  retryWorkflow(id: string): Promise<boolean> {
    return this.gate.run(() => this.retryFailed(id))
  }

  /** {@link retryWorkflow}, and each failed child it resumes, first. */
  private async retryFailed(id: string): Promise<boolean> {
    validateWorkflowID(id)
    await this.init()
    const stored = await this.storage.getWorkflow(id)
    if (!stored || stored.workflow.status !== "failed") return false
    // The engine picks the task to resume; the provider applies it only if the workflow is still failed.
    const resumeSeq = resumePoint(stored.tasks) ?? -1
    // A resumed child step (or parallel member) whose child failed: the child is retried first (its own too), so the step finds it running.
    for (const child of await failedChildrenToRetry(id, stored.tasks, resumeSeq, async (c) => (await this.storage.getWorkflow(c))?.workflow ?? null)) {
      await this.retryFailed(child)
    }
    return this.storage.retryWorkflow({ id, now: this.now(), resumeSeq, counts: PROGRESS })
  }

  /**
   * Deletes ended workflows whose last change is older than `olderThanMS`
   * (only those with `options.statuses`, if given); returns how many. Pending
   * ones are kept. With `dryRun`, counts them and deletes nothing.
   */
  async deleteEndedWorkflows(olderThanMS: number, options: DeleteEndedOptions = {}): Promise<number> {
    return this.gate.run(async () => {
      validatePositiveNumber(olderThanMS, "olderThanMS", { allowZero: true })
      const { statuses, needsInspection } = endedStatusesOf(options, this.storage)
      await this.init()
      const endedBefore = this.now() - olderThanMS
      if (!needsInspection) return this.storage.deleteEndedWorkflows(endedBefore)
      const storage = this.storage as Required<Pick<StorageProvider, "countEndedWorkflows" | "deleteEndedWorkflowsByStatus">>
      return options.dryRun === true
        ? storage.countEndedWorkflows({ endedBefore, statuses })
        : storage.deleteEndedWorkflowsByStatus({ endedBefore, statuses })
    })
  }

  // ---- events (providers with the "events" capability) ----

  /**
   * Sends an event: stores it and, in the same transaction, wakes every
   * workflow waiting for it (a `waitForEvent` step with its name and key).
   * Idempotent by `eventID`: a second send with the same ID stores and wakes
   * nothing and returns the first one (`created: false`). See the README,
   * Events.
   *
   * @throws ValidationError / SerializationError for bad input (nothing stored)
   * @throws StorageError if storage failed (sending again with the same eventID is safe)
   */
  async sendEvent(input: SendEventInput): Promise<SentEvent> {
    if (this.closed) throw new RunnerStoppedError("this client was closed; it sends no events")
    return this.gate.run(async () => {
      const send = this.events.prepare(input)
      await this.init()
      return send()
    })
  }

  /** Lists stored events, oldest first (continue with `afterSeq`). Needs the `events` capability. */
  listEvents(filter: ListEventsFilter = {}): Promise<EventInfo[]> {
    return this.gate.run(async () => {
      await this.init()
      return this.events.list(filter)
    })
  }

  /** @internal Deletes events sent more than `olderThanMS` ago (event retention). */
  async deleteOldEvents(olderThanMS: number): Promise<number> {
    await this.init()
    return this.events.deleteOlderThan(olderThanMS)
  }

  // ---- schedules (providers with the "schedules" capability) ----

  /**
   * Declares a schedule in storage: creates it, replaces the stored one if
   * its definition differs (the last declaration wins), or leaves it as it
   * is. Every runner sharing the store fires it, each tick exactly once. See
   * the README, Schedules.
   *
   * @throws ValidationError for an invalid cron expression, time zone, policy or task (nothing written), or a provider without schedules
   */
  async schedule(definition: ScheduleDefinition<WorkflowInput<Runners[number]>["tasks"]>): Promise<ScheduleDeclared> {
    return this.gate.run(() => this.schedules.declare(this.schedules.validate(definition)))
  }

  /** Pauses a schedule: it fires nothing until resumed. Returns `false` if there is no schedule with that ID. */
  pauseSchedule(id: string): Promise<boolean> {
    return this.gate.run(() => this.schedules.pause(id))
  }

  /** Resumes a paused schedule from its first tick after now (ticks of the paused time never fire). `false` if there is none. */
  resumeSchedule(id: string): Promise<boolean> {
    return this.gate.run(() => this.schedules.resume(id))
  }

  /**
   * Adds the schedule's workflow now, once (ID `schedule:${id}:${nowISO}`),
   * paused or not; the regular ticks go on. Returns its handle, or `null` if
   * there is no schedule with that ID.
   */
  async triggerSchedule(id: string): Promise<WorkflowHandle | null> {
    return this.gate.run(async () => {
      const fired = await this.schedules.trigger(id)
      return fired ? this.handle(fired.workflowID, fired.created) : null
    })
  }

  /** Deletes a schedule; the workflows it added stay. Returns `false` if there was none. */
  deleteSchedule(id: string): Promise<boolean> {
    return this.gate.run(() => this.schedules.delete(id))
  }

  /** Reads a schedule with its next and last fire times and its last workflow's status, or `null`. */
  getSchedule(id: string): Promise<ScheduleInfo | null> {
    return this.gate.run(() => this.schedules.get(id))
  }

  /** Lists schedules in ID order, a page at a time. */
  listSchedules(filter: ListSchedulesFilter = {}): Promise<ScheduleInfo[]> {
    return this.gate.run(() => this.schedules.list(filter))
  }

  /**
   * Closes the client: waiting `result()` calls reject, later calls are
   * refused, and storage is closed unless `closeStorage` is `false`. Adds
   * under way finish first.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    refuseUnknownKeys(options, CLOSE_OPTION_KEYS, "close")
    if (this.closed) return
    this.closed = true
    await this.endCalls(new RunnerStoppedError("the client was closed before the workflow ended"), "this client was closed")
    while (!this.inserts.idle) await sleep(5)
    if (options.closeStorage ?? true) await this.storage.close()
  }

  // ---- for the WorkflowRunner built on this client (not part of the public API) ----

  /** @internal What the provider can do (read once). */
  get capabilities(): ReadonlySet<StorageCapability> {
    return (this.capabilitiesRead ??= capabilitiesOf(this.storage))
  }

  /** @internal Checks `addWorkflow` input and builds the row to insert (nothing is written). */
  prepareWorkflow(input: WorkflowInput<Runners[number]>): NewWorkflow {
    const valid = validateWorkflowInput(input, this.isRegistered, this.maxPayloadBytes, this.registryName)
    requireStepCapabilities(valid.tasks, this.capabilities)
    const now = this.now()
    const startAt = validateStartTime(input, now)
    const workflow: NewWorkflow = { id: valid.id ?? randomUUID(), now, tasks: valid.tasks }
    if (startAt !== undefined && startAt > now) workflow.availableAt = startAt
    return workflow
  }

  /** @internal Inserts through group commit. Storage errors become StorageErrors. */
  async insert(workflow: NewWorkflow): Promise<InsertOutcome> {
    try {
      return await this.inserts.submit(workflow)
    } catch (error) {
      throw new StorageError(`could not store workflow "${workflow.id}": ${errorMessage(error)}`, { cause: error })
    }
  }

  /** @internal The schedule methods, for the runner (which checks runner names against its own). */
  get scheduleOperations(): ScheduleOperations {
    return this.schedules
  }

  /** @internal The handle of a stored workflow. */
  handle(id: string, created: boolean): WorkflowHandle {
    return { id, created, result: () => this.waiters.wait(id) }
  }

  /** @internal Tells result waiters that `id` ended in this process. */
  ended(id: string): void {
    this.waiters.ended(id)
  }

  /** @internal Runs a call of the runner built on this client (`addWorkflow`, `schedule`) as one of the client's: counted, and refused once calls end. */
  underway<T>(call: () => Promise<T>): Promise<T> {
    return this.gate.run(call)
  }

  /**
   * @internal Ends the public calls before storage closes: every waiting `result()` rejects with `waitersError`,
   * later calls are refused with a RunnerStoppedError saying `refusal`, and this resolves once the calls under way
   * (and the result waiters' reads) have settled.
   */
  async endCalls(waitersError: Error, refusal: string): Promise<void> {
    await this.waiters.close(waitersError)
    await this.gate.close(refusal)
  }

  /** @internal Whether inserts are under way. */
  get insertsIdle(): boolean {
    return this.inserts.idle
  }

  /** @internal Creates tables on first use; a failure is retried by the next call. */
  init(): Promise<void> {
    this.initialized ??= this.storage.init().catch((error: unknown) => {
      this.initialized = undefined
      throw new StorageError(`storage init failed: ${errorMessage(error)}`, { cause: error })
    })
    return this.initialized
  }
}

function validateKnownTasks(names: unknown): Set<string> {
  if (!Array.isArray(names)) throw new ValidationError("knownTasks must be an array of task runner names")
  const known = new Set<string>()
  names.forEach((name: unknown, i) => {
    if (typeof name !== "string" || name === "") throw new ValidationError(`knownTasks[${i}] must be a non-empty string`)
    known.add(name)
  })
  return known
}
