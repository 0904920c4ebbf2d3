/**
 * The CLI's checks on option values: durations, times, statuses, counts.
 * Each throws a UsageError naming the option.
 *
 * @module
 */
import * as durations from "../durations.js"
import { ValidationError } from "../errors.js"
import { ENDED_STATUSES } from "../inspection.js"
import type { EndedStatus, WorkflowStatus } from "../storage/provider.js"
import { WORKFLOW_STATUSES } from "../storage/provider.js"
import { UsageError, type OptionValues } from "./command.js"

/** `"90s"`, `"30m"`, `"12h"`, `"7d"`, `"2w"`, `"500ms"` in ms. */
export function parseDuration(text: string, option: string): number {
  return asUsage(() => durations.parseDuration(text, option))
}

/** A time: an ISO 8601 date or date-time, or a duration meaning that long before `now`. */
export function parseTime(text: string, option: string, now: number): number {
  return asUsage(() => durations.parseTime(text, option, now))
}

/** Runs a shared parser or check, its ValidationError becoming a UsageError (exit code 2). */
export function asUsage<T>(parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    if (error instanceof ValidationError) throw new UsageError(error.message)
    throw error
  }
}

/** A whole number from `min` to `max`. */
export function parseCount(text: string, option: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${option} takes a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`)
  return n
}

/** A workflow status. */
export function parseStatus(text: string, option: string): WorkflowStatus {
  if (!(WORKFLOW_STATUSES as readonly string[]).includes(text)) throw new UsageError(`${option} takes one of ${WORKFLOW_STATUSES.join(", ")}, got ${JSON.stringify(text)}`)
  return text as WorkflowStatus
}

/** Ended statuses from repeated or comma-separated values. */
export function parseEndedStatuses(values: string[], option: string): EndedStatus[] {
  const statuses = values.flatMap((v) => v.split(",")).map((s) => s.trim())
  for (const s of statuses) {
    if (!(ENDED_STATUSES as readonly string[]).includes(s)) {
      throw new UsageError(`${option} takes ${ENDED_STATUSES.join(", ")} (pending workflows are never purged), got ${JSON.stringify(s)}`)
    }
  }
  return [...new Set(statuses)] as EndedStatus[]
}

/** A string option's value, if given. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const v = values[name]
  return typeof v === "string" ? v : undefined
}

/** A repeatable string option's values. */
export function stringsOption(values: OptionValues, name: string): string[] {
  const v = values[name]
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : []
}

/** Checks workflow IDs given as arguments: at least one, none empty. */
export function checkIDs(positionals: string[], command: string): void {
  if (positionals.length === 0) throw new UsageError(`${command} needs at least one workflow ID`)
  if (positionals.some((id) => id === "")) throw new UsageError(`${command}: a workflow ID must not be empty`)
}
