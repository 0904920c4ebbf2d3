/**
 * The throughput read of the memory provider: ends per status per interval.
 *
 * @module
 */
import type { EndSeriesCount, EndSeriesRequest, EndedStatus, WorkflowWithTasks } from "../provider.js"

/** How many of `entries` ended with each status in each interval from `since` on. */
export function endSeriesOf(entries: Iterable<WorkflowWithTasks>, request: EndSeriesRequest): EndSeriesCount[] {
  const counts = new Map<string, EndSeriesCount>()
  for (const { workflow: w } of entries) {
    if (w.status === "pending" || w.updatedAt < request.since) continue
    const start = request.since + Math.floor((w.updatedAt - request.since) / request.intervalMS) * request.intervalMS
    const key = `${start}:${w.status}`
    const found = counts.get(key)
    if (found) found.count++
    else counts.set(key, { start, status: w.status as EndedStatus, count: 1 })
  }
  return [...counts.values()]
}
