/**
 * Schedules of the in-memory provider.
 *
 * @module
 */
import type { NewWorkflow, WorkflowStatus } from "../provider.js"
import type {
  NewSchedule,
  ScheduleAdvance,
  ScheduleAdvanceOutcome,
  ScheduleDeclareOutcome,
  ScheduleFilter,
  ScheduleRow,
  ScheduleStore,
} from "../schedule-store.js"

/** What the schedules need of the memory provider's workflows. */
export interface MemoryWorkflowAccess {
  /** Inserts a workflow as `insertWorkflowsAndTasks` would; `false` if its ID exists. */
  insert(workflow: NewWorkflow): boolean
  status(id: string): WorkflowStatus | null
  assertOpen(): void
}

/** Keeps schedules in a Map, next to the memory provider's workflows. */
export class MemoryScheduleStore implements ScheduleStore {
  private readonly rows = new Map<string, Omit<ScheduleRow, "lastWorkflowStatus">>()

  constructor(private readonly workflows: MemoryWorkflowAccess) {}

  async declareSchedules(schedules: NewSchedule[]): Promise<ScheduleDeclareOutcome[]> {
    this.workflows.assertOpen()
    return schedules.map((s) => {
      const stored = this.rows.get(s.id)
      if (stored?.hash === s.hash) return "unchanged"
      const definition = {
        cron: s.cron,
        timezone: s.timezone,
        tasks: s.tasks,
        overlap: s.overlap,
        catchupWindowMS: s.catchupWindowMS,
        hash: s.hash,
        paused: s.paused,
        nextFireAt: s.nextFireAt,
        bufferedTickAt: null,
        updatedAt: s.now,
      }
      if (stored) {
        Object.assign(stored, definition)
        return "replaced"
      }
      this.rows.set(s.id, {
        id: s.id,
        ...definition,
        lastTickAt: null,
        lastWorkflowID: null,
        skippedTicks: 0,
        lastSkippedTickAt: null,
        lastSkipReason: null,
        createdAt: s.now,
      })
      return "created"
    })
  }

  async schedulesToFire(limit: number): Promise<ScheduleRow[]> {
    this.workflows.assertOpen()
    const active = [...this.rows.values()].filter((r) => !r.paused)
    const soonest = active
      .filter((r) => r.nextFireAt !== null)
      .sort((a, b) => (a.nextFireAt as number) - (b.nextFireAt as number))
      .slice(0, Math.max(0, limit))
    const picked = new Set([...soonest, ...active.filter((r) => r.bufferedTickAt !== null)])
    return [...picked].map((r) => this.withStatus(r))
  }

  async advanceSchedule(a: ScheduleAdvance): Promise<ScheduleAdvanceOutcome> {
    this.workflows.assertOpen()
    const row = this.rows.get(a.id)
    if (!row) return { applied: false, created: false }
    const e = a.expect
    if (e && (row.paused || row.nextFireAt !== e.nextFireAt || row.hash !== e.hash || row.bufferedTickAt !== e.bufferedTickAt)) {
      return { applied: false, created: false }
    }
    if (a.nextFireAt !== undefined) row.nextFireAt = a.nextFireAt
    if (a.bufferedTickAt !== undefined) row.bufferedTickAt = a.bufferedTickAt
    if (a.skip) {
      row.skippedTicks += a.skip.count
      row.lastSkippedTickAt = a.skip.lastTickAt
      row.lastSkipReason = a.skip.reason
    }
    let created = false
    if (a.fire) {
      row.lastTickAt = a.fire.tickAt
      row.lastWorkflowID = a.fire.workflow.id
      created = this.workflows.insert(a.fire.workflow)
    }
    row.updatedAt = a.now
    return { applied: true, created }
  }

  async getSchedule(id: string): Promise<ScheduleRow | null> {
    this.workflows.assertOpen()
    const row = this.rows.get(id)
    return row ? this.withStatus(row) : null
  }

  async listSchedules(filter: ScheduleFilter): Promise<ScheduleRow[]> {
    this.workflows.assertOpen()
    return [...this.rows.values()]
      .filter((r) => filter.afterID === undefined || r.id > filter.afterID)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, filter.limit)
      .map((r) => this.withStatus(r))
  }

  async pauseSchedule(id: string, now: number): Promise<boolean> {
    this.workflows.assertOpen()
    const row = this.rows.get(id)
    if (!row) return false
    if (!row.paused) Object.assign(row, { paused: true, updatedAt: now })
    return true
  }

  async resumeSchedule(id: string, nextFireAt: number | null, now: number): Promise<boolean> {
    this.workflows.assertOpen()
    const row = this.rows.get(id)
    if (!row) return false
    if (row.paused) Object.assign(row, { paused: false, nextFireAt, bufferedTickAt: null, updatedAt: now })
    return true
  }

  async deleteSchedule(id: string): Promise<boolean> {
    this.workflows.assertOpen()
    return this.rows.delete(id)
  }

  private withStatus(row: Omit<ScheduleRow, "lastWorkflowStatus">): ScheduleRow {
    return { ...row, lastWorkflowStatus: row.lastWorkflowID === null ? null : this.workflows.status(row.lastWorkflowID) }
  }
}
