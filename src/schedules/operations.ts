/**
 * The schedule methods of the WorkflowClient (and so of the runner): declare,
 * pause, resume, trigger, delete, read. Each checks its input, then makes one
 * provider call.
 *
 * @module
 */
import { ValidationError } from "../errors.js"
import { requireCapability, requireStepCapabilities } from "../storage/capabilities.js"
import type { StorageCapability, StorageProvider } from "../storage/provider.js"
import type { ScheduleStore } from "../storage/schedule-store.js"
import { validatePositiveNumber, validateWorkflowID } from "../validate.js"
import { cronTicker } from "./cron.js"
import { parseStoredTasks, tickWorkflow, validateSchedule, type ValidatedSchedule } from "./definition.js"
import { toScheduleInfo, type ScheduleDeclared, type ScheduleInfo } from "./info.js"

/** Filter of `listSchedules`. */
export interface ListSchedulesFilter {
  /** Continue after this ID (the last ID of the previous page). */
  afterID?: string
  /** Page size, 1 to 1,000. Default 100. */
  limit?: number
}

/** What the schedule methods need from the client they serve. */
export interface ScheduleOperationsContext {
  storage: StorageProvider
  /** The provider's capabilities (read when a schedule method is first called). */
  capabilities: () => ReadonlySet<StorageCapability>
  now: () => number
  isRegistered: (name: string) => boolean
  registryName: string
  maxPayloadBytes: number
  /** Creates tables on first use. */
  init: () => Promise<void>
}

/** Schedule methods over a provider with the `schedules` capability. */
export class ScheduleOperations {
  constructor(private readonly c: ScheduleOperationsContext) {}

  /** Checks a declaration (nothing written). */
  validate(definition: unknown): ValidatedSchedule {
    this.store("schedule()")
    const valid = validateSchedule(definition, this.c.now(), this.c.isRegistered, this.c.maxPayloadBytes, this.c.registryName)
    requireStepCapabilities(parseStoredTasks(valid.schedule.id, valid.schedule.tasks), this.c.capabilities())
    return valid
  }

  /** Stores a checked declaration: creates it, replaces a stored one with another hash, or leaves an equal one. */
  async declare(valid: ValidatedSchedule): Promise<ScheduleDeclared> {
    const store = this.store("schedule()")
    await this.c.init()
    const [outcome = "unchanged"] = await store.declareSchedules([valid.schedule])
    let nextFireAt = valid.schedule.nextFireAt
    if (outcome === "unchanged") nextFireAt = (await store.getSchedule(valid.schedule.id))?.nextFireAt ?? null
    return { id: valid.schedule.id, outcome, nextFireAt: nextFireAt === null ? null : new Date(nextFireAt) }
  }

  async pause(id: string): Promise<boolean> {
    const store = this.store("pauseSchedule()")
    validateWorkflowID(id, "schedule id")
    await this.c.init()
    return store.pauseSchedule(id, this.c.now())
  }

  /** Resumes from the first tick after now: ticks of the paused time never fire. */
  async resume(id: string): Promise<boolean> {
    const store = this.store("resumeSchedule()")
    validateWorkflowID(id, "schedule id")
    await this.c.init()
    const row = await store.getSchedule(id)
    if (!row) return false
    const now = this.c.now()
    return store.resumeSchedule(id, cronTicker(row.cron, row.timezone).next(now), now)
  }

  /** Adds the schedule's workflow now, once, whatever its state; `null` if there is no such schedule. */
  async trigger(id: string): Promise<{ workflowID: string; created: boolean } | null> {
    const store = this.store("triggerSchedule()")
    validateWorkflowID(id, "schedule id")
    await this.c.init()
    const row = await store.getSchedule(id)
    if (!row) return null
    const now = this.c.now()
    const workflow = tickWorkflow(id, row.tasks, now, now)
    const { applied, created } = await store.advanceSchedule({ id, now, fire: { tickAt: now, workflow } })
    return applied ? { workflowID: workflow.id, created } : null
  }

  async delete(id: string): Promise<boolean> {
    const store = this.store("deleteSchedule()")
    validateWorkflowID(id, "schedule id")
    await this.c.init()
    return store.deleteSchedule(id)
  }

  async get(id: string): Promise<ScheduleInfo | null> {
    const store = this.store("getSchedule()")
    validateWorkflowID(id, "schedule id")
    await this.c.init()
    const row = await store.getSchedule(id)
    return row ? toScheduleInfo(row) : null
  }

  async list(filter: ListSchedulesFilter = {}): Promise<ScheduleInfo[]> {
    const store = this.store("listSchedules()")
    if (typeof filter !== "object" || filter === null) throw new ValidationError("listSchedules takes a filter object")
    if (filter.afterID !== undefined) validateWorkflowID(filter.afterID, "afterID")
    const limit = validatePositiveNumber(filter.limit ?? 100, "limit", { integer: true })
    if (limit > 1_000) throw new ValidationError(`limit must be at most 1000, got ${limit}`)
    await this.c.init()
    const rows = await store.listSchedules({ limit, ...(filter.afterID === undefined ? {} : { afterID: filter.afterID }) })
    return rows.map(toScheduleInfo)
  }

  private store(method: string): ScheduleStore {
    requireCapability(this.c.capabilities(), "schedules", method)
    const store = this.c.storage.schedules
    if (!store) throw new ValidationError(`${method} needs storageProvider.schedules, which this provider does not have`)
    return store
  }
}
