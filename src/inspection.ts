/**
 * What the client reads and deletes for people looking at a store (the CLI,
 * the dashboard): filtered listing, stats and purge by status. The checks on
 * their input live here, next to the one type each check guards; the client
 * methods only call them.
 *
 * @module
 */
import { ValidationError } from "./errors.js"
import { capabilitiesOf, requireCapability } from "./storage/capabilities.js"
import { usesInspectionFields } from "./storage/filter.js"
import type { EndedStatus, StorageProvider, WorkflowFilter, WorkflowStatus } from "./storage/provider.js"
import { WORKFLOW_STATUSES } from "./storage/provider.js"
import { validatePositiveNumber, validateStoredName, validateWorkflowID } from "./validate.js"

/** Filter of `listWorkflows`. Fields other than `status`, `afterID` and `limit` need a provider with `inspection`. */
export interface ListWorkflowsFilter {
  status?: WorkflowStatus
  /** With ID order: continue after this ID (the last ID of the previous page). */
  afterID?: string
  /** Page size, 1 to 1,000. Default 100. */
  limit?: number
  /** Only workflows with a task run by the TaskRunner of this name. */
  runner?: string
  /** Only workflows created at or after this time. */
  createdAfter?: Date | number
  /** Only workflows created before this time. */
  createdBefore?: Date | number
  /** Only workflows whose ID starts with this. */
  idPrefix?: string
  /** `"id"` (default): ID order, continued by `afterID`. `"newest"`: newest first, continued by `cursor`. */
  order?: "id" | "newest"
  /** With `order: "newest"`: the last workflow of the previous page (a {@link WorkflowSummary} will do). */
  cursor?: { id: string; createdAt: Date | number }
}

/** What `getWorkflowStats` returns. */
export interface WorkflowStatsInfo {
  /** How many workflows have each status. */
  counts: Record<WorkflowStatus, number>
  /** The pending workflow created first, or `null` when none is pending. */
  oldestPending: { id: string; createdAt: Date } | null
  /** The window `endedInWindow` counts over, in ms back from the read. */
  windowMS: number
  /** How many workflows ended with each status within the window (by their last change). */
  endedInWindow: Record<EndedStatus, number>
}

/** Options of `getWorkflowStats`. */
export interface WorkflowStatsOptions {
  /** How far back `endedInWindow` counts. Default one hour. */
  windowMS?: number
}

/** Options of `deleteEndedWorkflows`. */
export interface DeleteEndedOptions {
  /** Only workflows with these statuses. Default all ended ones (`completed`, `failed`, `cancelled`). Needs `inspection` unless all three. */
  statuses?: readonly EndedStatus[]
  /** Count what would be deleted, and delete nothing. Needs `inspection`. */
  dryRun?: boolean
}

/** The ended statuses, in the order a listing shows them. */
export const ENDED_STATUSES: readonly EndedStatus[] = ["completed", "failed", "cancelled"]

/**
 * Checks a `listWorkflows` filter and turns it into the provider's.
 *
 * @throws ValidationError for a bad field, or a field the provider cannot serve
 */
export function toWorkflowFilter(filter: ListWorkflowsFilter, storage: StorageProvider): WorkflowFilter {
  if (typeof filter !== "object" || filter === null) throw new ValidationError("listWorkflows takes a filter object")
  if (filter.status !== undefined && !WORKFLOW_STATUSES.includes(filter.status)) {
    throw new ValidationError(`status must be one of ${WORKFLOW_STATUSES.join(", ")}, got ${JSON.stringify(filter.status)}`)
  }
  const limit = validatePositiveNumber(filter.limit ?? 100, "limit", { integer: true })
  if (limit > 1_000) throw new ValidationError(`limit must be at most 1000, got ${limit}`)
  const order = filter.order ?? "id"
  if (order !== "id" && order !== "newest") throw new ValidationError(`order must be "id" or "newest", got ${JSON.stringify(order)}`)
  const result: WorkflowFilter = { status: filter.status, limit }
  if (filter.afterID !== undefined) {
    if (order === "newest") throw new ValidationError('afterID continues the ID order; with order "newest" pass cursor (the last workflow of the page)')
    result.afterID = validateWorkflowID(filter.afterID, "afterID")
  }
  if (filter.cursor !== undefined) {
    if (order !== "newest") throw new ValidationError('cursor continues order "newest"; in ID order pass afterID')
    if (typeof filter.cursor !== "object" || filter.cursor === null) throw new ValidationError("cursor must be { id, createdAt }")
    result.cursor = { id: validateWorkflowID(filter.cursor.id, "cursor.id"), createdAt: toTime(filter.cursor.createdAt, "cursor.createdAt") }
  }
  if (order === "newest") result.order = "newest"
  if (filter.runner !== undefined) result.runner = validateName(filter.runner, "runner")
  if (filter.idPrefix !== undefined) result.idPrefix = validateName(filter.idPrefix, "idPrefix")
  if (filter.createdAfter !== undefined) result.createdAfter = toTime(filter.createdAfter, "createdAfter")
  if (filter.createdBefore !== undefined) result.createdBefore = toTime(filter.createdBefore, "createdBefore")
  if (usesInspectionFields(result)) {
    requireCapability(capabilitiesOf(storage), "inspection", "listWorkflows with runner, createdAfter/Before, idPrefix or order")
  }
  return result
}

/**
 * Checks `deleteEndedWorkflows` options: the statuses to delete, and whether
 * the provider must have `inspection` for them.
 *
 * @throws ValidationError for an unknown status, or options the provider cannot serve
 */
export function endedStatusesOf(options: DeleteEndedOptions, storage: StorageProvider): { statuses: EndedStatus[]; needsInspection: boolean } {
  if (typeof options !== "object" || options === null) throw new ValidationError("deleteEndedWorkflows options must be an object")
  const given = options.statuses ?? ENDED_STATUSES
  if (!Array.isArray(given)) throw new ValidationError("statuses must be an array of ended statuses")
  for (const status of given) {
    if (!ENDED_STATUSES.includes(status)) {
      throw new ValidationError(`statuses may hold ${ENDED_STATUSES.join(", ")} (pending workflows are never deleted), got ${JSON.stringify(status)}`)
    }
  }
  const statuses = [...new Set(given)]
  const needsInspection = options.dryRun === true || statuses.length < ENDED_STATUSES.length
  if (needsInspection) requireCapability(capabilitiesOf(storage), "inspection", "deleteEndedWorkflows with statuses or dryRun")
  return { statuses, needsInspection }
}

/** Checks the stats window. */
export function statsWindowOf(options: WorkflowStatsOptions, storage: StorageProvider): number {
  if (typeof options !== "object" || options === null) throw new ValidationError("getWorkflowStats options must be an object")
  requireCapability(capabilitiesOf(storage), "inspection", "getWorkflowStats")
  return validatePositiveNumber(options.windowMS ?? 3_600_000, "windowMS")
}

function validateName(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") throw new ValidationError(`${what} must be a non-empty string`)
  return validateStoredName(value, what)
}

function toTime(value: unknown, what: string): number {
  const ms = value instanceof Date ? value.getTime() : value
  if (typeof ms !== "number" || !Number.isFinite(ms)) throw new ValidationError(`${what} must be a Date or a time in ms since the epoch`)
  return ms
}
