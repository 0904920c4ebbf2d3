/**
 * What users read back about schedules: stored rows as plain objects with
 * dates and parsed task data.
 *
 * @module
 */
import { fromJSONText } from "../json.js"
import type { WorkflowStatus } from "../storage/provider.js"
import type { OverlapPolicy, ScheduleDeclareOutcome, ScheduleRow } from "../storage/schedule-store.js"
import { parseStoredTasks } from "./definition.js"

/** A schedule as `listSchedules` and `getSchedule` return it. */
export interface ScheduleInfo {
  id: string
  cron: string
  /** `null` for UTC. */
  timezone: string | null
  overlap: OverlapPolicy
  /** `null`: only the latest missed tick fires. */
  catchupWindowMS: number | null
  paused: boolean
  /** The tasks each tick's workflow gets. */
  tasks: Array<{ name: string; task: string; data: unknown }>
  /** The next tick not yet fired (while paused: the one it had when paused), or `null` if the expression has no further tick. */
  nextFireAt: Date | null
  /** The tick whose workflow was added last, or `null`. */
  lastFireAt: Date | null
  /** That workflow and its status (`null` if it no longer exists, e.g. deleted by retention), or `null`. */
  lastWorkflow: { id: string; status: WorkflowStatus | null } | null
  /** A tick held back by `buffer-one` until the last workflow ends, or `null`. */
  bufferedTickAt: Date | null
  /** How many ticks were skipped, ever (overlap, or missed beyond the catch-up window). */
  skippedTicks: number
  /** The latest skipped tick and why, or `null`. */
  lastSkip: { tickAt: Date; reason: string } | null
  /** Hash of the stored definition; two runners that declare one ID differently show as a hash that changes. */
  definitionHash: string
  createdAt: Date
  updatedAt: Date
}

/** What `schedule()` did with a declaration. */
export interface ScheduleDeclared {
  id: string
  /** `created`, `replaced` (the stored definition differed), or `unchanged`. */
  outcome: ScheduleDeclareOutcome
  /** The first tick to fire, or `null` if the expression has none (or `unchanged`: the stored one). */
  nextFireAt: Date | null
}

/** @internal */
export function toScheduleInfo(row: ScheduleRow): ScheduleInfo {
  const date = (ms: number | null) => (ms === null ? null : new Date(ms))
  return {
    id: row.id,
    cron: row.cron,
    timezone: row.timezone,
    overlap: row.overlap,
    catchupWindowMS: row.catchupWindowMS,
    paused: row.paused,
    tasks: parseStoredTasks(row.id, row.tasks).map((t) => ({ name: t.name, task: t.task, data: fromJSONText(t.data) })),
    nextFireAt: date(row.nextFireAt),
    lastFireAt: date(row.lastTickAt),
    lastWorkflow: row.lastWorkflowID === null ? null : { id: row.lastWorkflowID, status: row.lastWorkflowStatus },
    bufferedTickAt: date(row.bufferedTickAt),
    skippedTicks: row.skippedTicks,
    lastSkip: row.lastSkippedTickAt === null ? null : { tickAt: new Date(row.lastSkippedTickAt), reason: row.lastSkipReason ?? "" },
    definitionHash: row.hash,
    createdAt: new Date(row.createdAt),
    updatedAt: new Date(row.updatedAt),
  }
}
