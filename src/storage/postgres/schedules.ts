/**
 * Schedules on Postgres: the table (schema version 3) and the
 * {@link ScheduleStore} operations. A step is one statement: its
 * compare-and-set on the schedule row and the insert of its tick's workflow
 * (with its tasks) commit together, and concurrent steps on one schedule
 * wait for each other's row lock, after which Postgres rechecks the
 * condition against the row's latest version, so exactly one of them
 * applies.
 *
 * @module
 */
import { eventsTable } from "./events.js"
import type { WorkflowStatus } from "../provider.js"
import type {
  NewSchedule,
  OverlapPolicy,
  ScheduleAdvance,
  ScheduleAdvanceOutcome,
  ScheduleDeclareOutcome,
  ScheduleFilter,
  ScheduleRow,
  ScheduleStore,
} from "../schedule-store.js"
import type { PostgresConnection } from "./connection.js"
import type { PostgresNames } from "./names.js"
import type { DatabaseKind } from "./schema.js"
import { workflowStatus } from "./rows.js"

/**
 * The DDL of schema version 3. The partial index holds only unpaused
 * schedules with a next tick, so finding what fires next reads those alone;
 * buffered ticks (rare) have their own. IDs compare bytewise, as the
 * workflows' do (CockroachDB: always, and it refuses the collation).
 */
export function scheduleTables(n: PostgresNames, kind: DatabaseKind): string[] {
  const collate = kind === "cockroachdb" ? "" : ' COLLATE "C"'
  return [
    `CREATE TABLE IF NOT EXISTS ${n.schedules} (
      id text${collate} PRIMARY KEY,
      cron text NOT NULL,
      timezone text,
      tasks text NOT NULL,
      overlap text NOT NULL,
      catchup_window_ms bigint,
      hash text NOT NULL,
      paused boolean NOT NULL,
      next_fire_at bigint,
      buffered_tick_at bigint,
      last_tick_at bigint,
      last_workflow_id text${collate},
      skipped_ticks bigint NOT NULL DEFAULT 0,
      last_skipped_tick_at bigint,
      last_skip_reason text,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS ${n.scheduleIndexes.due} ON ${n.schedules} (next_fire_at) WHERE NOT paused AND next_fire_at IS NOT NULL`,
    `CREATE INDEX IF NOT EXISTS ${n.scheduleIndexes.buffered} ON ${n.schedules} (id) WHERE NOT paused AND buffered_tick_at IS NOT NULL`,
  ]
}

const COLUMNS = `s.id, s.cron, s.timezone, s.tasks, s.overlap, s.catchup_window_ms, s.hash, s.paused, s.next_fire_at, s.buffered_tick_at,
  s.last_tick_at, s.last_workflow_id, w.status AS last_workflow_status, s.skipped_ticks, s.last_skipped_tick_at, s.last_skip_reason,
  s.created_at, s.updated_at`

/** A schedule row as pg returns it (`bigint` as strings). */
interface ScheduleRecord {
  id: string
  cron: string
  timezone: string | null
  tasks: string
  overlap: string
  catchup_window_ms: string | null
  hash: string
  paused: boolean
  next_fire_at: string | null
  buffered_tick_at: string | null
  last_tick_at: string | null
  last_workflow_id: string | null
  last_workflow_status: string | null
  skipped_ticks: string
  last_skipped_tick_at: string | null
  last_skip_reason: string | null
  created_at: string
  updated_at: string
}

const orNull = (v: string | null): number | null => (v === null ? null : Number(v))

function toScheduleRow(r: ScheduleRecord): ScheduleRow {
  return {
    id: r.id,
    cron: r.cron,
    timezone: r.timezone,
    tasks: r.tasks,
    overlap: r.overlap as OverlapPolicy,
    catchupWindowMS: orNull(r.catchup_window_ms),
    hash: r.hash,
    paused: r.paused,
    nextFireAt: orNull(r.next_fire_at),
    bufferedTickAt: orNull(r.buffered_tick_at),
    lastTickAt: orNull(r.last_tick_at),
    lastWorkflowID: r.last_workflow_id,
    lastWorkflowStatus: r.last_workflow_status === null ? null : (workflowStatus(r.last_workflow_status, r.last_workflow_id ?? "") as WorkflowStatus),
    skippedTicks: Number(r.skipped_ticks),
    lastSkippedTickAt: orNull(r.last_skipped_tick_at),
    lastSkipReason: r.last_skip_reason,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }
}

