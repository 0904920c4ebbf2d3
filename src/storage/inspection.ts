/**
 * The reads of the storage contract's `inspection` capability (the CLI and
 * the dashboard): the filter of `listWorkflows` (whose fields beyond status,
 * `afterID` and `limit` are the capability's), stats, ends per interval, and
 * the selector of ended workflows to count or delete.
 *
 * @module
 */
import type { EndedStatus, WorkflowStatus } from "./workflow-rows.js"

/** Filter of {@link StorageProvider.listWorkflows}. */
export interface WorkflowFilter {
  status?: WorkflowStatus
  /** Only workflows whose ID sorts after this (keyset pagination). */
  afterID?: string
  /** At most this many rows; the provider may cap it. */
  limit: number
  /** Only workflows with a task run by the TaskRunner of this name (`inspection`). */
  runner?: string
  /** Only workflows created at or after this time (`inspection`). */
  createdAfter?: number
  /** Only workflows created before this time (`inspection`). */
  createdBefore?: number
  /** Only workflows whose ID starts with this (`inspection`). */
  idPrefix?: string
  /**
   * `"id"` (default): ID order, continued by `afterID`. `"newest"`
   * (`inspection`): newest `createdAt` first, equal times by ID descending,
   * continued by `cursor`.
   */
  order?: "id" | "newest"
  /** With `order: "newest"`: only workflows after this one in that order (the last row of the previous page). */
  cursor?: { createdAt: number; id: string }
}

/** Input of {@link StorageProvider.getWorkflowStats}. */
export interface StatsRequest {
  /** Workflows that ended at or after this time (by `updatedAt`) are counted in `endedSince`. */
  endedSince: number
}

/** What {@link StorageProvider.getWorkflowStats} returns. */
export interface WorkflowStats {
  /** How many workflows have each status (every status present, 0 when none). */
  counts: Record<WorkflowStatus, number>
  /** The pending workflow created first, or `null` when none is pending. */
  oldestPending: { id: string; createdAt: number } | null
  /** How many workflows have ended with each status since `endedSince` (every ended status present). */
  endedSince: Record<EndedStatus, number>
}

/** Input of {@link StorageProvider.countEndsByInterval}. */
export interface EndSeriesRequest {
  /** The start of the first interval: workflows that ended (by `updatedAt`) at or after it count. */
  since: number
  /** The length of each interval, a whole number of ms >= 1. */
  intervalMS: number
}

/** How many workflows ended with one status within one interval. */
export interface EndSeriesCount {
  /** The interval's start: `since + k × intervalMS`. */
  start: number
  status: EndedStatus
  /** At least 1: intervals with none are left out. */
  count: number
}

/** Which ended workflows {@link StorageProvider.countEndedWorkflows} and {@link StorageProvider.deleteEndedWorkflowsByStatus} mean. */
export interface EndedWorkflowsSelector {
  /** Only workflows whose `updatedAt` is before this. */
  endedBefore: number
  /** Only workflows with one of these statuses (an empty list selects none). */
  statuses: readonly EndedStatus[]
}
