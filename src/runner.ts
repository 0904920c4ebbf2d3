/**
 * The WorkflowRunner: a WorkflowClient that also executes. It wires the
 * runtime's parts together: the claim loop (src/runtime/claim-loop.ts), the
 * lease keeper (lease-keeper.ts), the completer (completer.ts), the executions
 * of this process (executions.ts), one
 * workflow's execution (execution.ts, wrapped by crash-loop.ts),
 * and background services (src/services/).
 */
import { randomUUID } from "node:crypto"
import { EventEmitter } from "node:events"
import {
  WorkflowClient,
  type AnyTaskRunner,
  type InsertOutcome,
  type ListWorkflowsFilter,
  type WorkflowHandle,
  type WorkflowInput,
} from "./client.js"
import { RunnerStoppedError, ValidationError } from "./errors.js"
import type { RunnerEventMap } from "./events.js"
import type { ExecutionEnvironment } from "./runtime/execution.js"
import { childOperations } from "./steps/child.js"
import type { WorkflowInfo, WorkflowSummary } from "./info.js"
import type { Logger } from "./logger.js"
import { CancelWatcher } from "./runtime/cancel-watcher.js"
import { ClaimLoop } from "./runtime/claim-loop.js"
import { Executions } from "./runtime/executions.js"
import { Completer } from "./runtime/completer.js"
import { LeaseKeeper, type ActiveExecution } from "./runtime/lease-keeper.js"
import { StorageFailureLog } from "./runtime/storage-failure-log.js"
import { sleep, type StorageHealth } from "./runtime/storage-health.js"
import { RetentionService } from "./services/retention.js"
import { SchedulerService } from "./services/scheduler.js"
import type { ScheduleDefinition } from "./schedules/definition.js"
import type { ScheduleDeclared, ScheduleInfo } from "./schedules/info.js"
import type { ListSchedulesFilter } from "./schedules/operations.js"
import type { ScheduleStep } from "./schedules/plan.js"
import { capabilitiesOf, requireCapability } from "./storage/capabilities.js"
import type { Service } from "./services/service.js"
import type { StorageProvider } from "./storage/provider.js"
import { newWorkflowRows } from "./storage/rows.js"
import type { SpawnWorkflowInput, SpawnedWorkflow, TaskRunner } from "./task.js"
import type { EventInfo, SendEventInput, SentEvent } from "./steps/spec.js"
import type { ListEventsFilter } from "./event-operations.js"
import { RUNNER_OPTION_KEYS, STOP_OPTION_KEYS, type StopOptions, type WorkflowRunnerOptions } from "./runner-options.js"
import { refuseUnknownKeys } from "./known-keys.js"
import { validateLogger, validatePositiveNumber, validateRetryPolicy, validateTaskRunners, validateWorkflowID } from "./validate.js"

