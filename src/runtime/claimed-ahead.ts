/**
 * Workflows claimed ahead: leased to this process, waiting here for a
 * concurrency slot.
 *
 * Without them, a freed slot waits for a claim's round trip before its next
 * workflow starts: while work is plentiful, the runner alternates between
 * executing a batch and waiting for the next claim, and the database between
 * answering it and waiting for the runner. A few claimed ahead start the
 * moment slots free, while the claim that replaces them is under way.
 *
 * How many: twice as many as the slots that freed at once, the last two
 * times any did (the smaller), so that one claim's worth of slots finds its
 * workflows waiting. Tasks that end one by one free one slot at a time, and
 * then two workflows wait ahead; a runner just started claims none ahead
 * until slots free. No more than twice `concurrency`.
 *
 * A workflow claimed ahead is held for at most `holdMS` (the poll interval)
 * and never past the point where its lease would not let it start a task:
 * then its lease is given back, so that a runner with free slots takes it
 * rather than it waiting behind long tasks here. Its lease is not renewed
 * while it waits.
 *
 * @module
 */
import type { WorkflowWithTasks } from "../storage/provider.js"

/**
 * Workflows held ahead per slot freed at once: two, so that a claim's worth
 * of slots finds its workflows waiting while the claim that refills them
 * carries two slots' worth (bigger claims and write batches cost less per
 * workflow). Measured with three times `concurrency` let off while their last
 * writes commit (`LET_OFF_PER_SLOT`, executions.ts), draining 20,000 stored
 * one-task workflows on Postgres (concurrency 100): one held ahead per slot,
 * no faster than none; two, 1.1–1.2x.
 */
export const AHEAD_PER_FREED_SLOT = 2

interface Waiting {
  claimed: WorkflowWithTasks
  heldSince: number
}

/** The workflows taken by {@link ClaimedAhead.take}: those to start, and those whose leases to give back. */
export interface TakenAhead {
  start: WorkflowWithTasks[]
  release: string[]
}

/** Claimed workflows waiting for a slot, oldest first. */
export class ClaimedAhead {
  /** In claim order; an entry no longer in `byID` (dropped, or claimed again) is skipped. */
  private queue: Waiting[] = []
  private head = 0
  private readonly byID = new Map<string, Waiting>()
  private lastBurst = 0
  private burst = 0

  /**
   * @param concurrency - the runner's concurrency (twice it is the most ever held ahead)
   * @param holdMS - the longest a workflow waits here before its lease is given back
   * @param startable - whether a lease ending at `expiresAt` still lets a task start now
   */
  constructor(
    private readonly concurrency: number,
    private readonly holdMS: number,
    private readonly startable: (expiresAt: number) => boolean,
  ) {}

  /** How many wait. */
  get size(): number {
    return this.byID.size
  }

  /** Notes that `free` slots are free at once (a fill began); sets how many to hold ahead. */
  freed(free: number): void {
    if (free <= 0) return
    this.lastBurst = this.burst
    this.burst = free
  }

  /** How many to claim now beyond the free slots, to refill what waits ahead. */
  room(): number {
    const target = Math.min(this.burst, this.lastBurst, this.concurrency) * AHEAD_PER_FREED_SLOT
    return Math.max(0, target - this.size)
  }

  /**
   * Holds claimed workflows (oldest first) until slots free. One already
   * waiting (its lease ran out here and a claim took it again, with the same
   * token) waits once, with the newer lease.
   */
  put(claimed: readonly WorkflowWithTasks[], now: number): void {
    for (const c of claimed) {
      const entry = { claimed: c, heldSince: now }
      this.byID.set(c.workflow.id, entry)
      this.queue.push(entry)
    }
  }

  /** Forgets these workflows, if waiting (they were cancelled: their leases are gone). */
  drop(ids: readonly string[]): void {
    for (const id of ids) this.byID.delete(id)
  }

  /**
   * Takes up to `slots` workflows to start, oldest first, and every one before
   * them that may no longer start here (held too long, or its lease too near
   * its end), whose lease the caller gives back.
   */
  take(slots: number, now: number): TakenAhead {
    const taken: TakenAhead = { start: [], release: [] }
    while (this.head < this.queue.length) {
      const w = this.queue[this.head] as Waiting
      const id = w.claimed.workflow.id
      if (this.byID.get(id) !== w) {
        // Dropped, or superseded by a later claim of the same workflow.
      } else if (now - w.heldSince > this.holdMS || !this.startable(w.claimed.workflow.availableAt)) {
        taken.release.push(id)
        this.byID.delete(id)
      } else if (taken.start.length < slots) {
        taken.start.push(w.claimed)
        this.byID.delete(id)
      } else break
      this.head++
    }
    // Past the first one kept, the rest were claimed later: they were held no longer, and their leases end no sooner.
    this.compact()
    return taken
  }

  /** Takes every waiting workflow (the runner is stopping, or cannot renew leases): their leases are given back. */
  takeAll(): string[] {
    const ids = [...this.byID.keys()]
    this.byID.clear()
    this.queue = []
    this.head = 0
    return ids
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }
}
