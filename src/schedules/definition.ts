/**
 * A schedule as the user declares it: its public type, its checks, its hash
 * (which tells a changed definition from the stored one), and the workflow
 * each tick adds.
 *
 * @module
 */
import { createHash } from "node:crypto"
import { ValidationError } from "../errors.js"
import { refuseUnknownKeys } from "../known-keys.js"
import type { NewTask, NewWorkflow } from "../storage/provider.js"
import { OVERLAP_POLICIES, type NewSchedule, type OverlapPolicy } from "../storage/schedule-store.js"
import { MAX_WORKFLOW_ID_LENGTH, validatePositiveNumber, validateWorkflowID, validateWorkflowInput } from "../validate.js"
import { cronTicker, type CronTicker } from "./cron.js"

/**
 * A schedule: a workflow added at every tick of a cron expression, exactly
 * once across all runners sharing the store.
 *
 * @typeParam Tasks - the `tasks` of `addWorkflow` (typed by the runners when declared on a typed runner or client)
 */
export interface ScheduleDefinition<Tasks = unknown> {
  /** Unique ID of the schedule. Each tick's workflow gets the ID `schedule:${id}:${tickISO}`. */
  id: string
  /**
   * Cron expression: 5 fields (`"30 2 * * *"`: 02:30 every day), or 6 with
   * seconds first (`"*\/10 * * * * *"`: every ten seconds), or 7 with years last.
   */
  cron: string
  /** IANA time zone the expression is read in (`"Europe/Berlin"`). Default UTC. */
  timezone?: string
  /** The workflow each tick adds: its `tasks`, as in `addWorkflow`. */
  workflow: { tasks: Tasks }
  /**
   * A tick that falls due while the previous tick's workflow is still pending:
   * `"skip"` (default) skips it (recorded in `skippedTicks`); `"buffer-one"`
   * holds it back and adds it once that workflow has ended (one at most; a
   * further tick meanwhile is skipped); `"allow"` adds it at once.
   */
  overlap?: OverlapPolicy
  /**
   * Ticks missed while no runner ran fire late if they are at most this old
   * (ms); older ones are skipped and recorded. Default: only the latest missed
   * tick fires.
   */
  catchupWindowMS?: number
  /**
   * Declared paused: fires nothing until `resumeSchedule`. Applies when the
   * schedule is created or its definition changes; a pause or resume made
   * since is otherwise kept.
   */
  paused?: boolean
}

/** The keys of a {@link ScheduleDefinition}. */
const SCHEDULE_KEYS: ReadonlyArray<keyof ScheduleDefinition> = ["id", "cron", "timezone", "workflow", "overlap", "catchupWindowMS", "paused"]

/** A checked declaration: the row to store, and its ticks. */
export interface ValidatedSchedule {
  schedule: NewSchedule
  ticker: CronTicker
}

/** Longest schedule ID: its ticks' workflow IDs must fit {@link MAX_WORKFLOW_ID_LENGTH}. */
const MAX_SCHEDULE_ID_LENGTH = MAX_WORKFLOW_ID_LENGTH - "schedule:".length - ":".length - "+275760-09-13T00:00:00.000Z".length

/**
 * Checks a declaration and builds the row to store, with its first tick after `now`.
 *
 * @param isRegistered - whether a runner name is known to the caller
 * @param registryName - who does not know an unregistered name, for its error message
 * @throws ValidationError (or SerializationError for task data) saying what is wrong
 */
