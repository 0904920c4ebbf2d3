/**
 * The completer: records what executions did. Every state write of an
 * execution goes through it: group-committed with the writes of other
 * executions, refused locally when its execution may no longer own the
 * workflow, retried with backoff when storage fails, and checked against
 * storage when a retry is fenced off after a try whose reply was lost.
 */
import { GroupCommitter } from "../group-commit.js"
import type { StorageProvider, TaskStatusUpdate, WorkflowWithTasks } from "../storage/provider.js"
import { backoff, sleep, type StorageHealth } from "./storage-health.js"

/** A fenced write of one execution, refused locally if that execution may no longer own the workflow. */
export interface ExecutionWrite {
  update: TaskStatusUpdate
  owned(): boolean
}

/** Group-commits executions' fenced writes. */
export class Completer {
  private readonly updates: GroupCommitter<ExecutionWrite, boolean>

  /**
   * @param storage - where writes go
   * @param health - told of failures and recoveries; says whether the runner is stopping (then retries are bounded)
   */
  constructor(
    private readonly storage: StorageProvider,
    private readonly health: StorageHealth,
  ) {
    const maxInFlight = storage.writeBatchesInFlight ?? 1
    this.updates = new GroupCommitter((batch) => this.writeOwned(batch), { maxInFlight, keyOf: (w) => w.update.workflowID })
  }

  /** No write waiting or in flight. */
  get idle(): boolean {
    return this.updates.idle
  }

  /**
   * Writes `write` through group commit; `true` if applied, `false` if fenced
   * off. Storage errors are retried with backoff while the runner runs.
   */
  async commit(write: ExecutionWrite): Promise<boolean> {
    const { update } = write
    for (let failures = 0; ; failures++) {
      // Refused locally: an earlier try whose reply was lost may still have written it.
      if (!write.owned()) return failures > 0 ? await this.alreadyApplied(update) : false
      try {
        const applied = await this.updates.submit(write)
        this.health.recovered("updateWorkflowTaskStatuses")
        // After a failed try, "fenced off" may mean that try took effect and only its reply was lost.
        if (!applied && failures > 0) return await this.alreadyApplied(update)
        return applied
      } catch (error) {
        this.health.failed("updateWorkflowTaskStatuses", error)
        if (this.health.stopping() && failures >= 3) throw error
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
        this.health.failed("getWorkflow", error)
        if (this.health.stopping() && failures >= 3) return false
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
}
