/**
 * Per-attempt history of a task (the `attempt-history` capability): what the
 * runner writes with an attempt's outcome, and how a reader lists a task's
 * attempts from its row.
 *
 * The task row holds its last ended attempt in columns written by the same
 * write as the outcome (`startedAt`, `endedAt`, `runnerID`), so a task that
 * succeeds at once costs no extra statement and no JSON. Only when an attempt
 * is followed by another (it failed, or the runner running it died) is it
 * moved into `history`, a JSON array of at most {@link MAX_EARLIER_ATTEMPTS}
 * earlier attempts, written by the next attempt's write.
 *
 * @module
 */
import type { TaskRow } from "./storage/provider.js"

/** How an attempt ended. `interrupted`: its runner died or lost the lease during it, found when another claim took the workflow over. */
export type AttemptOutcome = "completed" | "failed" | "interrupted"

/** One attempt of a task. */
export interface TaskAttempt {
  /** When it started (ms since the epoch), or `null` when unknown (an interrupted attempt). */
  startedAt: number | null
  /** When it ended, or when its interruption was found; `null` while it runs. */
  endedAt: number | null
  outcome: AttemptOutcome
  /** The error of a failed attempt, else `null`. */
  error: string | null
  /** The `runnerID` that ran it, or `null` when unknown. */
  runnerID: string | null
}

/** Attempts kept per task: the last one in the task row, and this many before it in `history`. */
export const MAX_ATTEMPTS_KEPT = 20

/** Earlier attempts kept in `history`. */
export const MAX_EARLIER_ATTEMPTS = MAX_ATTEMPTS_KEPT - 1

/** An attempt found interrupted by a takeover, to record with the task's next write. */
export interface InterruptedAttempt {
  /** When the takeover found it. */
  foundAt: number
}

/**
 * The `history` to write with a new attempt of `task`, or `undefined` when it
 * stays as stored (the common case: no earlier attempt, none interrupted).
 * The task's stored last attempt (if any) and an interrupted one (if any)
 * are appended, and the oldest dropped beyond {@link MAX_EARLIER_ATTEMPTS}.
 */
export function historyForNextAttempt(task: TaskRow, interrupted: InterruptedAttempt | undefined): string | undefined {
  const last = lastAttempt(task)
  if (last === undefined && interrupted === undefined) return undefined
  const earlier = parseHistory(task.history)
  if (last) earlier.push(last)
  if (interrupted) earlier.push({ startedAt: null, endedAt: interrupted.foundAt, outcome: "interrupted", error: null, runnerID: null })
  return JSON.stringify(earlier.slice(-MAX_EARLIER_ATTEMPTS))
}

/**
 * Every attempt of `task` still kept, oldest first: its `history`, then its
 * last ended attempt. A task row without the columns (a provider without
 * `attempt-history`) has none.
 */
export function taskAttempts(task: TaskRow): TaskAttempt[] {
  const attempts = parseHistory(task.history)
  const last = lastAttempt(task)
  if (last) attempts.push(last)
  return attempts
}

/** The first start of a task's kept attempts, and its end once it has ended (`null` when unknown or not ended). */
export function taskTimes(task: TaskRow, attempts: readonly TaskAttempt[] = taskAttempts(task)): { startedAt: number | null; endedAt: number | null } {
  const startedAt = attempts.find((a) => a.startedAt !== null)?.startedAt ?? null
  const endedAt = task.status === "pending" ? null : (task.endedAt ?? null)
  return { startedAt, endedAt }
}

/** The last ended attempt held in the row's columns, if any. */
function lastAttempt(task: TaskRow): TaskAttempt | undefined {
  if (task.startedAt === undefined || task.startedAt === null) return undefined
  return {
    startedAt: task.startedAt,
    endedAt: task.endedAt ?? null,
    // A pending task whose last attempt ended failed it (and waits for a retry); a completed task's last attempt completed it.
    outcome: task.status === "completed" ? "completed" : "failed",
    error: task.status === "completed" ? null : task.error,
    runnerID: task.runnerID ?? null,
  }
}

/** The attempts in stored `history` text; anything unreadable is left out rather than failing a read. */
function parseHistory(text: string | null | undefined): TaskAttempt[] {
  if (text === undefined || text === null || text === "") return []
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return []
  }
  if (!Array.isArray(parsed)) return []
  const attempts: TaskAttempt[] = []
  for (const item of parsed) {
    if (typeof item !== "object" || item === null) continue
    const a = item as Record<string, unknown>
    const outcome = a["outcome"]
    if (outcome !== "completed" && outcome !== "failed" && outcome !== "interrupted") continue
    attempts.push({
      startedAt: typeof a["startedAt"] === "number" ? a["startedAt"] : null,
      endedAt: typeof a["endedAt"] === "number" ? a["endedAt"] : null,
      outcome,
      error: typeof a["error"] === "string" ? a["error"] : null,
      runnerID: typeof a["runnerID"] === "string" ? a["runnerID"] : null,
    })
  }
  return attempts
}
