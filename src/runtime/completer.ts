/**
 * The completer: records what executions did. Every state write of an
 * execution goes through it: group-committed with the writes of other
 * executions, refused locally when its execution may no longer own the
 * workflow, retried with backoff when storage fails, and checked against
 * storage when a retry is fenced off after a try whose reply was lost.
 */
import { GroupCommitter } from "../group-commit.js"
import type { StorageProvider, TaskChange, WorkflowWithTasks, WorkflowWrite } from "../storage/provider.js"
import { backoff, sleep, type StorageHealth } from "./storage-health.js"

/** A fenced write of one execution, refused locally if that execution may no longer own the workflow. */
export interface ExecutionWrite {
  write: WorkflowWrite
  owned(): boolean
}

/** What {@link Completer.commit} returns for a write its execution no longer owns (one promise for all). */
const NOT_OWNED: Promise<boolean> = Promise.resolve(false)

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
    this.updates = new GroupCommitter((batch) => this.writeOwned(batch), { maxInFlight, keyOf: (w) => w.write.workflowID })
  }

  /** No write waiting or in flight. */
  get idle(): boolean {
    return this.updates.idle
  }

  /**
   * Writes `write` through group commit; `true` if applied, `false` if fenced
   * off. Storage errors are retried with backoff while the runner runs.
   */
  commit(entry: ExecutionWrite): Promise<boolean> {
    // The first try, which nearly always succeeds, is made without an async function's frame (one for every
    // write); the tries after a failure are made by retried. Refused locally: this execution's lease lapsed.
    if (!entry.owned()) return NOT_OWNED
    return this.updates.submit(entry).then(this.appliedAtFirstTry, (error: unknown) => this.retried(entry, error))
  }

  private readonly appliedAtFirstTry = (applied: boolean): boolean => {
    this.health.recovered("applyWorkflowWrites")
    return applied
  }

  /** Commits `entry` again after its first try failed with `error`, and on until it is applied or fenced off. */
  private async retried(entry: ExecutionWrite, error: unknown): Promise<boolean> {
    this.health.failed("applyWorkflowWrites", error)
    await sleep(backoff(0))
    const { write } = entry
    for (let failures = 1; ; failures++) {
      // Refused locally: the failed try, if only its reply was lost, may still have written it.
      if (!entry.owned()) return await this.alreadyApplied(write)
      try {
        const applied = await this.updates.submit(entry)
        this.health.recovered("applyWorkflowWrites")
        // After a failed try, "fenced off" may mean that try took effect and only its reply was lost.
        if (!applied) return await this.alreadyApplied(write)
        return applied
      } catch (error) {
        this.health.failed("applyWorkflowWrites", error)
        if (this.health.stopping() && failures >= 3) throw error
        await sleep(backoff(failures))
      }
    }
  }

  /** Commits a batch of writes; a write whose execution no longer owns its workflow is refused (fenced) unwritten. */
  private async writeOwned(batch: ExecutionWrite[]): Promise<boolean[]> {
    const owned = batch.map((w) => w.owned())
    const toWrite = batch.filter((_, i) => owned[i]).map((w) => w.write)
    const applied = toWrite.length > 0 ? await this.storage.applyWorkflowWrites(toWrite) : []
    let next = 0
    return owned.map((o) => (o ? (applied[next++] as boolean) : false))
  }

  /** Whether storage already shows `write` (written by an earlier try whose reply was lost). */
  private async alreadyApplied(write: WorkflowWrite): Promise<boolean> {
    // A crash mark changes nothing a read could tell from an earlier life's: take it as fenced off.
    if (write.kind === "markCrash") return false
    let stored: WorkflowWithTasks | null
    for (let failures = 0; ; failures++) {
      try {
        stored = await this.storage.getWorkflow(write.workflowID)
        break
      } catch (error) {
        this.health.failed("getWorkflow", error)
        if (this.health.stopping() && failures >= 3) return false
        await sleep(backoff(failures))
      }
    }
    if (!stored) return false
    const status = write.kind === "endWorkflow" ? write.status : "pending"
    if (stored.workflow.status !== status) return false
    return write.task === undefined || hasTask(stored, write.task)
  }
}

/** Whether `stored` holds exactly this task change. */
function hasTask(stored: WorkflowWithTasks, change: TaskChange): boolean {
  const task = stored.tasks.find((t) => t.seq === change.seq)
  return (
    task !== undefined &&
    task.status === change.status &&
    task.attempts === change.attempts &&
    task.result === change.result &&
    task.error === change.error
  )
}
