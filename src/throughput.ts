/**
 * Throughput over time, for the dashboard's chart: how many workflows ended
 * with each status in each interval of a window (per minute over the last
 * hour by default). Its own module because it is the one inspection read
 * added after the rest: the provider method is optional even under
 * `inspection`.
 *
 * @module
 */
import { ValidationError } from "./errors.js"
import { capabilitiesOf, requireCapability } from "./storage/capabilities.js"
import type { EndSeriesCount, EndedStatus, StorageProvider } from "./storage/provider.js"
import { validatePositiveNumber } from "./validate.js"

/** Options of `getWorkflowThroughput`. */
export interface WorkflowThroughputOptions {
  /** How far back the series goes. Default one hour. */
  windowMS?: number
  /** The length of each interval. Default one minute. At most 1,000 intervals in the window. */
  intervalMS?: number
}

/** One interval of a {@link WorkflowThroughput}. */
export interface ThroughputInterval extends Record<EndedStatus, number> {
  /** The interval's start. */
  start: Date
}

/** What `getWorkflowThroughput` returns: every interval of the window, oldest first, empty ones as zeros. */
export interface WorkflowThroughput {
  intervalMS: number
  /** From the start of the window up to and including the interval that holds the read's time. */
  intervals: ThroughputInterval[]
}

/** The checked request: where the series starts, how long each interval is, how many there are. */
export interface ThroughputPlan {
  since: number
  intervalMS: number
  intervals: number
}

/**
 * Checks the options and aligns the window to whole intervals, so that a
 * chart refreshed every few seconds keeps its bars where they were.
 *
 * @throws ValidationError for bad options or a provider without the read
 */
export function planThroughput(options: WorkflowThroughputOptions, storage: StorageProvider, now: number): ThroughputPlan {
  if (typeof options !== "object" || options === null) throw new ValidationError("getWorkflowThroughput options must be an object")
  requireCapability(capabilitiesOf(storage), "inspection", "getWorkflowThroughput")
  if (typeof storage.countEndsByInterval !== "function") {
    throw new ValidationError("getWorkflowThroughput needs a provider with countEndsByInterval (this one declares inspection without it)")
  }
  const windowMS = validatePositiveNumber(options.windowMS ?? 3_600_000, "windowMS", { integer: true })
  const intervalMS = validatePositiveNumber(options.intervalMS ?? 60_000, "intervalMS", { integer: true })
  const intervals = Math.ceil(windowMS / intervalMS)
  if (intervals > 1_000) throw new ValidationError(`windowMS / intervalMS must be at most 1000 intervals, got ${intervals}`)
  const currentStart = Math.floor(now / intervalMS) * intervalMS
  return { since: currentStart - (intervals - 1) * intervalMS, intervalMS, intervals }
}

/** Spreads the provider's non-zero counts over every interval of the plan. */
export function toThroughput(plan: ThroughputPlan, counts: readonly EndSeriesCount[]): WorkflowThroughput {
  const intervals: ThroughputInterval[] = Array.from({ length: plan.intervals }, (_, i) => ({
    start: new Date(plan.since + i * plan.intervalMS),
    completed: 0,
    failed: 0,
    cancelled: 0,
  }))
  for (const { start, status, count } of counts) {
    const index = Math.round((start - plan.since) / plan.intervalMS)
    const interval = intervals[index]
    // A workflow that ended after the read began lands past the last interval: it is in the next read.
    if (interval !== undefined && (status === "completed" || status === "failed" || status === "cancelled")) interval[status] += count
  }
  return { intervalMS: plan.intervalMS, intervals }
}
