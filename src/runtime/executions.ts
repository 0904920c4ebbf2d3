/**
 * The executions of this process: starts each claimed workflow's execution
 * (crash-loop suspects through their lane), refuses the writes of one that
 * was superseded, and settles how each ended: reported, woken later,
 * released, or its lost lease explained.
 */
import { errorMessage, type Logger } from "../logger.js"
import type { StorageProvider, WorkflowWithTasks } from "../storage/provider.js"
import type { Completer } from "./completer.js"
import { SuspectLane, executeSuspect, isSuspect } from "./crash-loop.js"
import { executeWorkflow, type ExecutionEnd, type ExecutionEnvironment } from "./execution.js"
import type { ActiveExecution, LeaseKeeper } from "./lease-keeper.js"
import type { StorageHealth } from "./storage-health.js"
import { LazyAbortController } from "./lazy-abort.js"

const PREPARED_CACHE_LIMIT = 10_000

/**
 * How many executions, per unit of concurrency, may be let off their slots
 * while their last writes commit (see {@link Executions.busy}). Three: a
 * runner draining stored work then commits its workflows' ends in batches of
 * two to three times its concurrency rather than one, which took 10–20 % less
 * CPU per workflow in the runner and the database, and drained 20,000 stored
 * one-task workflows on Postgres 13,185–14,966 → 15,669–16,762 workflows/s
 * (concurrency 100, with claims ahead; one runner, 4 interleaved rounds).
 */
export const LET_OFF_PER_SLOT = 3

/** An execution's `done` until its settling starts, a moment later (one promise for all, not one each). */
const SETTLED: Promise<void> = Promise.resolve()

/** What the executions need from the runner around them. */
export interface ExecutionsOptions {
  storage: StorageProvider
  /** The executions by workflow ID (shared with the lease keeper, which renews and guards them). */
  active: Map<string, ActiveExecution>
  runnerID: string
  token: string
  leaseMS: number
  /** `Infinity`: crash-loop protection off. */
  maxCrashes: number
  /** The runner's concurrency (see {@link Executions.busy}). */
  concurrency: number
  now: () => number
  logger: Logger
  health: StorageHealth
  leases: LeaseKeeper
  completer: Completer
  /** The environment every execution inherits (its `commit` and `mayStartTask` are replaced per execution). */
  environment: () => ExecutionEnvironment
  stopping: () => boolean
  /** A workflow ended here (emit `workflowEnded`, resolve result waiters). */
  ended: (id: string, status: "completed" | "failed") => void
  /** A workflow ended elsewhere was seen (resolve result waiters). */
  seenEnded: (id: string) => void
  leaseLost: (id: string, reason: string) => void
  /** Claim again at `at` (a retry or a sleep falls due). */
  wakeAt: (at: number) => void
  /** A slot freed: claim more. */
  refill: () => void
}

/** The workflows executing in this process. */
export class Executions {
  /** By workflow ID; the lease keeper renews and guards these. */
  readonly active: Map<string, ActiveExecution>
  private readonly prepared = new Map<string, Map<string, unknown>>()
  private readonly suspects: SuspectLane
  /** Executions whose last write (ending or parking the workflow) is submitted and not yet settled. */
  private readonly finishing = new Set<string>()

  constructor(private readonly o: ExecutionsOptions) {
    this.active = o.active
    this.suspects = new SuspectLane(o.leaseMS)
  }

  /** Starts executing a workflow this process claimed (or added leased to itself). */
  start(claimed: WorkflowWithTasks): void {
    const id = claimed.workflow.id
    const running = this.active.get(id)
    if (running) {
      // Claimed again while still running here: the old execution's lease lapsed and another runner may
      // have recorded results since. Stop it, refuse its writes, and start afresh from what was claimed.
      running.superseded = true
      running.controller.abort(new Error("lease lapsed; the workflow was claimed again"))
      void running.done.then(() => {
        if (this.o.stopping()) return this.release([id])
        this.start(claimed)
      })
      return
    }
    const { leases, completer, maxCrashes } = this.o
    const controller = new LazyAbortController()
    const entry: ActiveExecution = { controller, leaseExpiresAt: claimed.workflow.availableAt, done: SETTLED, superseded: false, leaseLost: false }
    // Inherits the shared environment rather than copying it for each workflow.
    const environment: ExecutionEnvironment = Object.create(this.o.environment()) as ExecutionEnvironment
    environment.commit = (write) => {
      if (write.kind === "endWorkflow" || write.kind === "parkUntil") this.finishingFrom(id)
      return completer.commit({ write, owned: () => leases.owns(entry) })
    }
    environment.mayStartTask = () => !this.o.stopping() && leases.mayStartTask(entry)
    this.active.set(id, entry)
    leases.watch(entry)
    const execution = isSuspect(claimed, maxCrashes)
      ? executeSuspect(environment, claimed, controller, this.suspects, maxCrashes, executeWorkflow)
      : executeWorkflow(environment, claimed, controller)
    entry.done = this.settle(id, execution)
  }

