/**
 * The lease keeper: keeps the leases of the workflows this process executes
 * alive (one renewal write per heartbeat), stops executions whose leases
 * could not be renewed before another runner may take them (the lease
 * guard), and decides when claims may take back an earlier life's leases.
 */
import type { Logger } from "../logger.js"
import type { LeaseGrant, StorageProvider } from "../storage/provider.js"
import type { StorageHealth } from "./storage-health.js"
import type { LazyAbortController } from "./lazy-abort.js"

/** A workflow this process is executing, as the lease keeper sees it. */
export interface ActiveExecution {
  controller: LazyAbortController
  /** The lease's expiry as last written to storage. */
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

/** Settings of a {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  storage: StorageProvider
  runnerID: string
  token: string
  leaseMS: number
  heartbeatMS: number
  now: () => number
  logger: Logger
  health: StorageHealth
  /** The executions whose leases it keeps. */
  active: ReadonlyMap<string, ActiveExecution>
}

/** Renews, guards and grants this process's leases. */
export class LeaseKeeper {
  /** The lease guard fires a task's signal this long before its lease, as last renewed, expires. */
  readonly leaseMargin: number
  private readonly o: LeaseKeeperOptions
  private heartbeatTimer: NodeJS.Timeout | undefined
  private guardAt = Infinity
  private guardTimer: NodeJS.Timeout | undefined
  private heartbeatInFlight = false
  private renewalFailing = false
  private claimsPausedUntil = 0
  /** Until when claims also take leases held by this runnerID under another token (an earlier life's). */
  private reclaimOwnUntil = 0

  constructor(options: LeaseKeeperOptions) {
    this.o = options
    this.leaseMargin = Math.min(options.heartbeatMS, options.leaseMS - options.heartbeatMS) / 2
  }

  /** Starts renewing every heartbeat, and opens the window in which an earlier life's leases are taken back. */
  start(): void {
    // An earlier life's leases run out within leaseMS of its death, so taking them early only matters that long;
    // past it, reclaiming would only steal from a live runner that shares our runnerID.
    this.reclaimOwnUntil = this.o.now() + this.o.leaseMS
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.o.heartbeatMS)
  }

  /** Stops renewing (the runner is stopping); the guard still stops what would outlive its lease. */
  stopRenewing(): void {
    clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = undefined
  }

  /** Stops the guard too (nothing runs any more). */
  stop(): void {
    this.stopRenewing()
    clearTimeout(this.guardTimer)
    this.guardTimer = undefined
    this.guardAt = Infinity
  }

  /** A new lease for this process life, from `now`. */
  grant(now = this.o.now()): LeaseGrant {
    return { owner: this.o.runnerID, token: this.o.token, expiresAt: now + this.o.leaseMS }
  }

  /** Whether claims are paused because renewals keep failing. */
  claimsPaused(): boolean {
    return this.o.now() < this.claimsPausedUntil
  }

  /** Whether claims still take back leases of this runnerID's earlier lives. */
  reclaimsOwn(now = this.o.now()): boolean {
    return now < this.reclaimOwnUntil
  }

  /** Stops taking back own leases (another live runner uses this runnerID). */
  stopReclaimingOwn(): void {
    this.reclaimOwnUntil = 0
  }

  /** Guards a new execution's lease. */
  watch(entry: ActiveExecution): void {
    this.armGuard(entry.leaseExpiresAt - this.leaseMargin)
  }

  /** Whether `entry` may still write: not superseded, and its lease ends comfortably after now. */
  owns(entry: ActiveExecution): boolean {
    // Writes stop a little before the lease as last renewed ends: past it, another runner may own the workflow.
    return !entry.superseded && entry.leaseExpiresAt - this.leaseMargin / 2 > this.o.now()
  }

  /** Whether `entry` may start its next task: its lease lasts at least another heartbeat. */
  mayStartTask(entry: ActiveExecution): boolean {
    return this.leaseLetsTaskStart(entry.leaseExpiresAt)
  }

  /** Whether a lease ending at `expiresAt` lets a task start now: it lasts at least another heartbeat. */
  leaseLetsTaskStart(expiresAt: number): boolean {
    return expiresAt - this.o.heartbeatMS > this.o.now()
  }

  /** Renews every lease this process holds in one write; fires the signal of any it lost. */
  async heartbeat(): Promise<void> {
    this.guardLeases()
    // One renewal at a time: while one hangs, the lease guard stops what would outlive its lease.
    if (this.heartbeatInFlight) this.renewalFailing = true
    const active = this.o.active
    if (active.size === 0 || this.heartbeatInFlight) return
    const ids = [...active.keys()]
    const expiresAt = this.o.now() + this.o.leaseMS
    this.heartbeatInFlight = true
    try {
      const renewed = new Set(await this.o.storage.renewLeases({ token: this.o.token, workflowIDs: ids, expiresAt }))
      this.o.health.recovered("renewLeases")
      this.renewalFailing = false
      this.claimsPausedUntil = 0
      for (const id of ids) {
        const entry = active.get(id)
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
      this.o.health.failed("renewLeases", error)
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
    const now = this.o.now()
    for (const entry of this.o.active.values()) {
      const abortAt = entry.leaseExpiresAt - this.leaseMargin
      if (abortAt > now) this.armGuard(abortAt)
      else if (!entry.controller.aborted) {
        entry.controller.abort(new Error("lease about to expire: it could not be renewed"))
        if (this.renewalFailing && now >= this.claimsPausedUntil) {
          // A runner that cannot keep leases would take the work back and lose it again: leave it to healthy runners for a lease.
          this.claimsPausedUntil = now + this.o.leaseMS
          this.o.logger.warn?.(
            `lease renewals are failing: stopped tasks whose leases could not be renewed; claiming nothing for ${this.o.leaseMS} ms`,
          )
        }
      }
    }
  }

  /** One timer for the earliest deadline of all executions. */
  private armGuard(at: number): void {
    if (at >= this.guardAt) return
    clearTimeout(this.guardTimer)
    this.guardAt = at
    this.guardTimer = setTimeout(() => {
      this.guardAt = Infinity
      this.guardTimer = undefined
      this.guardLeases()
    }, Math.max(0, at - this.o.now()))
  }
}