export function validateSchedule(
  definition: unknown,
  now: number,
  isRegistered: (name: string) => boolean,
  maxPayloadBytes: number,
  registryName: string,
): ValidatedSchedule {
  if (typeof definition !== "object" || definition === null) {
    throw new ValidationError("schedule takes { id, cron, timezone?, workflow: { tasks }, overlap?, catchupWindowMS?, paused? }")
  }
  const d = definition as Partial<Record<keyof ScheduleDefinition, unknown>>
  refuseUnknownKeys(definition, SCHEDULE_KEYS, typeof d.id === "string" ? `schedule ${JSON.stringify(d.id)}` : "schedule")
  const id = validateWorkflowID(d.id, "schedule id")
  if (id.length > MAX_SCHEDULE_ID_LENGTH) {
    throw new ValidationError(`schedule id is ${id.length} characters long; the limit is ${MAX_SCHEDULE_ID_LENGTH} (its ticks' workflow IDs must fit)`)
  }
  if (typeof d.cron !== "string" || d.cron.trim() === "") throw new ValidationError(`schedule "${id}": cron must be a non-empty string`)
  const cron = d.cron.trim()
  if (d.timezone !== undefined && (typeof d.timezone !== "string" || d.timezone === "")) {
    throw new ValidationError(`schedule "${id}": timezone must be an IANA time zone name such as "Europe/Berlin"`)
  }
  const timezone = (d.timezone as string | undefined) ?? null
  const ticker = cronTicker(cron, timezone)
  const overlap = d.overlap ?? "skip"
  if (!OVERLAP_POLICIES.includes(overlap as OverlapPolicy)) {
    throw new ValidationError(`schedule "${id}": overlap must be one of ${OVERLAP_POLICIES.map((p) => `"${p}"`).join(", ")}, got ${JSON.stringify(overlap)}`)
  }
  const catchupWindowMS =
    d.catchupWindowMS === undefined ? null : validatePositiveNumber(d.catchupWindowMS, `schedule "${id}": catchupWindowMS`, { allowZero: true })
  if (d.paused !== undefined && typeof d.paused !== "boolean") throw new ValidationError(`schedule "${id}": paused must be a boolean`)
  const paused = d.paused ?? false
  if (typeof d.workflow !== "object" || d.workflow === null) throw new ValidationError(`schedule "${id}": workflow must be { tasks }`)
  // Its ID is the tick's (see scheduleWorkflowID): a workflowID here would be ignored, so it is refused.
  refuseUnknownKeys(d.workflow, ["tasks"], `the workflow of schedule "${id}"`)
  const { tasks } = validateWorkflowInput({ tasks: (d.workflow as { tasks?: unknown }).tasks }, isRegistered, maxPayloadBytes, registryName)
  const tasksText = JSON.stringify(tasks)
  const hash = createHash("sha256")
    .update(JSON.stringify([cron, timezone, tasksText, overlap, catchupWindowMS, paused]))
    .digest("hex")
    .slice(0, 32)
  return {
    schedule: { id, cron, timezone, tasks: tasksText, overlap: overlap as OverlapPolicy, catchupWindowMS, hash, paused, nextFireAt: ticker.next(now), now },
    ticker,
  }
}

/** The ID of the workflow a tick adds: the same in every runner, so a double fire adds it once. */
export function scheduleWorkflowID(scheduleID: string, tickAt: number): string {
  return `schedule:${scheduleID}:${new Date(tickAt).toISOString()}`
}

/**
 * The workflow a tick adds, from the stored tasks.
 *
 * @throws Error when the stored tasks are not what a declaration writes (a damaged or foreign row)
 */
export function tickWorkflow(scheduleID: string, storedTasks: string, tickAt: number, now: number): NewWorkflow {
  return { id: scheduleWorkflowID(scheduleID, tickAt), now, tasks: parseStoredTasks(scheduleID, storedTasks) }
}

/** Reads stored tasks back; they are `unknown` until checked (a stored row outlives the code that wrote it). */
export function parseStoredTasks(scheduleID: string, text: string): NewTask[] {
  const parsed: unknown = JSON.parse(text)
  const valid =
    Array.isArray(parsed) &&
    parsed.length > 0 &&
    parsed.every(
      (t: unknown) =>
        typeof t === "object" &&
        t !== null &&
        typeof (t as NewTask).name === "string" &&
        typeof (t as NewTask).task === "string" &&
        typeof (t as NewTask).data === "string",
    )
  if (!valid) throw new Error(`schedule "${scheduleID}" has stored tasks this durabletasks cannot read; declare it again`)
  // A step of another kind keeps its kind (child workflows and parallel steps too, or a tick would run them as tasks named "");
  // a task is stored without one (so its definition hashes as before step kinds).
  return (parsed as NewTask[]).map(({ name, task, data, kind, event }) =>
    kind === "waitForEvent" && event
      ? { name, task, data, kind, event }
      : kind === "sleep" || kind === "workflow" || kind === "parallel"
        ? { name, task, data, kind }
        : { name, task, data },
  )
}