  /**
   * Settles how the execution of `id` ended, then frees its slot. One async
   * function, not a then/catch/finally chain: that made three promises more
   * per workflow, and five closures.
   */
  private async settle(id: string, execution: Promise<ExecutionEnd>): Promise<void> {
    try {
      const storageWork = this.finish(id, await execution)
      if (storageWork) await storageWork
    } catch (error) {
      this.o.logger.error?.(`workflow execution failed unexpectedly: ${errorMessage(error)}`, { workflowID: id })
      this.prepared.delete(id)
    } finally {
      // A slot let off when its last write was submitted was claimed for then (unless over the cap).
      const slotFrees = !this.finishing.has(id) || this.finishing.size > this.o.concurrency * LET_OFF_PER_SLOT
      this.active.delete(id)
      this.finishing.delete(id)
      if (slotFrees && !this.o.stopping()) this.o.refill()
    }
  }

  /**
   * Executions that hold a concurrency slot: those running steps. One whose
   * last write is on its way to storage runs nothing more, so its slot is
   * claimed for again while that write commits (the claim's round trip
   * overlaps the write's instead of following it); at most
   * {@link LET_OFF_PER_SLOT} × `concurrency` of them are let off this way, so
   * no more than four times `concurrency` workflows execute or finish here (and
   * the claim loop holds up to twice `concurrency` more, claimed ahead).
   */
  busy(): number {
    return this.active.size - Math.min(this.finishing.size, this.o.concurrency * LET_OFF_PER_SLOT)
  }

  /**
   * Lets off the slot of `id`, whose last write was just submitted, and
   * claims for it; when that write settles, no second claim is made for the
   * same slot (an idle runner sends one claim per workflow, as before).
   */
  private finishingFrom(id: string): void {
    if (this.finishing.has(id) || !this.active.has(id)) return
    this.finishing.add(id)
    if (!this.o.stopping()) this.o.refill()
  }

  /** Fires the signal of `id`'s execution here, if any. */
  abort(id: string, reason: Error): void {
    this.active.get(id)?.controller.abort(reason)
  }

  /** Fires every execution's signal. */
  abortAll(reason: Error): void {
    for (const a of this.active.values()) a.controller.abort(reason)
  }

  /** Resolves when every execution under way has settled. */
  async settled(): Promise<void> {
    await Promise.all([...this.active.values()].map((a) => a.done))
  }

  /** Prepared data of a workflow in this process, by runner name. */
  preparedFor(id: string): Map<string, unknown> {
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

  /**
   * After an insert that failed but may have happened all the same (its reply
   * was lost), the workflow may be stored leased to this runner with nobody
   * executing it: release that lease, so it need not wait for it to expire.
   * A workflow this runner executes is left alone (an earlier add stored it).
   */
  async releaseOrphanedLease(id: string): Promise<void> {
    if (this.active.has(id)) return
    await this.release([id])
    this.o.refill()
  }

  /** Gives up this process's leases of these workflows, so any runner may claim them at once. */
  async release(ids: string[]): Promise<void> {
    try {
      await this.o.storage.releaseLeases({ token: this.o.token, workflowIDs: ids, availableAt: this.o.now() })
    } catch (error) {
      // The leases expire by themselves; nothing is lost.
      this.o.health.failed("releaseLeases", error)
    }
  }

  /**
   * Acts on how the execution of `id` ended. Returns a promise only when
   * that takes storage (a lost lease explained, a lease released): the
   * common ends (ended, waiting) make none.
   */
  private finish(id: string, end: ExecutionEnd): Promise<void> | undefined {
    switch (end.kind) {
      case "ended":
        this.prepared.delete(id)
        this.o.ended(id, end.status)
        return undefined
      case "retryAt":
      case "waiting":
        this.o.wakeAt(end.at)
        return undefined
      case "fenced":
        this.prepared.delete(id)
        return this.reportLostLease(id)
      case "interrupted":
        this.prepared.delete(id)
        // A renewal found the lease gone: there is nothing to release; say why it was lost.
        if (this.active.get(id)?.leaseLost) return this.reportLostLease(id)
        // Its task has stopped: whoever may run the workflow next (this runner too) need not wait for the lease to expire.
        // A superseded execution leaves the lease alone: it belongs to the execution that replaces it.
        if (!this.active.get(id)?.superseded) return this.release([id])
        return undefined
    }
  }

  /** Finds out why a write was fenced off, and says so. */
  private async reportLostLease(id: string): Promise<void> {
    const { runnerID, token, logger } = this.o
    let reason = "another runner took the workflow"
    try {
      const stored = await this.o.storage.getWorkflow(id)
      if (!stored) reason = "the workflow was deleted"
      else if (stored.workflow.status !== "pending") {
        reason = `the workflow is ${stored.workflow.status}`
        this.o.seenEnded(id)
      } else if (stored.workflow.leaseOwner === runnerID && stored.workflow.leaseToken !== token) {
        reason = `another live runner uses the same runnerID "${runnerID}"`
        this.o.leases.stopReclaimingOwn()
        logger.error?.(`two live runners share runnerID "${runnerID}": give each process its own runnerID (fencing kept state safe)`, {
          workflowID: id,
        })
      }
    } catch {
      // Reading why is best effort.
    }
    logger.warn?.(`lost the lease of workflow "${id}": ${reason}; dropping it here`, { workflowID: id })
    this.o.leaseLost(id, reason)
  }
}
