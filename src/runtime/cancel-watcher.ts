/**
 * Cancels from elsewhere: a workflow executing here that another process (or
 * another runner on the same store) cancelled must have its running task's
 * signal fired within about a poll interval, not at the next lease renewal.
 * Found with one batch read of the executing workflows' statuses per poll,
 * and at once when the provider announces cancels (Postgres NOTIFY).
 */
import type { Service } from "../services/service.js"
import type { StorageProvider } from "../storage/provider.js"
import type { ActiveExecution } from "./lease-keeper.js"
import type { StorageHealth } from "./storage-health.js"

/** Settings of a {@link CancelWatcher}. */
export interface CancelWatcherOptions {
  storage: StorageProvider
  pollIntervalMS: number
  health: StorageHealth
  /** The executions to watch. */
  active: ReadonlyMap<string, ActiveExecution>
  /** Told of each execution it stopped (result waiters look at once). */
  stopped: (id: string) => void
}

/** Stops executions whose workflows were cancelled elsewhere. */
export class CancelWatcher implements Service {
  readonly name = "cancel watcher"
  private timer: NodeJS.Timeout | undefined
  private unsubscribe: (() => void) | undefined
  private checking = false

  constructor(private readonly o: CancelWatcherOptions) {}

  start(): void {
    this.unsubscribe = this.o.storage.onWorkflowsCancelled?.((ids) => this.stopCancelled(ids))
    // Without the batch read, the next lease renewal finds the lease gone instead (within heartbeatMS).
    if (this.o.storage.getWorkflowStatuses) this.timer = setInterval(() => void this.check(), this.o.pollIntervalMS)
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.unsubscribe?.()
    this.unsubscribe = undefined
  }

  /** One batch read of the statuses of the workflows executing here. */
  private async check(): Promise<void> {
    const read = this.o.storage.getWorkflowStatuses
    if (!read || this.checking || this.o.active.size === 0) return
    this.checking = true
    try {
      const statuses = await read.call(this.o.storage, [...this.o.active.keys()])
      this.o.health.recovered("getWorkflowStatuses")
      this.stopCancelled(statuses.filter((s) => s.status === "cancelled").map((s) => s.id))
    } catch (error) {
      this.o.health.failed("getWorkflowStatuses", error)
    } finally {
      this.checking = false
    }
  }

  /**
   * Fires the signal of each of these cancelled workflows that executes here.
   * Only `cancelled` stops an execution: it is the one end that this process's
   * own writes never make.
   */
  private stopCancelled(ids: readonly string[]): void {
    for (const id of ids) {
      const entry = this.o.active.get(id)
      if (!entry || entry.controller.aborted) continue
      entry.controller.abort(new Error("workflow cancelled"))
      this.o.stopped(id)
    }
  }
}
