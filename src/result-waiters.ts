/**
 * The callers of `handle.result()`: who waits for which workflow, and how
 * they learn that it ended, here or in another process.
 *
 * A workflow that ends in this process is reported with {@link ResultWaiters.ended}
 * and resolves at once. One that ends elsewhere (another runner, a cancel from
 * another process) is found by polling: one batch read of the statuses of
 * every waited workflow per poll, however many there are, then one read of
 * each that ended. Providers that can tell when workflows end elsewhere
 * (Postgres NOTIFY) wake the poll early.
 */
import { RunnerStoppedError, ValidationError } from "./errors.js"
import { toWorkflowInfo, type WorkflowInfo } from "./info.js"
import type { StorageProvider, WorkflowStatus, WorkflowWithTasks } from "./storage/provider.js"

interface Waiter {
  resolve(info: WorkflowInfo): void
  reject(error: unknown): void
}

/** Whether a workflow in this status has ended: the one rule by which every waiter is resolved. */
function hasEnded(status: WorkflowStatus): boolean {
  return status !== "pending"
}

/** Largest number of IDs in one status read: keeps each statement's parameters within every database's limits. */
const STATUS_READ_CHUNK = 10_000

/** Waiters of workflow ends, resolved from storage. */
export class ResultWaiters {
  private readonly waiters = new Map<string, Waiter[]>()
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined
  private pollAgain = false
  private soon = false
  private closedWith: Error | undefined
  private unsubscribe: (() => void) | undefined
  /** Reads of single workflows under way ({@link ended}). */
  private readonly settling = new Set<Promise<void>>()

  /**
   * @param storage - where the workflows are
   * @param pollIntervalMS - how often storage is read while anyone waits
   * @param onStorageError - told of a failed read (the next poll tries again)
   * @param now - the clock
   * @param runsHere - whether a workflow executes in this process: its end is reported by {@link ended} after the
   *   runner has logged it and emitted its events, so polls leave it alone
   */
  constructor(
    private readonly storage: StorageProvider,
    private readonly pollIntervalMS: number,
    private readonly onStorageError: (operation: string, error: unknown) => void,
    private readonly now: () => number,
    private readonly runsHere: (id: string) => boolean = () => false,
  ) {}

  /** How many workflows are waited for. */
  get size(): number {
    return this.waiters.size
  }

  /** Resolves once workflow `id` has ended, with the workflow as stored then. */
  wait(id: string): Promise<WorkflowInfo> {
    return new Promise<WorkflowInfo>((resolve, reject) => {
      if (this.closedWith) return reject(this.closedWith)
      const list = this.waiters.get(id)
      if (list) list.push({ resolve, reject })
      else this.waiters.set(id, [{ resolve, reject }])
      this.unsubscribe ??= this.subscribe()
      this.arm()
      // It may have ended already: look at once rather than a poll interval later, in one batch with
      // every other wait of this turn of the event loop.
      this.pollSoon()
    })
  }

  /** Tells the waiters of `id` that it ended in this process (nothing happens if nobody waits). */
  ended(id: string): void {
    if (!this.waiters.has(id)) return
    const settling = this.settle(id)
    this.settling.add(settling)
    void settling.finally(() => this.settling.delete(settling))
  }

  /**
   * Rejects every waiter with `error` and stops polling; later waits reject at
   * once. Resolves once the reads under way have settled, so that storage can
   * be closed after them (a read that fails meanwhile is not reported: nobody
   * waits for it any more).
   */
  async close(error: Error = new RunnerStoppedError("stopped before the workflow ended")): Promise<void> {
    this.closedWith = error
    clearTimeout(this.timer)
    this.timer = undefined
    this.unsubscribe?.()
    this.unsubscribe = undefined
    for (const list of this.waiters.values()) for (const w of list) w.reject(error)
    this.waiters.clear()
    await Promise.allSettled([this.polling, ...this.settling])
  }

  /** Listens to the provider's announcements of ends and cancels elsewhere, if it makes any. */
  private subscribe(): () => void {
    const ended = this.storage.onWorkflowsEnded?.(() => this.requestPoll())
    const cancelled = this.storage.onWorkflowsCancelled?.((ids) => {
      for (const id of ids) this.ended(id)
    })
    return () => {
      ended?.()
      cancelled?.()
    }
  }

