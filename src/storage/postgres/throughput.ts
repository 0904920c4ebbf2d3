/**
 * The throughput read on Postgres: ends per status per interval, by the
 * partial index of ended workflows on `ended_at` (their `updated_at`).
 *
 * @module
 */
import type { EndSeriesCount, EndSeriesRequest, EndedStatus } from "../provider.js"
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import { endedAtColumn } from "./hot-updates.js"
import type { DatabaseKind } from "./schema.js"

/** How many workflows ended with each status in each interval from `since` on. */
export async function countEndsByInterval(
  db: PostgresConnection,
  n: PostgresNames,
  request: EndSeriesRequest,
  kind: DatabaseKind = "postgres",
): Promise<EndSeriesCount[]> {
  const endedAt = endedAtColumn(kind)
  // bigint division truncates; ended_at >= since keeps the dividend non-negative, so it floors.
  const rows = await db.statement<{ k: string; status: string; n: string }>(
    `SELECT (${endedAt} - $1::bigint) / $2::bigint AS k, status, count(*) AS n FROM ${n.workflows}
     WHERE status <> 'pending' AND ${endedAt} >= $1::bigint GROUP BY k, status`,
    [request.since, request.intervalMS],
    "idempotent",
  )
  return rows.map((row) => ({ start: request.since + Number(row.k) * request.intervalMS, status: row.status as EndedStatus, count: Number(row.n) }))
}
