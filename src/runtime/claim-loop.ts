/**
 * The claim loop: fills this process's free concurrency slots with
 * claimable workflows from storage. It runs when woken (a slot freed, work
 * announced by the provider, a retry falling due) and on every poll.
 */
import type { StorageProvider, WorkflowWithTasks } from "../storage/provider.js"
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

  constructor(options: ClaimLoopOptions) {
    this.o = options
  }

  /** Whether {@link start} was called. */
  get running(): boolean {
    return this.started && !this.stopped
  }

  /** Whether a claim is under way or a slot is reserved (stop waits for both). */
  get busy(): boolean {
    return this.filling || this.reserved > 0
  }

  /** Starts claiming: at once, when the provider announces work, and every poll interval. */
  async start(): Promise<void> {
    this.started = true
    this.unsubscribe = this.o.storage.onWorkAvailable?.(() => this.requestFill())
    this.pollTimer = setInterval(() => this.requestFill(), this.o.pollIntervalMS)
    await this.fill()
  }

  /** Claims nothing more. */
  stop(): void {
    this.stopped = true
    clearInterval(this.pollTimer)
    clearTimeout(this.wakeTimer)
    this.unsubscribe?.()
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

  /** Claims work until the concurrency limit is reached or nothing is claimable. */
  private async fill(): Promise<void> {
    if (!this.running || this.o.leases.claimsPaused()) return
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
          if (free <= 0 || this.stopped) break
          const now = this.o.now()
          const claimed = await this.o.storage.claimWorkflows({
            lease: this.o.leases.grant(now),
            now,
            limit: free,
            reclaimOwn: this.o.leases.reclaimsOwn(now),
          })
          this.o.health.recovered("claimWorkflows")
          for (const workflow of claimed) {
            if (this.stopped) {
              await this.o.release([workflow.workflow.id])
              continue
            }
            this.o.execute(workflow)
          }
          if (claimed.length < free) break
        }
      } while (this.refillRequested && !this.stopped)
    } catch (error) {
      this.o.health.failed("claimWorkflows", error)
    } finally {
      this.filling = false
    }
  }
}
