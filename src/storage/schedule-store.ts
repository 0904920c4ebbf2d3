/**
 * The storage contract of schedules (the `schedules` capability): a provider
 * that has it exposes a {@link ScheduleStore} as `provider.schedules`.
 *
 * A schedule row holds its definition and its state: the next fire time,
 * the last tick fired, a buffered tick, skip counts. The runner decides what
 * each tick does (fire, skip, buffer, catch up: see src/schedules/plan.ts);
 * the provider applies each step atomically, as a compare-and-set on the
 * state the runner read, so that among any number of runners exactly one
 * step consumes each tick. Like the rest of the contract, it never reads a
 * clock: every time comes from the caller.
 *
 * @module
 */
import type { WorkflowStatus } from "./workflow-rows.js"
import type { NewTask, NewWorkflow } from "./workflow-writes.js"

/** What a schedule does with a tick that falls due while the previous tick's workflow is still pending. */
export type OverlapPolicy = "skip" | "buffer-one" | "allow"

/** Every overlap policy. */
export const OVERLAP_POLICIES: readonly OverlapPolicy[] = ["skip", "buffer-one", "allow"]

/** A schedule row as stored, with the status of its last tick's workflow. */
export interface ScheduleRow {
  /** Unique in the store. */
  id: string
  /** The cron expression (5, 6 or 7 fields), as declared. */
  cron: string
  /** IANA time zone the expression is read in; `null` for UTC. */
  timezone: string | null
  /** JSON text of the tasks of each tick's workflow: an array of {@link NewTask}. */
  tasks: string
  overlap: OverlapPolicy
  /** How far back missed ticks still fire; `null` for the latest missed tick only. */
  catchupWindowMS: number | null
  /** Hash of the definition (cron, time zone, tasks, overlap, catch-up window, paused as declared). */
  hash: string
  /** A paused schedule fires nothing until resumed. */
  paused: boolean
  /** The next tick not yet consumed, or `null` when the expression has no further tick. */
  nextFireAt: number | null
  /** A tick held back (policy `buffer-one`) until the previous tick's workflow ends, or `null`. */
  bufferedTickAt: number | null
  /** The tick whose workflow was added last (fired, buffered or triggered), or `null`. */
  lastTickAt: number | null
  /** The ID of that workflow, or `null`. */
  lastWorkflowID: string | null
  /** Its status, read together with the row; `null` when there is none or it was deleted (retention). */
  lastWorkflowStatus: WorkflowStatus | null
  /** How many ticks were skipped (overlap or missed beyond the catch-up window), ever. */
  skippedTicks: number
  /** The latest skipped tick, or `null`. */
  lastSkippedTickAt: number | null
  /** Why it was skipped, or `null`. */
  lastSkipReason: string | null
  createdAt: number
  updatedAt: number
}

/** A schedule as declared, to store by {@link ScheduleStore.declareSchedules}. */
export interface NewSchedule {
  id: string
  cron: string
  timezone: string | null
  /** JSON text of an array of {@link NewTask}. */
  tasks: string
  overlap: OverlapPolicy
  catchupWindowMS: number | null
  hash: string
  paused: boolean
  /** The first tick after `now` (the runner computes it). */
  nextFireAt: number | null
  now: number
}

/**
 * What a declaration did: `created` (no schedule had this ID), `replaced`
 * (one had another hash: its definition, pause state and next fire time were
 * replaced, its buffered tick dropped, its history kept), or `unchanged`
 * (one had this hash: nothing was written).
 */
export type ScheduleDeclareOutcome = "created" | "replaced" | "unchanged"

/**
 * One step of a schedule, applied atomically.
 *
 * With `expect`, it applies only if the stored schedule is not paused and
 * its `nextFireAt`, `hash` and `bufferedTickAt` still equal the expected
 * values (`null` equals `null`): the compare-and-set that makes each tick
 * consumed once. Without `expect` (a manual trigger) it applies if the
 * schedule exists.
 *
 * When it applies: `nextFireAt` and `bufferedTickAt` are set when given
 * (`undefined` keeps the stored value); `skip` adds its count to
 * `skippedTicks` and sets `lastSkippedTickAt` and `lastSkipReason`; `fire`
 * sets `lastTickAt` and `lastWorkflowID` and inserts its workflow in the same
 * transaction, as `insertWorkflowsAndTasks` would (an existing ID is left as
 * it is). `updatedAt` becomes `now`.
 */
export interface ScheduleAdvance {
  id: string
  now: number
  expect?: { nextFireAt: number | null; hash: string; bufferedTickAt: number | null }
  nextFireAt?: number | null
  bufferedTickAt?: number | null
  skip?: { count: number; lastTickAt: number; reason: string }
  fire?: { tickAt: number; workflow: NewWorkflow }
}

/** What {@link ScheduleStore.advanceSchedule} did. */
export interface ScheduleAdvanceOutcome {
  /** Whether the step applied (`false`: the compare-and-set failed, or no such schedule). */
  applied: boolean
  /** Whether its `fire` inserted the workflow (`false` also when the ID existed). */
  created: boolean
}

/** Filter of {@link ScheduleStore.listSchedules}. */
export interface ScheduleFilter {
  /** Only schedules whose ID sorts after this (keyset pagination). */
  afterID?: string
  /** At most this many rows. */
  limit: number
}

/** The schedule operations of a provider with the `schedules` capability. */
export interface ScheduleStore {
  /**
   * Stores each declared schedule: inserts it if its ID is new; replaces the
   * stored one if its hash differs (see {@link ScheduleDeclareOutcome});
   * changes nothing if the hash is equal. Returns an outcome per input.
   */
  declareSchedules(schedules: NewSchedule[]): Promise<ScheduleDeclareOutcome[]>

  /**
   * The `limit` unpaused schedules with the earliest `nextFireAt` (those
   * without one left out), earliest first, plus every unpaused schedule with
   * a buffered tick; each with its last workflow's status.
   */
  schedulesToFire(limit: number): Promise<ScheduleRow[]>

  /** Applies one step (see {@link ScheduleAdvance}). */
  advanceSchedule(advance: ScheduleAdvance): Promise<ScheduleAdvanceOutcome>

  /** Reads one schedule, or `null`. */
  getSchedule(id: string): Promise<ScheduleRow | null>

  /** Lists schedules in ID order. */
  listSchedules(filter: ScheduleFilter): Promise<ScheduleRow[]>

  /** Pauses a schedule; `false` if there is none with that ID. Pausing a paused one changes nothing. */
  pauseSchedule(id: string, now: number): Promise<boolean>

  /**
   * Resumes a paused schedule from `nextFireAt` (its buffered tick dropped);
   * `false` if there is none with that ID. Resuming an unpaused one changes nothing.
   */
  resumeSchedule(id: string, nextFireAt: number | null, now: number): Promise<boolean>

  /** Deletes a schedule (the workflows it added stay); `false` if there was none. */
  deleteSchedule(id: string): Promise<boolean>
}

export type { NewTask }
