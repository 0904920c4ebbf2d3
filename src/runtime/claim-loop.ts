/**
 * The claim loop: fills this process's free concurrency slots with
 * claimable workflows from storage, and claims a few ahead (see
 * claimed-ahead.ts) while slots keep freeing. It runs when woken (a slot
 * freed, work announced by the provider, a retry falling due) and on every
 * poll.
 */
import type { StorageProvider, WorkflowWithTasks } from "../storage/provider.js"
import { ClaimedAhead } from "./claimed-ahead.js"
import type { LeaseKeeper } from "./lease-keeper.js"
import type { StorageHealth } from "./storage-health.js"

/** The longest delay a Node.js timer keeps (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Settings of a {@link ClaimLoop}. */
export interface ClaimLoopOptions {
  storage: StorageProvider
  leases: LeaseKeeper
  health: StorageHealth
  /** Most workflows executed at once. */
  concurrency: number
  pollIntervalMS: number
  now: () => number
  /** How many workflows execute now. */
  executing: () => number
  /** Starts executing a claimed workflow. */
  execute: (claimed: WorkflowWithTasks) => void
  /** Gives back the leases of claimed workflows that will not run here (the runner is stopping). */
  release: (ids: string[]) => Promise<void>
}

/** Claims work into free slots. */
export class ClaimLoop {
  private readonly o: ClaimLoopOptions
  private started = false
  private stopped = false
  private reserved = 0
  private filling = false
  private refillRequested = false
  private fillScheduled = false
  private pollTimer: NodeJS.Timeout | undefined
  private wakeTime = Infinity
  private wakeTimer: NodeJS.Timeout | undefined
  private unsubscribe: (() => void) | undefined
  private unsubscribeCancels: (() => void) | undefined
  private readonly ahead: ClaimedAhead
  /** Lease releases under way (claimed ahead and given back, or claimed while stopping). */
  private releasing = 0

  constructor(options: ClaimLoopOptions) {
    this.o = options
    this.ahead = new ClaimedAhead(options.concurrency, options.pollIntervalMS, (expiresAt) => options.leases.leaseLetsTaskStart(expiresAt))
  }

  /** Whether {@link start} was called. */
  get running(): boolean {
    return this.started && !this.stopped
  }

  /** Whether a claim or a release is under way or a slot is reserved (stop waits for all). */
  get busy(): boolean {
    return this.filling || this.reserved > 0 || this.releasing > 0
  }

  /** Starts claiming: at once, when the provider announces work, and every poll interval. */
  async start(): Promise<void> {
    this.started = true
    this.unsubscribe = this.o.storage.onWorkAvailable?.(() => this.requestFill())
    this.unsubscribeCancels = this.o.storage.onWorkflowsCancelled?.((ids) => this.forget(ids))
    this.pollTimer = setInterval(() => this.requestFill(), this.o.pollIntervalMS)
    await this.fill()
  }

  /** Claims nothing more, and gives back the leases of the workflows claimed ahead. */
  stop(): void {
    this.stopped = true
    clearInterval(this.pollTimer)
    clearTimeout(this.wakeTimer)
    this.unsubscribe?.()
    this.unsubscribeCancels?.()
    void this.release(this.ahead.takeAll())
  }

  /** Forgets workflows claimed ahead that were cancelled meanwhile (their leases went with the cancel). */
  forget(ids: readonly string[]): void {
    this.ahead.drop(ids)
  }

  /** Slots neither executing nor reserved. */
  freeSlots(): number {
    return this.o.concurrency - this.o.executing() - this.reserved
  }

  /** Takes a free slot for a workflow this process adds and will execute at once; `false` if none is free. */
  reserve(): boolean {
    if (!this.running || this.freeSlots() <= 0) return false
    this.reserved++
    return true
  }

  /** Gives back a slot {@link reserve} took. */
  unreserve(): void {
    this.reserved--
  }

  /**
   * Claims as soon as possible (after the claim under way, if any). The claim
   * starts in the next turn of the event loop, so that every slot freed in
   * this turn (a write batch settles many executions at once) is filled by
   * one claim rather than the first freed slot by a claim of its own.
   */
  requestFill(): void {
    if (this.filling) this.refillRequested = true
    else if (!this.fillScheduled) {
      this.fillScheduled = true
      setImmediate(() => {
        this.fillScheduled = false
        void this.fill()
      })
    }
  }

  /** Claims again at `at` (a retry, a delayed start or a sleep falls due then). */
  wakeAt(at: number): void {
    if (this.stopped || at >= this.wakeTime) return
    clearTimeout(this.wakeTimer)
    this.wakeTime = at
    // Node fires a timer of more than 2^31-1 ms at once: a far wake time (a long sleep) is left to a later
    // poll or timer instead, which finds it through the claim index all the same.
    const delay = Math.min(Math.max(0, at - this.o.now()), MAX_TIMER_MS)
    this.wakeTimer = setTimeout(() => {
      this.wakeTime = Infinity
      this.wakeTimer = undefined
      this.requestFill()
    }, delay)
  }

  /** Claims work until the concurrency limit is reached (and a few ahead) or nothing is claimable. */
  private async fill(): Promise<void> {
    if (!this.running) return
    if (this.filling) {
      this.refillRequested = true
      return
    }
    this.filling = true
    try {
      do {
        this.refillRequested = false
        this.ahead.freed(this.freeSlots())
        for (;;) {
          if (this.stopped) break
          if (this.o.leases.claimsPaused()) {
            // Leases this process cannot renew are better given back at once.
            await this.release(this.ahead.takeAll())
            break
          }
          const started = this.startWaiting()
          const free = this.freeSlots()
          // Ahead only while slots free: a runner whose slots all stay busy holds nothing back from other runners.
          const limit = Math.max(0, free) + (free > 0 || started > 0 ? this.ahead.room() : 0)
          if (limit <= 0) break
          const now = this.o.now()
          const claimed = await this.o.storage.claimWorkflows({
            lease: this.o.leases.grant(now),
            now,
            limit,
            reclaimOwn: this.o.leases.reclaimsOwn(now),
          })
          this.o.health.recovered("claimWorkflows")
          if (this.stopped) {
            await this.release(claimed.map((c) => c.workflow.id))
            break
          }
          this.ahead.put(claimed, this.o.now())
          if (claimed.length < limit) {
            this.startWaiting()
            break
          }
        }
      } while (this.refillRequested && !this.stopped)
    } catch (error) {
      this.o.health.failed("claimWorkflows", error)
    } finally {
      this.filling = false
    }
  }

  /** Starts waiting workflows in the free slots, and gives back those that waited too long; returns how many started. */
  private startWaiting(): number {
    const taken = this.ahead.take(Math.max(0, this.freeSlots()), this.o.now())
    if (taken.release.length > 0) void this.release(taken.release)
    for (const workflow of taken.start) this.o.execute(workflow)
    return taken.start.length
  }

  /** Gives back these leases; `busy` stays true until it is done, so stop() waits for it. */
  private async release(ids: string[]): Promise<void> {
    if (ids.length === 0) return
    this.releasing++
    try {
      await this.o.release(ids)
    } finally {
      this.releasing--
    }
  }
}
