/**
 * The throughput read on SQLite: ends per status per interval, by the
 * partial index of ended workflows on `updated_at`.
 *
 * @module
 */
import type Database from "better-sqlite3"
import type { EndSeriesCount, EndSeriesRequest, EndedStatus } from "../provider.js"

/** Prepares the statement of `countEndsByInterval` for the tables with prefix `p`. */
export function prepareEndSeries(db: Database.Database, p: string): (request: EndSeriesRequest) => EndSeriesCount[] {
  // better-sqlite3 may bind the numbers as REAL, making the division real: the cast truncates, and updated_at >= since
  // keeps it non-negative, so it floors.
  const statement = db
    .prepare(
      `SELECT CAST((updated_at - @since) / @interval AS INTEGER) AS k, status, count(*) FROM ${p}workflows INDEXED BY ${p}workflows_ended
       WHERE status <> 'pending' AND updated_at >= @since GROUP BY k, status`,
    )
    .raw()
  return (request) =>
    (statement.all({ since: request.since, interval: request.intervalMS }) as Array<[number, string, number]>).map(([k, status, count]) => ({
      start: request.since + k * request.intervalMS,
      status: status as EndedStatus,
      count,
    }))
}