/** The {@link ScheduleStore} of a Postgres schema. */
export class PostgresScheduleStore implements ScheduleStore {
  /**
   * @param notify - whether a tick's new workflow wakes idle runners (NOTIFY), as inserts do
   */
  constructor(
    private readonly db: PostgresConnection,
    private readonly n: PostgresNames,
    private readonly notify: () => boolean,
  ) {}

  async declareSchedules(schedules: NewSchedule[]): Promise<ScheduleDeclareOutcome[]> {
    const n = this.n
    const outcomes: ScheduleDeclareOutcome[] = []
    // One at a time, each in its own transaction: declarations are few, and each sees the others' commits.
    for (const x of schedules) {
      const definition = [x.cron, x.timezone, x.tasks, x.overlap, x.catchupWindowMS, x.hash, x.paused, x.nextFireAt]
      outcomes.push(
        await this.db.transaction(async (client) => {
          const inserted = await client.query(
            this.db.query(
              `INSERT INTO ${n.schedules} (id, cron, timezone, tasks, overlap, catchup_window_ms, hash, paused, next_fire_at, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (id) DO NOTHING RETURNING id`,
              [x.id, ...definition, x.now],
            ),
          )
          if (inserted.rows.length === 1) return "created"
          // A changed definition replaces the stored one and its timetable; the history (last tick, skips) stays.
          const replaced = await client.query(
            this.db.query(
              `UPDATE ${n.schedules} SET cron = $2, timezone = $3, tasks = $4, overlap = $5, catchup_window_ms = $6, hash = $7, paused = $8,
                 next_fire_at = $9, buffered_tick_at = NULL, updated_at = $10
               WHERE id = $1 AND hash <> $7 RETURNING id`,
              [x.id, ...definition, x.now],
            ),
          )
          return replaced.rows.length === 1 ? "replaced" : "unchanged"
        }),
      )
    }
    return outcomes
  }

  async schedulesToFire(limit: number): Promise<ScheduleRow[]> {
    const n = this.n
    const rows = await this.db.statement<ScheduleRecord>(
      `SELECT ${COLUMNS} FROM ${n.schedules} AS s LEFT JOIN ${n.workflows} AS w ON w.id = s.last_workflow_id
       WHERE s.id IN (SELECT id FROM ${n.schedules} WHERE NOT paused AND next_fire_at IS NOT NULL ORDER BY next_fire_at LIMIT $1)
          OR s.id IN (SELECT id FROM ${n.schedules} WHERE NOT paused AND buffered_tick_at IS NOT NULL)
       ORDER BY s.next_fire_at, s.id`,
      [limit],
      "idempotent",
    )
    return rows.map(toScheduleRow)
  }

  async advanceSchedule(a: ScheduleAdvance): Promise<ScheduleAdvanceOutcome> {
    const n = this.n
    const e = a.expect
    const fire = a.fire
    const tasks = fire?.workflow.tasks ?? []
    const notified = this.notify() ? `, (SELECT count(pg_notify('${n.channel}', '')::text) FROM created) AS notified` : ""
    const rows = await this.db.statement<{ advanced: number; created: number }>(
      `WITH advanced AS (
         UPDATE ${n.schedules} SET
           next_fire_at = CASE WHEN $3::boolean THEN $4::bigint ELSE next_fire_at END,
           buffered_tick_at = CASE WHEN $5::boolean THEN $6::bigint ELSE buffered_tick_at END,
           skipped_ticks = skipped_ticks + $7::bigint,
           last_skipped_tick_at = CASE WHEN $7::bigint > 0 THEN $8::bigint ELSE last_skipped_tick_at END,
           last_skip_reason = CASE WHEN $7::bigint > 0 THEN $9::text ELSE last_skip_reason END,
           last_tick_at = CASE WHEN $10::boolean THEN $11::bigint ELSE last_tick_at END,
           last_workflow_id = CASE WHEN $10::boolean THEN $12::text ELSE last_workflow_id END,
           updated_at = $2::bigint
         WHERE id = $1::text AND (NOT $13::boolean OR (NOT paused AND next_fire_at IS NOT DISTINCT FROM $14::bigint
           AND hash = $15::text AND buffered_tick_at IS NOT DISTINCT FROM $16::bigint))
         RETURNING id
       ), created AS (
         INSERT INTO ${n.workflows} (id, status, created_at, updated_at, available_at, lease_owner, lease_token, task_count)
         SELECT $12::text, 'pending', $17::bigint, $17::bigint, $17::bigint, NULL, NULL, $18::int
         WHERE $10::boolean AND EXISTS (SELECT 1 FROM advanced)
         ON CONFLICT (id) DO NOTHING
         RETURNING id
       ), created_tasks AS (
         INSERT INTO ${n.tasks} (workflow_id, seq, name, task, data, status, result, error, attempts, created_at, updated_at, kind,
           event_name, event_key, event_after)
         SELECT c.id, (i.ord - 1)::int, i.name, i.task, i.data, 'pending', NULL, NULL, 0, $17::bigint, $17::bigint, i.kind,
           i.event_name, i.event_key,
           -- A waitForEvent step's watermark, as an insert takes it (see postgres/events.ts).
           CASE WHEN i.event_name IS NOT NULL THEN
             (SELECT COALESCE(max(e.seq), 0) FROM ${eventsTable(n)} e WHERE e.name = i.event_name AND e.key = i.event_key) END
         FROM created AS c, unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[])
           WITH ORDINALITY AS i(name, task, data, kind, event_name, event_key, ord)
       )
       SELECT (SELECT count(*) FROM advanced)::int AS advanced, (SELECT count(*) FROM created)::int AS created${notified}`,
      [
        a.id,
        a.now,
        a.nextFireAt !== undefined,
        a.nextFireAt ?? null,
        a.bufferedTickAt !== undefined,
        a.bufferedTickAt ?? null,
        a.skip?.count ?? 0,
        a.skip?.lastTickAt ?? null,
        a.skip?.reason ?? null,
        fire !== undefined,
        fire?.tickAt ?? null,
        fire?.workflow.id ?? null,
        e !== undefined,
        e?.nextFireAt ?? null,
        e?.hash ?? null,
        e?.bufferedTickAt ?? null,
        fire?.workflow.now ?? a.now,
        tasks.length,
        tasks.map((t) => t.name),
        tasks.map((t) => t.task),
        tasks.map((t) => t.data),
        tasks.map((t) => t.kind ?? "task"),
        tasks.map((t) => t.event?.name ?? null),
        tasks.map((t) => t.event?.key ?? null),
      ],
      // Run twice, the second run would find the tick consumed and report it refused.
      "once",
    )
    const row = rows[0]
    return { applied: (row?.advanced ?? 0) === 1, created: (row?.created ?? 0) === 1 }
  }

