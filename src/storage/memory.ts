/**
 * An in-memory StorageProvider for users' unit tests: the same semantics as
 * the durable providers, nothing survives the process.
 *
 * @module
 */
import { STORAGE_CONTRACT_VERSION } from "./provider.js"
import type {
  AwaitChildren,
  StorageCapabilities,
  ClaimRequest,
  LeaseRelease,
  LeaseRenewal,
  NewWorkflow,
  StorageProvider,
  TaskRow,
  RetryRequest,
  WorkflowWrite,
  WorkflowFilter,
  WorkflowRow,
  WorkflowStatus,
  WorkflowWithTasks,
  EndedWorkflowsSelector,
  StatsRequest,
  EndSeriesCount,
  EndSeriesRequest,
  WorkflowStats,
} from "./provider.js"
import { newWorkflowRows } from "./rows.js"
import { MemoryScheduleStore } from "./memory/schedules.js"
import type { ScheduleStore } from "./schedule-store.js"
import { isSelectedEnded, listFiltered, statsOf } from "./memory/inspection.js"
import { endSeriesOf } from "./memory/throughput.js"
import { awaitChildren, pendingDescendants, wakeParent } from "./memory/children.js"
import { MemoryEventStore } from "./memory/events.js"

/** Keeps workflows in a Map. Not durable; one process only. */
export class MemoryStorageProvider implements StorageProvider {
  /** Contract 1, with crash counts, status reads, schedules, inspection, waits, events, children and attempt history. */
  readonly capabilities: StorageCapabilities = {
    contract: STORAGE_CONTRACT_VERSION,
    supports: ["crash-counts", "status-reads", "schedules", "inspection", "waits", "events", "children", "attempt-history"],
  }
  private readonly workflows = new Map<string, WorkflowWithTasks>()
  /** Events, next to the workflows that wait for them. */
  readonly events: MemoryEventStore = new MemoryEventStore({ workflow: (id) => this.workflows.get(id), assertOpen: () => this.assertOpen() })
  /** Schedules, next to the workflows their ticks add. */
  readonly schedules: ScheduleStore = new MemoryScheduleStore({
    insert: (w) => this.insertOne(w),
    status: (id) => this.workflows.get(id)?.workflow.status ?? null,
    assertOpen: () => this.assertOpen(),
  })
  private readonly cancelListeners = new Set<(ids: string[]) => void>()
  private closed = false

  async init(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true
    this.cancelListeners.clear()
  }

  async insertWorkflowsAndTasks(workflows: NewWorkflow[]): Promise<boolean[]> {
    this.assertOpen()
    return workflows.map((w) => this.insertOne(w))
  }

  private insertOne(w: NewWorkflow): boolean {
    if (this.workflows.has(w.id)) return false
    this.workflows.set(w.id, newWorkflowRows(w))
    w.tasks.forEach((t, seq) => {
      if (t.event) this.events.storeWatermark(w.id, seq, t.event)
    })
    return true
  }

  async claimWorkflows(claim: ClaimRequest): Promise<WorkflowWithTasks[]> {
    this.assertOpen()
    const { lease, now, limit, reclaimOwn } = claim
    const claimable = [...this.workflows.values()]
      .filter(({ workflow: w }) => {
        if (w.status !== "pending") return false
        if (w.availableAt <= now) return true
        return reclaimOwn && w.leaseOwner === lease.owner && w.leaseToken !== lease.token
      })
      .sort((a, b) => a.workflow.availableAt - b.workflow.availableAt)
      .slice(0, Math.max(0, limit))
    for (const { workflow } of claimable) {
      if (workflow.leaseToken !== null) workflow.recoveries = (workflow.recoveries ?? 0) + 1
      workflow.leaseOwner = lease.owner
      workflow.leaseToken = lease.token
      workflow.availableAt = lease.expiresAt
    }
    return claimable.map(copy)
  }

  async renewLeases(renewal: LeaseRenewal): Promise<string[]> {
    this.assertOpen()
    return renewal.workflowIDs.filter((id) => {
      const w = this.workflows.get(id)?.workflow
      if (!w || w.status !== "pending" || w.leaseToken !== renewal.token) return false
      w.availableAt = renewal.expiresAt
      return true
    })
  }

  async releaseLeases(release: LeaseRelease): Promise<void> {
    this.assertOpen()
    for (const id of release.workflowIDs) {
      const w = this.workflows.get(id)?.workflow
      if (!w || w.status !== "pending" || w.leaseToken !== release.token) continue
      w.leaseOwner = null
      w.leaseToken = null
      w.availableAt = release.availableAt
    }
  }

  async applyWorkflowWrites(writes: WorkflowWrite[]): Promise<boolean[]> {
    this.assertOpen()
    return writes.map((u) => {
      const entry = this.workflows.get(u.workflowID)
      if (!entry || entry.workflow.status !== "pending" || entry.workflow.leaseToken !== u.token) return false
      const change = u.kind === "markCrash" ? undefined : u.task
      const task = change ? entry.tasks[change.seq] : undefined
      if (change && !task) return false
      if (change && task) {
        task.status = change.status
        task.result = change.result
        task.error = change.error
        task.attempts = change.attempts
        task.wakeAt = change.wakeAt ?? null
        task.updatedAt = u.now
        if (change.eventSeq !== undefined) this.events.storeTaken(u.workflowID, change.seq, change.eventSeq)
        if (change.startedAt !== undefined) {
          task.startedAt = change.startedAt
          task.endedAt = u.now
          task.runnerID = change.runnerID ?? null
        }
        if (change.history !== undefined) task.history = change.history
      }
      const w = entry.workflow
      w.updatedAt = u.now
      w.recoveries = u.counts.recoveries
      w.crashes = u.counts.crashes
      if (u.kind === "endWorkflow" || u.kind === "parkUntil") {
        w.status = u.kind === "endWorkflow" ? u.status : "pending"
        w.leaseOwner = null
        w.leaseToken = null
        if (u.kind === "parkUntil") w.availableAt = u.availableAt
        if (u.kind === "endWorkflow") wakeParent(this.workflows, entry, u.now)
      }
      return true
    })
  }

