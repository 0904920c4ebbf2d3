/**
 * Schedules on SQLite: the table (schema version 3) and the
 * {@link ScheduleStore} operations. Each write is one `BEGIN IMMEDIATE`
 * transaction, so a step's compare-and-set and the insert of its tick's
 * workflow commit together or not at all, and writers from every process
 * on the file take turns.
 *
 * @module
 */
import type Database from "better-sqlite3"
import type { NewWorkflow, WorkflowStatus } from "../provider.js"
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

/**
 * Schema version 3: the schedules table. `IF NOT EXISTS`, so it runs on every
 * open (a new file and one migrated from version 2 alike). The partial index
 * holds only unpaused schedules with a next tick, so finding what fires next
 * reads those alone; buffered ticks (rare) have their own.
 */
export function createScheduleTables(db: Database.Database, p: string): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS ${p}schedules (
      id TEXT PRIMARY KEY,
      cron TEXT NOT NULL,
      timezone TEXT,
      tasks TEXT NOT NULL,
      overlap TEXT NOT NULL,
      catchup_window_ms INTEGER,
      hash TEXT NOT NULL,
      paused INTEGER NOT NULL,
      next_fire_at INTEGER,
      buffered_tick_at INTEGER,
      last_tick_at INTEGER,
      last_workflow_id TEXT,
      skipped_ticks INTEGER NOT NULL DEFAULT 0,
      last_skipped_tick_at INTEGER,
      last_skip_reason TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ${p}schedules_due ON ${p}schedules (next_fire_at) WHERE paused = 0 AND next_fire_at IS NOT NULL;
    CREATE INDEX IF NOT EXISTS ${p}schedules_buffered ON ${p}schedules (id) WHERE paused = 0 AND buffered_tick_at IS NOT NULL;
  `)
}

const COLUMNS = `s.id, s.cron, s.timezone, s.tasks, s.overlap, s.catchup_window_ms, s.hash, s.paused, s.next_fire_at, s.buffered_tick_at,
  s.last_tick_at, s.last_workflow_id, w.status AS last_workflow_status, s.skipped_ticks, s.last_skipped_tick_at, s.last_skip_reason,
  s.created_at, s.updated_at`

interface Record {
  id: string
  cron: string
  timezone: string | null
  tasks: string
  overlap: string
  catchup_window_ms: number | null
  hash: string
  paused: number
  next_fire_at: number | null
  buffered_tick_at: number | null
  last_tick_at: number | null
  last_workflow_id: string | null
  last_workflow_status: string | null
  skipped_ticks: number
  last_skipped_tick_at: number | null
  last_skip_reason: string | null
  created_at: number
  updated_at: number
}

function toScheduleRow(r: Record): ScheduleRow {
  return {
    id: r.id,
    cron: r.cron,
    timezone: r.timezone,
    tasks: r.tasks,
    overlap: r.overlap as OverlapPolicy,
    catchupWindowMS: r.catchup_window_ms,
    hash: r.hash,
    paused: r.paused !== 0,
    nextFireAt: r.next_fire_at,
    bufferedTickAt: r.buffered_tick_at,
    lastTickAt: r.last_tick_at,
    lastWorkflowID: r.last_workflow_id,
    lastWorkflowStatus: r.last_workflow_status as WorkflowStatus | null,
    skippedTicks: r.skipped_ticks,
    lastSkippedTickAt: r.last_skipped_tick_at,
    lastSkipReason: r.last_skip_reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

/** What the schedules need of the SQLite provider. */
export interface SQLiteScheduleContext {
  db: Database.Database
  prefix: string
  /** Wraps a function in the provider's `BEGIN IMMEDIATE` transaction (with its checkpoint handling). */
  inTransaction: <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A) => R
  /** Inserts workflows as `insertWorkflowsAndTasks` does, inside the caller's transaction. */
  insertWorkflows: (workflows: NewWorkflow[]) => boolean[]
}

/** The {@link ScheduleStore} of a SQLite file. */
export class SQLiteScheduleStore implements ScheduleStore {
  private readonly s: ReturnType<typeof prepare>
  private readonly declareTx: (schedules: NewSchedule[]) => ScheduleDeclareOutcome[]
  private readonly advanceTx: (advance: ScheduleAdvance) => ScheduleAdvanceOutcome
  private readonly pauseTx: (id: string, now: number) => boolean
  private readonly resumeTx: (id: string, nextFireAt: number | null, now: number) => boolean

  constructor(private readonly c: SQLiteScheduleContext) {
    this.s = prepare(c.db, c.prefix)
    this.declareTx = c.inTransaction((schedules: NewSchedule[]) => schedules.map((x) => this.declareOne(x)))
    this.advanceTx = c.inTransaction((advance: ScheduleAdvance) => this.advanceOne(advance))
    this.pauseTx = c.inTransaction((id: string, now: number) => this.s.pause.run(now, id).changes === 1 || this.exists(id))
    this.resumeTx = c.inTransaction(
      (id: string, nextFireAt: number | null, now: number) => this.s.resume.run(nextFireAt, now, id).changes === 1 || this.exists(id),
    )
  }

  async declareSchedules(schedules: NewSchedule[]): Promise<ScheduleDeclareOutcome[]> {
    return this.declareTx(schedules)
  }

  async schedulesToFire(limit: number): Promise<ScheduleRow[]> {
    return (this.s.toFire.all(limit) as Record[]).map(toScheduleRow)
  }

  async advanceSchedule(advance: ScheduleAdvance): Promise<ScheduleAdvanceOutcome> {
    return this.advanceTx(advance)
  }

  async getSchedule(id: string): Promise<ScheduleRow | null> {
    const row = this.s.get.get(id) as Record | undefined
    return row ? toScheduleRow(row) : null
  }

  async listSchedules(filter: ScheduleFilter): Promise<ScheduleRow[]> {
    return (this.s.list.all(filter.afterID ?? "", filter.limit) as Record[]).map(toScheduleRow)
  }

  async pauseSchedule(id: string, now: number): Promise<boolean> {
    return this.pauseTx(id, now)
  }

  async resumeSchedule(id: string, nextFireAt: number | null, now: number): Promise<boolean> {
    return this.resumeTx(id, nextFireAt, now)
  }

  async deleteSchedule(id: string): Promise<boolean> {
    return this.c.inTransaction(() => this.s.delete.run(id).changes === 1)()
  }

  private exists(id: string): boolean {
    return this.s.exists.get(id) !== undefined
  }

  private declareOne(x: NewSchedule): ScheduleDeclareOutcome {
    const definition = [x.cron, x.timezone, x.tasks, x.overlap, x.catchupWindowMS, x.hash, x.paused ? 1 : 0, x.nextFireAt] as const
    if (this.s.insert.run(x.id, ...definition, x.now, x.now).changes === 1) return "created"
    return this.s.replace.run(...definition, x.now, x.id, x.hash).changes === 1 ? "replaced" : "unchanged"
  }

  private advanceOne(a: ScheduleAdvance): ScheduleAdvanceOutcome {
    const s = this.s
    const e = a.expect
    const matched = e
      ? s.compareAndTouch.run(a.now, a.id, e.nextFireAt, e.hash, e.bufferedTickAt).changes === 1
      : s.touch.run(a.now, a.id).changes === 1
    if (!matched) return { applied: false, created: false }
    if (a.nextFireAt !== undefined) s.setNext.run(a.nextFireAt, a.id)
    if (a.bufferedTickAt !== undefined) s.setBuffered.run(a.bufferedTickAt, a.id)
    if (a.skip) s.addSkip.run(a.skip.count, a.skip.lastTickAt, a.skip.reason, a.id)
    let created = false
    if (a.fire) {
      s.setFired.run(a.fire.tickAt, a.fire.workflow.id, a.id)
      created = this.c.insertWorkflows([a.fire.workflow])[0] ?? false
    }
    return { applied: true, created }
  }
}

function prepare(db: Database.Database, p: string) {
  const select = `SELECT ${COLUMNS} FROM ${p}schedules AS s LEFT JOIN ${p}workflows AS w ON w.id = s.last_workflow_id`
  return {
    insert: db.prepare(
      `INSERT INTO ${p}schedules (id, cron, timezone, tasks, overlap, catchup_window_ms, hash, paused, next_fire_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    // A changed definition replaces the stored one and its timetable; the history (last tick, skips) stays.
    replace: db.prepare(
      `UPDATE ${p}schedules SET cron = ?, timezone = ?, tasks = ?, overlap = ?, catchup_window_ms = ?, hash = ?, paused = ?,
         next_fire_at = ?, buffered_tick_at = NULL, updated_at = ?
       WHERE id = ? AND hash <> ?`,
    ),
    // The compare-and-set of a step; `IS` compares NULLs as equal.
    compareAndTouch: db.prepare(
      `UPDATE ${p}schedules SET updated_at = ?
       WHERE id = ? AND paused = 0 AND next_fire_at IS ? AND hash = ? AND buffered_tick_at IS ?`,
    ),
    touch: db.prepare(`UPDATE ${p}schedules SET updated_at = ? WHERE id = ?`),
    setNext: db.prepare(`UPDATE ${p}schedules SET next_fire_at = ? WHERE id = ?`),
    setBuffered: db.prepare(`UPDATE ${p}schedules SET buffered_tick_at = ? WHERE id = ?`),
    addSkip: db.prepare(
      `UPDATE ${p}schedules SET skipped_ticks = skipped_ticks + ?, last_skipped_tick_at = ?, last_skip_reason = ? WHERE id = ?`,
    ),
    setFired: db.prepare(`UPDATE ${p}schedules SET last_tick_at = ?, last_workflow_id = ? WHERE id = ?`),
    toFire: db.prepare(
      `${select}
       WHERE s.id IN (SELECT id FROM ${p}schedules INDEXED BY ${p}schedules_due
                      WHERE paused = 0 AND next_fire_at IS NOT NULL ORDER BY next_fire_at LIMIT ?)
          OR s.id IN (SELECT id FROM ${p}schedules INDEXED BY ${p}schedules_buffered WHERE paused = 0 AND buffered_tick_at IS NOT NULL)
       ORDER BY s.next_fire_at, s.id`,
    ),
    get: db.prepare(`${select} WHERE s.id = ?`),
    list: db.prepare(`${select} WHERE s.id > ? ORDER BY s.id LIMIT ?`),
    exists: db.prepare(`SELECT 1 FROM ${p}schedules WHERE id = ?`),
    pause: db.prepare(`UPDATE ${p}schedules SET paused = 1, updated_at = ? WHERE id = ? AND paused = 0`),
    resume: db.prepare(
      `UPDATE ${p}schedules SET paused = 0, next_fire_at = ?, buffered_tick_at = NULL, updated_at = ? WHERE id = ? AND paused = 1`,
    ),
    delete: db.prepare(`DELETE FROM ${p}schedules WHERE id = ?`),
  }
}