export type { AnyTaskRunner, ListWorkflowsFilter, NamedTaskSpec, TaskSpec, WorkflowHandle, WorkflowInput } from "./client.js"
export type { StopOptions, WorkflowRunnerOptions } from "./runner-options.js"

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

  /** Adds, reads and waits for results: everything but execution. */
  private readonly client: WorkflowClient<Runners>
  private readonly health: StorageHealth
  private readonly leases: LeaseKeeper
  private readonly claims: ClaimLoop
  private readonly completer: Completer
  private readonly services: Service[] = []
  private readonly active = new Map<string, ActiveExecution>()
  private readonly executions: Executions
  private readonly environment: ExecutionEnvironment
  private stopping = false
  /** Fires due schedules (absent when the provider has no `schedules` capability). */
  private readonly scheduler: SchedulerService | undefined
  /** The definition hash of each schedule this runner declared, to report another runner's different one. */
  private readonly declaredSchedules = new Map<string, string>()
  /** Says at `error`, first and then every 30 s, which storage call keeps failing and what to check. */
  private readonly failureLog: StorageFailureLog

  constructor(options: WorkflowRunnerOptions<Runners>) {
    super()
    if (typeof options !== "object" || options === null) throw new ValidationError("WorkflowRunner needs an options object")
    refuseUnknownKeys(options, RUNNER_OPTION_KEYS, "new WorkflowRunner")
    const storage = options.storageProvider as StorageProvider | undefined
    if (!storage || typeof storage.insertWorkflowsAndTasks !== "function") {
      throw new ValidationError("storageProvider is required: for example new SQLiteStorageProvider(\"workflows.sqlite\")")
    }
    this.storage = storage
    this.runners = validateTaskRunners(options.taskRunners)
    this.logger = validateLogger(options.logger) ?? {}
    const retryDelayMS = validatePositiveNumber(options.retryDelayMS ?? 5_000, "retryDelayMS", { allowZero: true })
    const defaultRetry = validateRetryPolicy(options.retry, "retry")
    this.runnerID = validateWorkflowID(options.runnerID ?? "local", "runnerID")
    const leaseMS = validatePositiveNumber(options.leaseMS ?? 30_000, "leaseMS")
    const heartbeatMS = validatePositiveNumber(options.heartbeatMS ?? leaseMS / 3, "heartbeatMS")
    if (heartbeatMS >= leaseMS) {
      throw new ValidationError(`heartbeatMS (${heartbeatMS}) must be less than leaseMS (${leaseMS}), or leases lapse between renewals`)
    }
    const concurrency = validatePositiveNumber(options.concurrency ?? 100, "concurrency", { integer: true })
    const pollIntervalMS = validatePositiveNumber(options.pollIntervalMS ?? 1_000, "pollIntervalMS")
    const maxPayloadBytes = validatePositiveNumber(options.maxPayloadBytes ?? 1_048_576, "maxPayloadBytes", { integer: true })
    const retentionMS = options.retentionMS === undefined ? undefined : validatePositiveNumber(options.retentionMS, "retentionMS")
    const capabilities = capabilitiesOf(storage)
    let maxCrashes =
      options.maxCrashes === Infinity ? Infinity : validatePositiveNumber(options.maxCrashes ?? 5, "maxCrashes", { integer: true })
    if (!capabilities.has("crash-counts")) {
      // Asked for explicitly: refuse. By default: crash-loop protection is off on a provider that cannot count.
      if (options.maxCrashes !== undefined && options.maxCrashes !== Infinity) requireCapability(capabilities, "crash-counts", "maxCrashes")
      maxCrashes = Infinity
    }
    if (options.clock !== undefined && typeof options.clock !== "function") throw new ValidationError("clock must be a function")
    const now = options.clock ?? Date.now
    this.failureLog = new StorageFailureLog(this.logger, now)

    const maxInFlight = storage.writeBatchesInFlight ?? 1
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
      throw new ValidationError(`storageProvider.writeBatchesInFlight must be an integer >= 1, got ${String(maxInFlight)}`)
    }
    this.health = {
      failed: (operation, error) => this.storageFailed(operation, error),
      recovered: (operation) => this.failureLog.recovered(operation),
      stopping: () => this.stopping,
    }
    this.client = new WorkflowClient<Runners>(
      { storageProvider: storage, maxPayloadBytes, pollIntervalMS, clock: now },
      {
        isRegistered: (name) => this.runners.has(name),
        registryName: "this WorkflowRunner",
        onStorageError: this.health.failed,
        runsHere: (id) => this.active.has(id),
      },
    )
    this.leases = new LeaseKeeper({
      storage,
      runnerID: this.runnerID,
      token: this.token,
      leaseMS,
      heartbeatMS,
      now,
      logger: this.logger,
      health: this.health,
      active: this.active,
    })
    this.claims = new ClaimLoop({
      storage,
      leases: this.leases,
      health: this.health,
      concurrency,
      pollIntervalMS,
      now,
      executing: () => this.executions.busy(),
      execute: (claimed) => this.executions.start(claimed),
      release: (ids) => this.executions.release(ids),
    })
    this.completer = new Completer(storage, this.health)
    this.executions = new Executions({
      storage,
      active: this.active,
      runnerID: this.runnerID,
      token: this.token,
      leaseMS,
      maxCrashes,
      concurrency,
      now,
      logger: this.logger,
      health: this.health,
      leases: this.leases,
      completer: this.completer,
      environment: () => this.environment,
      stopping: () => this.stopping,
      ended: (id, status) => {
        // Its payload is made only when someone listens: this runs for every workflow.
        if (this.listenerCount("workflowEnded") > 0) this.emit("workflowEnded", { workflowID: id, status })
        this.client.ended(id)
      },
      seenEnded: (id) => this.client.ended(id),
      leaseLost: (id, reason) => this.emit("leaseLost", { workflowID: id, reason }),
      wakeAt: (at) => this.claims.wakeAt(at),
      refill: () => this.claims.requestFill(),
    })
    this.services.push(
      new CancelWatcher({
        storage,
        pollIntervalMS,
        health: this.health,
        active: this.active,
        stopped: (id) => this.client.ended(id),
      }),
    )
    if (retentionMS !== undefined) this.services.push(new RetentionService(retentionMS, (age) => this.deleteEndedWorkflows(age)))
    const eventRetentionMS = validatePositiveNumber(options.eventRetentionMS ?? 7 * 86_400_000, "eventRetentionMS")
    if (options.eventRetentionMS !== undefined) requireCapability(capabilities, "events", "eventRetentionMS")
    if (capabilities.has("events")) this.services.push(new RetentionService(eventRetentionMS, (age) => this.client.deleteOldEvents(age), "event retention"))
    if (capabilities.has("schedules") && storage.schedules) {
      this.scheduler = new SchedulerService({
        store: storage.schedules,
        now,
        pollIntervalMS,
        health: this.health,
        logger: this.logger,
        declared: this.declaredSchedules,
        applied: (schedule, step, created) => this.scheduleStepApplied(schedule.id, step, created),
      })
      this.services.push(this.scheduler)
    }
    this.environment = {
      runners: this.runners,
      token: this.token,
      runnerID: this.runnerID,
      logger: this.logger,
      maxPayloadBytes,
      retryDelayMS,
      defaultRetry,
      now,
      commit: (write) => this.completer.commit({ write, owned: () => true }),
      preparedFor: (id) => this.executions.preparedFor(id),
      addWorkflow: (input) => this.spawn(input),
      emit: (event, ...args) => (this.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args),
      listening: (event) => this.listenerCount(event) > 0,
      mayStartTask: () => !this.stopping,
      children: capabilities.has("children") ? childOperations(storage) : undefined,
      childEnded: () => this.claims.requestFill(),
      events: capabilities.has("events") ? storage.events : undefined,
      sendEvent: (input) => this.sendEvent(input),
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
    await this.client.init()
    if (this.claims.running || this.stopping) return
    this.leases.start()
    for (const service of this.services) service.start()
    await this.claims.start()
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
    // Counted until it settles: stop() closes storage only after an add it accepted is stored or has failed.
    return this.client.underway(() => this.add(input))
  }

  /** {@link addWorkflow}, once accepted. */
  private async add(input: WorkflowInput<Runners[number]>): Promise<WorkflowHandle> {
    const workflow = this.client.prepareWorkflow(input)
    await this.client.init()
    const id = workflow.id
    // A delayed workflow is stored unleased; the claim loop takes it once it falls due.
    const delayed = workflow.availableAt !== undefined
    const claimNow = !this.stopping && !delayed && this.claims.reserve()
    if (claimNow) workflow.lease = this.leases.grant(workflow.now)
    let inserted: InsertOutcome
    try {
      inserted = await this.client.insert(workflow)
    } catch (error) {
      if (claimNow) {
        await this.executions.releaseOrphanedLease(id)
        this.claims.unreserve()
      }
      throw error
    }
    const { created } = inserted
    if (claimNow) {
      this.claims.unreserve()
      if (created && this.stopping) await this.executions.release([id])
      else if (created) this.executions.start(newWorkflowRows(workflow))
      // Committed again after its batch failed: the failed try may have stored it (its reply lost), leased to us.
      else if (inserted.afterFailure) await this.executions.releaseOrphanedLease(id)
    }
    if (delayed && created && !this.stopping) this.claims.wakeAt(workflow.availableAt as number)
    const handle = this.client.handle(id, created)
    return {
      id,
      created,
      result: () => (this.stopping ? Promise.reject(new RunnerStoppedError("runner stopped")) : handle.result()),
    }
  }

  /**
   * Sends an event (see {@link WorkflowClient.sendEvent}); workflows it wakes
   * are claimed at once by this runner if it has free slots.
   */
  async sendEvent(input: SendEventInput): Promise<SentEvent> {
    const sent = await this.client.sendEvent(input)
    if (sent.woken > 0 && !this.stopping) this.claims.requestFill()
    return sent
  }

  /** Lists stored events, oldest first (see {@link WorkflowClient.listEvents}). */
  listEvents(filter: ListEventsFilter = {}): Promise<EventInfo[]> {
    return this.client.listEvents(filter)
  }

  /** Reads a workflow and its tasks, or `null` if there is none. */
  getWorkflow(id: string): Promise<WorkflowInfo | null> {
    return this.client.getWorkflow(id)
  }

  /** Lists workflows in ID order, a page at a time. */
  listWorkflows(filter: ListWorkflowsFilter = {}): Promise<WorkflowSummary[]> {
    return this.client.listWorkflows(filter)
  }

  /**
   * Cancels a pending workflow wherever it runs: it becomes `cancelled`, its
   * running task's signal fires, and no further task starts. Returns `false`
   * if there is no pending workflow with that ID.
   */
  async cancelWorkflow(id: string): Promise<boolean> {
    const cancelled = await this.client.cancelWorkflow(id)
    if (cancelled) {
      this.claims.forget([id])
      this.executions.abort(id, new Error("workflow cancelled"))
      this.emit("workflowEnded", { workflowID: id, status: "cancelled" })
      // A cancelled child wakes its parked parent (in the cancel's transaction): claim it now, not at the next poll.
      this.claims.requestFill()
    }
    return cancelled
  }

  /**
   * Resumes a failed workflow from the task that failed (its attempts start
   * again from 0). When that step is a child workflow whose child failed
   * (or a member of a parallel step whose child members' children failed),
   * those children are retried too, first. Returns `false` if there is no
   * failed workflow with that ID.
   */
  async retryWorkflow(id: string): Promise<boolean> {
    const resumed = await this.client.retryWorkflow(id)
    if (resumed) this.claims.requestFill()
    return resumed
  }

  /** Deletes ended workflows whose last change is older than `olderThanMS`; returns how many. Pending ones are kept. */
  deleteEndedWorkflows(olderThanMS: number): Promise<number> {
    return this.client.deleteEndedWorkflows(olderThanMS)
  }

  // ---- schedules -----------------------------------------------------------

  /**
   * Declares a schedule in storage (call it at start, in every runner that
   * has it): creates it, replaces the stored one if this definition differs
   * (the last declaration wins; a runner that declared another logs a
   * warning), or leaves it. Every runner fires every stored schedule, each
   * tick exactly once across all of them, from `recover()` on.
   *
   * @throws ValidationError for an invalid cron expression, time zone, policy, or a task naming a runner this runner lacks (nothing written), or a provider without schedules
   */
  async schedule(definition: ScheduleDefinition<WorkflowInput<Runners[number]>["tasks"]>): Promise<ScheduleDeclared> {
    if (this.stopping) throw new RunnerStoppedError("this runner was stopped; create a new WorkflowRunner")
    return this.client.underway(async () => {
      const operations = this.client.scheduleOperations
      const valid = operations.validate(definition)
      this.declaredSchedules.set(valid.schedule.id, valid.schedule.hash)
      const declared = await operations.declare(valid)
      if (declared.outcome === "replaced") {
        this.logger.info?.(`schedule "${declared.id}": its definition changed, replaced the stored one`, { scheduleID: declared.id })
      }
      this.scheduler?.poke()
      return declared
    })
  }

  /** Pauses a schedule: it fires nothing until resumed. Returns `false` if there is no schedule with that ID. */
  pauseSchedule(id: string): Promise<boolean> {
    return this.client.pauseSchedule(id)
  }

  /** Resumes a paused schedule from its first tick after now. Returns `false` if there is no schedule with that ID. */
  async resumeSchedule(id: string): Promise<boolean> {
    const resumed = await this.client.resumeSchedule(id)
    this.scheduler?.poke()
    return resumed
  }

  /** Adds the schedule's workflow now, once; the regular ticks go on. Returns its handle, or `null` if there is no such schedule. */
  async triggerSchedule(id: string): Promise<WorkflowHandle | null> {
    const handle = await this.client.triggerSchedule(id)
    if (handle?.created) this.claims.requestFill()
    return handle
  }

  /** Deletes a schedule; the workflows it added stay. Returns `false` if there was none. */
  deleteSchedule(id: string): Promise<boolean> {
    return this.client.deleteSchedule(id)
  }

  /** Reads a schedule with its next and last fire times and its last workflow's status, or `null`. */
  getSchedule(id: string): Promise<ScheduleInfo | null> {
    return this.client.getSchedule(id)
  }

  /** Lists schedules in ID order, a page at a time. */
  listSchedules(filter: ListSchedulesFilter = {}): Promise<ScheduleInfo[]> {
    return this.client.listSchedules(filter)
  }

  private scheduleStepApplied(scheduleID: string, step: ScheduleStep, created: boolean): void {
    const tickAt = new Date(step.tickAt)
    switch (step.kind) {
      case "fire":
        if (created) this.claims.requestFill()
        this.logger.debug?.(`schedule "${scheduleID}" fired its tick ${tickAt.toISOString()}`, { scheduleID, workflowID: step.workflowID })
        this.emit("scheduleFired", { scheduleID, tickAt, workflowID: step.workflowID, created })
        return
      case "skip":
        this.logger.info?.(`schedule "${scheduleID}" skipped ${step.count} tick(s) up to ${tickAt.toISOString()}: ${step.reason}`, { scheduleID })
        this.emit("scheduleSkipped", { scheduleID, count: step.count, lastTickAt: tickAt, reason: step.reason })
        return
      case "buffer":
        this.logger.debug?.(`schedule "${scheduleID}" held back its tick ${tickAt.toISOString()} behind the pending one`, { scheduleID })
        this.emit("scheduleBuffered", { scheduleID, tickAt })
        return
    }
  }

  /**
   * Stops gracefully: claims nothing more, lets in-flight tasks finish (firing
   * their signals after `timeoutMS`), releases the leases of unfinished
   * workflows so other runners can take them at once, and closes storage.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    refuseUnknownKeys(options, STOP_OPTION_KEYS, "stop")
    const timeoutMS = validatePositiveNumber(options.timeoutMS ?? 10_000, "timeoutMS", { allowZero: true })
    if (this.stopping) return
    this.stopping = true
    this.claims.stop()
    this.leases.stopRenewing()
    for (const service of this.services) service.stop()
    const grace = setTimeout(() => {
      this.executions.abortAll(new RunnerStoppedError("runner stopping"))
    }, timeoutMS)
    // Executions, claims and writes already under way finish (or release their leases) before storage closes.
    while (this.active.size > 0 || this.claims.busy || !this.client.insertsIdle || !this.completer.idle) {
      if (this.active.size > 0) await this.executions.settled()
      else await sleep(5)
    }
    clearTimeout(grace)
    await Promise.all(this.services.map((service) => service.drained?.()))
    this.leases.stop()
    // Calls accepted before (reads, adds, sends) settle before storage closes; later ones are refused.
    await this.client.endCalls(new RunnerStoppedError("runner stopped before the workflow ended"), "this runner was stopped")
    if (options.closeStorage ?? true) await this.storage.close()
  }

  private async spawn(input: SpawnWorkflowInput): Promise<SpawnedWorkflow> {
    const handle = await this.addWorkflow(input as WorkflowInput<Runners[number]>)
    return { id: handle.id, created: handle.created }
  }

  // ---- storage health ----------------------------------------------------

  /** Logged at `error` on the first failure of `operation` and then every 30 s while it goes on (see storage-failure-log.ts). */
  private storageFailed(operation: string, error: unknown): void {
    this.failureLog.failed(operation, error)
    this.emit("storageError", { operation, error })
  }
}