  private arm(): void {
    if (this.timer || this.closedWith || this.waiters.size === 0) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.requestPoll()
    }, this.pollIntervalMS)
  }

  private pollSoon(): void {
    if (this.soon) return
    this.soon = true
    setImmediate(() => {
      this.soon = false
      this.requestPoll()
    })
  }

  private requestPoll(): void {
    if (this.polling) {
      this.pollAgain = true
      return
    }
    this.polling = this.poll().finally(() => {
      this.polling = undefined
      if (this.pollAgain) {
        this.pollAgain = false
        this.requestPoll()
      } else this.arm()
    })
  }

  /** One batch read of the statuses of all waited workflows; those that ended are read and resolved. */
  private async poll(): Promise<void> {
    const ids = [...this.waiters.keys()].filter((id) => !this.runsHere(id))
    if (ids.length === 0) return
    let statuses: Array<{ id: string; status: WorkflowStatus }>
    try {
      statuses = await this.readStatuses(ids)
    } catch (error) {
      if (!this.closedWith) this.onStorageError("getWorkflowStatuses", error)
      return
    }
    const found = new Set<string>()
    const ended: string[] = []
    for (const { id, status } of statuses) {
      found.add(id)
      if (hasEnded(status)) ended.push(id)
    }
    for (const id of ids) if (!found.has(id)) ended.push(id)
    if (ended.length === 0) return
    const readMany = this.storage.getWorkflows?.bind(this.storage)
    if (!readMany) {
      await Promise.all(ended.map((id) => this.settle(id)))
      return
    }
    // The ended ones in batch reads too: thousands ending at once cost a few reads, not one each.
    for (let i = 0; i < ended.length; i += STATUS_READ_CHUNK) {
      const chunk = ended.slice(i, i + STATUS_READ_CHUNK)
      let stored: WorkflowWithTasks[]
      try {
        stored = await readMany(chunk)
      } catch (error) {
        if (!this.closedWith) this.onStorageError("getWorkflows", error)
        return
      }
      const byID = new Map(stored.map((w) => [w.workflow.id, w]))
      for (const id of chunk) this.resolveFrom(id, byID.get(id) ?? null)
    }
  }

  private async readStatuses(ids: string[]): Promise<Array<{ id: string; status: WorkflowStatus }>> {
    const storage = this.storage
    if (!storage.getWorkflowStatuses) {
      // A provider without the batch read: one read per workflow.
      const rows = await Promise.all(ids.map(async (id) => (await storage.getWorkflow(id))?.workflow))
      return rows.filter((w) => w !== undefined).map((w) => ({ id: w.id, status: w.status }))
    }
    if (ids.length <= STATUS_READ_CHUNK) return storage.getWorkflowStatuses(ids)
    const all: Array<{ id: string; status: WorkflowStatus }> = []
    for (let i = 0; i < ids.length; i += STATUS_READ_CHUNK) all.push(...(await storage.getWorkflowStatuses(ids.slice(i, i + STATUS_READ_CHUNK))))
    return all
  }

  /** Resolves the waiters of `id` if storage says it has ended (rejects them if it does not exist). */
  private async settle(id: string): Promise<void> {
    if (!this.waiters.has(id)) return
    let stored
    try {
      stored = await this.storage.getWorkflow(id)
    } catch (error) {
      if (!this.closedWith) this.onStorageError("getWorkflow", error)
      return
    }
    this.resolveFrom(id, stored)
  }

  /** Settles the waiters of `id` from what storage holds: rejects if there is no such workflow, resolves if it ended. */
  private resolveFrom(id: string, stored: WorkflowWithTasks | null): void {
    const list = this.waiters.get(id)
    if (!list) return
    if (!stored) {
      this.waiters.delete(id)
      for (const w of list) w.reject(new ValidationError(`there is no workflow "${id}"`))
    } else if (hasEnded(stored.workflow.status)) {
      this.waiters.delete(id)
      const info = toWorkflowInfo(stored, this.now())
      for (const w of list) w.resolve(info)
    }
  }
}
