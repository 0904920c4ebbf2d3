/**
 * What a schedule does next, decided from its stored row and the time: the
 * pure policy of schedules (catch-up, overlap, buffered ticks). The
 * scheduler service applies each step through the provider as a
 * compare-and-set on the row it read, so whichever runner's step applies
 * first consumes the tick and every other runner's step for it is refused.
 *
 * @module
 */
import type { ScheduleAdvance, ScheduleRow } from "../storage/schedule-store.js"
import type { CronTicker } from "./cron.js"
import { tickWorkflow } from "./definition.js"

/** At most this many missed ticks are counted in one step; a longer outage takes several steps. */
export const MAX_TICKS_PER_STEP = 10_000

/** One step of a schedule, and what it means, for events and logs. */
export type ScheduleStep =
  | { kind: "fire"; tickAt: number; workflowID: string; advance: ScheduleAdvance }
  | { kind: "skip"; tickAt: number; count: number; reason: string; advance: ScheduleAdvance }
  | { kind: "buffer"; tickAt: number; advance: ScheduleAdvance }

/** Why ticks missed while no runner ran are skipped. */
export const MISSED_REASON = "missed while no runner ran, and older than the catch-up window"

/**
 * The next step of `row` at `now`, or `null` when nothing is due.
 *
 * In order: a buffered tick fires once the previous tick's workflow is no
 * longer pending; missed ticks older than the catch-up window (by default,
 * all missed ticks but the latest, which always fires) are skipped in one step; then the due
 * tick fires, or, while the previous tick's workflow is pending, is skipped
 * (`skip`), held back (`buffer-one`) or fired all the same (`allow`).
 */
export function planScheduleStep(row: ScheduleRow, now: number, ticker: CronTicker): ScheduleStep | null {
  if (row.paused) return null
  const expect = { nextFireAt: row.nextFireAt, hash: row.hash, bufferedTickAt: row.bufferedTickAt }
  const previousPending = row.lastWorkflowStatus === "pending"

  if (row.bufferedTickAt !== null && !previousPending) {
    const tickAt = row.bufferedTickAt
    const workflow = tickWorkflow(row.id, row.tasks, tickAt, now)
    return { kind: "fire", tickAt, workflowID: workflow.id, advance: { id: row.id, now, expect, bufferedTickAt: null, fire: { tickAt, workflow } } }
  }

  const due = row.nextFireAt
  if (due === null || due > now) return null

  const missed = missedTicks(row, due, now, ticker)
  if (missed !== null) {
    return {
      kind: "skip",
      tickAt: missed.lastSkipped,
      count: missed.count,
      reason: MISSED_REASON,
      advance: { id: row.id, now, expect, nextFireAt: missed.resumeAt, skip: { count: missed.count, lastTickAt: missed.lastSkipped, reason: MISSED_REASON } },
    }
  }

  const after = ticker.next(due)
  if (previousPending && row.overlap === "skip") {
    const reason = `the previous tick's workflow "${row.lastWorkflowID}" was still pending (overlap "skip")`
    return { kind: "skip", tickAt: due, count: 1, reason, advance: { id: row.id, now, expect, nextFireAt: after, skip: { count: 1, lastTickAt: due, reason } } }
  }
  if (previousPending && row.overlap === "buffer-one") {
    if (row.bufferedTickAt === null) return { kind: "buffer", tickAt: due, advance: { id: row.id, now, expect, nextFireAt: after, bufferedTickAt: due } }
    const reason = `a tick was already held back behind the pending workflow "${row.lastWorkflowID}" (overlap "buffer-one")`
    return { kind: "skip", tickAt: due, count: 1, reason, advance: { id: row.id, now, expect, nextFireAt: after, skip: { count: 1, lastTickAt: due, reason } } }
  }
  const workflow = tickWorkflow(row.id, row.tasks, due, now)
  return { kind: "fire", tickAt: due, workflowID: workflow.id, advance: { id: row.id, now, expect, nextFireAt: after, fire: { tickAt: due, workflow } } }
}

/**
 * The missed ticks from `due` on that are too old to fire: their count, the
 * last of them, and the tick to go on from; `null` when `due` itself may fire.
 */
function missedTicks(
  row: ScheduleRow,
  due: number,
  now: number,
  ticker: CronTicker,
): { count: number; lastSkipped: number; resumeAt: number | null } | null {
  // The latest due tick always fires (a runner a few ms late misses nothing); an earlier one only within the window.
  const window = row.catchupWindowMS ?? 0
  const tooOld = (tick: number, next: number | null) => next !== null && next <= now && tick < now - window
  let count = 0
  let tick: number | null = due
  let lastSkipped = due
  while (tick !== null && count < MAX_TICKS_PER_STEP) {
    const next = ticker.next(tick)
    if (!tooOld(tick, next)) break
    lastSkipped = tick
    count++
    tick = next
  }
  return count === 0 ? null : { count, lastSkipped, resumeAt: tick }
}