  async getSchedule(id: string): Promise<ScheduleRow | null> {
    if (id.includes("\u0000")) return null
    const rows = await this.db.statement<ScheduleRecord>(
      `SELECT ${COLUMNS} FROM ${this.n.schedules} AS s LEFT JOIN ${this.n.workflows} AS w ON w.id = s.last_workflow_id WHERE s.id = $1`,
      [id],
      "idempotent",
    )
    return rows[0] ? toScheduleRow(rows[0]) : null
  }

  async listSchedules(filter: ScheduleFilter): Promise<ScheduleRow[]> {
    const rows = await this.db.statement<ScheduleRecord>(
      `SELECT ${COLUMNS} FROM ${this.n.schedules} AS s LEFT JOIN ${this.n.workflows} AS w ON w.id = s.last_workflow_id
       WHERE s.id > $1 ORDER BY s.id LIMIT $2`,
      [filter.afterID ?? "", filter.limit],
      "idempotent",
    )
    return rows.map(toScheduleRow)
  }

  async pauseSchedule(id: string, now: number): Promise<boolean> {
    const rows = await this.db.statement<{ found: boolean }>(
      `WITH changed AS (UPDATE ${this.n.schedules} SET paused = true, updated_at = $2 WHERE id = $1 AND NOT paused RETURNING id)
       SELECT EXISTS (SELECT 1 FROM changed) OR EXISTS (SELECT 1 FROM ${this.n.schedules} WHERE id = $1) AS found`,
      [id, now],
      // Pausing twice leaves it paused and finds it.
      "idempotent",
    )
    return rows[0]?.found ?? false
  }

  async resumeSchedule(id: string, nextFireAt: number | null, now: number): Promise<boolean> {
    const rows = await this.db.statement<{ found: boolean }>(
      `WITH changed AS (
         UPDATE ${this.n.schedules} SET paused = false, next_fire_at = $2, buffered_tick_at = NULL, updated_at = $3
         WHERE id = $1 AND paused RETURNING id
       )
       SELECT EXISTS (SELECT 1 FROM changed) OR EXISTS (SELECT 1 FROM ${this.n.schedules} WHERE id = $1) AS found`,
      [id, nextFireAt, now],
      // Resuming twice: the second finds it unpaused and changes nothing.
      "idempotent",
    )
    return rows[0]?.found ?? false
  }

  async deleteSchedule(id: string): Promise<boolean> {
    const rows = await this.db.statement<{ id: string }>(`DELETE FROM ${this.n.schedules} WHERE id = $1 RETURNING id`, [id], "once")
    return rows.length === 1
  }
}