  async getWorkflow(id: string): Promise<WorkflowWithTasks | null> {
    this.assertOpen()
    const entry = this.workflows.get(id)
    return entry ? copy(entry) : null
  }

  async listWorkflows(filter: WorkflowFilter): Promise<WorkflowRow[]> {
    this.assertOpen()
    return listFiltered(this.workflows.values(), filter)
  }

  async getWorkflowStats(request: StatsRequest): Promise<WorkflowStats> {
    this.assertOpen()
    return statsOf(this.workflows.values(), request)
  }

  async countEndsByInterval(request: EndSeriesRequest): Promise<EndSeriesCount[]> {
    this.assertOpen()
    return endSeriesOf(this.workflows.values(), request)
  }

  async countEndedWorkflows(selector: EndedWorkflowsSelector): Promise<number> {
    this.assertOpen()
    let count = 0
    for (const { workflow } of this.workflows.values()) if (isSelectedEnded(workflow, selector)) count++
    return count
  }

  async deleteEndedWorkflowsByStatus(selector: EndedWorkflowsSelector): Promise<number> {
    this.assertOpen()
    let deleted = 0
    for (const [id, { workflow }] of this.workflows) {
      if (isSelectedEnded(workflow, selector)) {
        this.workflows.delete(id)
        this.events.forget(id, workflow.taskCount)
        deleted++
      }
    }
    return deleted
  }

  async cancelWorkflow(id: string, now: number): Promise<boolean> {
    this.assertOpen()
    const w = this.workflows.get(id)?.workflow
    if (!w || w.status !== "pending") return false
    // The workflow and its pending descendants (children): their parent link is what makes them one tree.
    const tree = [this.workflows.get(id) as WorkflowWithTasks, ...pendingDescendants(this.workflows, id)]
    for (const { workflow } of tree) {
      workflow.status = "cancelled"
      workflow.leaseOwner = null
      workflow.leaseToken = null
      workflow.updatedAt = now
    }
    wakeParent(this.workflows, tree[0] as WorkflowWithTasks, now)
    this.tellCancelled(tree.map((e) => e.workflow.id))
    return true
  }

  async awaitChildren(park: AwaitChildren): Promise<number | null> {
    this.assertOpen()
    return awaitChildren(this.workflows, park)
  }

  async getWorkflows(ids: string[]): Promise<WorkflowWithTasks[]> {
    this.assertOpen()
    const found: WorkflowWithTasks[] = []
    for (const id of new Set(ids)) {
      const entry = this.workflows.get(id)
      if (entry) found.push(copy(entry))
    }
    return found
  }

  async getWorkflowStatuses(ids: string[]): Promise<Array<{ id: string; status: WorkflowStatus }>> {
    this.assertOpen()
    const statuses: Array<{ id: string; status: WorkflowStatus }> = []
    for (const id of new Set(ids)) {
      const w = this.workflows.get(id)?.workflow
      if (w) statuses.push({ id, status: w.status })
    }
    return statuses
  }

  /** Calls `listener` with the IDs of workflows cancelled through this instance (by any runner sharing it). */
  onWorkflowsCancelled(listener: (ids: string[]) => void): () => void {
    const wrapped = (ids: string[]) => listener(ids)
    this.cancelListeners.add(wrapped)
    return () => void this.cancelListeners.delete(wrapped)
  }

  private tellCancelled(ids: string[]): void {
    for (const listener of [...this.cancelListeners]) {
      try {
        listener([...ids])
      } catch {
        // A listener's failure is its own; the cancel has happened.
      }
    }
  }

  async retryWorkflow({ id, now, resumeSeq, counts }: RetryRequest): Promise<boolean> {
    this.assertOpen()
    const entry = this.workflows.get(id)
    if (!entry || entry.workflow.status !== "failed") return false
    const resumed = entry.tasks[resumeSeq]
    if (resumed?.status === "failed") {
      resumed.status = "pending"
      resumed.attempts = 0
      resumed.updatedAt = now
    }
    Object.assign(entry.workflow, { status: "pending", leaseOwner: null, leaseToken: null, availableAt: now, updatedAt: now, ...counts })
    return true
  }

  async deleteEndedWorkflows(endedBefore: number): Promise<number> {
    this.assertOpen()
    let deleted = 0
    for (const [id, { workflow }] of this.workflows) {
      if (workflow.status !== "pending" && workflow.updatedAt < endedBefore) {
        this.workflows.delete(id)
        this.events.forget(id, workflow.taskCount)
        deleted++
      }
    }
    return deleted
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("MemoryStorageProvider is closed")
  }
}

function copy(entry: WorkflowWithTasks): WorkflowWithTasks {
  return { workflow: { ...entry.workflow }, tasks: entry.tasks.map((t: TaskRow) => ({ ...t })) }
}
