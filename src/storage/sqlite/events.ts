/**
 * Events on SQLite: the events table and the event columns of steps (schema
 * version 5), and the {@link EventStore} operations. SQLite has one writer
 * at a time (`BEGIN IMMEDIATE`), so a send and a park never interleave: each
 * sees the other's committed rows or runs before it.
 *
 * @module
 */
import type Database from "better-sqlite3"
import type { EventFilter, EventLookup, EventRow, EventStore, NewEvent, ParkForEvent, ParkForEventOutcome, ParkForEvents, SentEventRow } from "../event-store.js"

/**
 * Schema version 5: the events table, and on tasks the (name, key) a
 * waitForEvent step waits for, the watermark (the highest seq of that pair
 * when its workflow was added) and the seq of the event it took. Run on
 * every open; idempotent (a new file and one migrated alike).
 *
 * `AUTOINCREMENT`: a seq is never reused, even after retention deleted the
 * newest events, so a later event is always numbered above every watermark.
 */
export function createEventTables(db: Database.Database, p: string): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS ${p}events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL,
      key TEXT NOT NULL,
      payload TEXT NOT NULL,
      event_id TEXT NOT NULL UNIQUE,
      sent_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ${p}events_match ON ${p}events (name, key, seq);
    CREATE INDEX IF NOT EXISTS ${p}events_sent ON ${p}events (sent_at);
  `)
  const columns = new Set((db.prepare(`PRAGMA table_info(${p}tasks)`).all() as Array<{ name: string }>).map((c) => c.name))
  if (!columns.has("event_name")) db.exec(`ALTER TABLE ${p}tasks ADD COLUMN event_name TEXT`)
  if (!columns.has("event_key")) db.exec(`ALTER TABLE ${p}tasks ADD COLUMN event_key TEXT`)
  if (!columns.has("event_after")) db.exec(`ALTER TABLE ${p}tasks ADD COLUMN event_after INTEGER`)
  if (!columns.has("event_seq")) db.exec(`ALTER TABLE ${p}tasks ADD COLUMN event_seq INTEGER`)
  // Only pending waitForEvent steps: what a send looks up to wake its waiters.
  db.exec(`CREATE INDEX IF NOT EXISTS ${p}tasks_waiting ON ${p}tasks (event_name, event_key) WHERE status = 'pending' AND event_name IS NOT NULL`)
}

const EVENT_COLUMNS = "seq, name, key, payload, event_id AS eventID, sent_at AS sentAt"
const EVENT_COLUMNS_OF_E = "e.seq, e.name, e.key, e.payload, e.event_id AS eventID, e.sent_at AS sentAt"

function prepare(db: Database.Database, p: string) {
  return {
    storeWatermark: db.prepare(
      `UPDATE ${p}tasks SET event_name = ?, event_key = ?,
         event_after = (SELECT COALESCE(MAX(seq), 0) FROM ${p}events WHERE name = ? AND key = ?)
       WHERE workflow_id = ? AND seq = ?`,
    ),
    storeTaken: db.prepare(`UPDATE ${p}tasks SET event_seq = ? WHERE workflow_id = ? AND seq = ?`),
    insertEvent: db.prepare(
      `INSERT INTO ${p}events (name, key, payload, event_id, sent_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING RETURNING ${EVENT_COLUMNS}`,
    ),
    selectByEventID: db.prepare(`SELECT ${EVENT_COLUMNS} FROM ${p}events WHERE event_id = ?`),
    // Parked (pending, unleased) workflows whose reached waitForEvent step (wake_at set) matches and may take this event.
    wakeWaiters: db.prepare(
      `UPDATE ${p}workflows SET available_at = ?
       WHERE status = 'pending' AND lease_token IS NULL AND available_at > ? AND id IN (
         SELECT workflow_id FROM ${p}tasks INDEXED BY ${p}tasks_waiting
         WHERE event_name = ? AND event_key = ? AND status = 'pending' AND wake_at IS NOT NULL AND event_after < ?)`,
    ),
    findEvent: db.prepare(
      `SELECT ${EVENT_COLUMNS_OF_E} FROM ${p}tasks t
       JOIN ${p}events e ON e.name = t.event_name AND e.key = t.event_key AND e.seq > t.event_after
       WHERE t.workflow_id = ? AND t.seq = ?
         AND e.seq NOT IN (SELECT event_seq FROM ${p}tasks WHERE workflow_id = ? AND event_seq IS NOT NULL)
       ORDER BY e.seq LIMIT 1`,
    ),
    parkWorkflow: db.prepare(
      `UPDATE ${p}workflows SET updated_at = ?, available_at = ?, lease_owner = NULL, lease_token = NULL, recoveries = ?, crashes = ?
       WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    ),
    parkStep: db.prepare(`UPDATE ${p}tasks SET wake_at = ?, attempts = ?, error = NULL, updated_at = ? WHERE workflow_id = ? AND seq = ?`),
    listAll: db.prepare(`SELECT ${EVENT_COLUMNS} FROM ${p}events WHERE seq > ? ORDER BY seq LIMIT ?`),
    listByName: db.prepare(`SELECT ${EVENT_COLUMNS} FROM ${p}events WHERE name = ? AND seq > ? ORDER BY seq LIMIT ?`),
    listByNameKey: db.prepare(`SELECT ${EVENT_COLUMNS} FROM ${p}events WHERE name = ? AND key = ? AND seq > ? ORDER BY seq LIMIT ?`),
    deleteSentBefore: db.prepare(`DELETE FROM ${p}events WHERE sent_at < ?`),
  }
}

/** What {@link SQLiteEventStore} needs from its provider. */
export interface SQLiteEventStoreOptions {
  db: Database.Database
  prefix: string
  /** Wraps a function in the provider's `BEGIN IMMEDIATE` transaction. */
  inTransaction: <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A) => R
}

/** The {@link EventStore} of a SQLite file, beside its workflows. */
export class SQLiteEventStore implements EventStore {
  private readonly s: ReturnType<typeof prepare>
  private readonly sendTx: (event: NewEvent) => SentEventRow
  private readonly parkTx: (park: ParkForEvent) => ParkForEventOutcome
  private readonly deleteTx: (sentBefore: number) => number
  private readonly parkAllTx: (park: ParkForEvents) => ParkForEventOutcome

  constructor(o: SQLiteEventStoreOptions) {
    this.s = prepare(o.db, o.prefix)
    this.sendTx = o.inTransaction((event: NewEvent) => this.send(event))
    this.parkTx = o.inTransaction((park: ParkForEvent) => this.park(park))
    this.deleteTx = o.inTransaction((sentBefore: number) => this.s.deleteSentBefore.run(sentBefore).changes)
    this.parkAllTx = o.inTransaction((park: ParkForEvents) => this.parkAll(park))
  }

  /** Inside the provider's insert transaction: a waitForEvent step's (name, key) and watermark. */
  storeWatermark(workflowID: string, seq: number, event: { name: string; key: string }): void {
    this.s.storeWatermark.run(event.name, event.key, event.name, event.key, workflowID, seq)
  }

  /** Inside the provider's write transaction: the event a step took. */
  storeTaken(workflowID: string, seq: number, eventSeq: number): void {
    this.s.storeTaken.run(eventSeq, workflowID, seq)
  }

  async sendEvent(event: NewEvent): Promise<SentEventRow> {
    return this.sendTx(event)
  }

  async findEvent(lookup: EventLookup): Promise<EventRow | null> {
    return (this.s.findEvent.get(lookup.workflowID, lookup.seq, lookup.workflowID) as EventRow | undefined) ?? null
  }

  async parkForEvent(park: ParkForEvent): Promise<ParkForEventOutcome> {
    return this.parkTx(park)
  }

  async parkForEvents(park: ParkForEvents): Promise<ParkForEventOutcome> {
    return this.parkAllTx(park)
  }

  async listEvents(filter: EventFilter): Promise<EventRow[]> {
    const after = filter.afterSeq ?? 0
    if (filter.name === undefined) return this.s.listAll.all(after, filter.limit) as EventRow[]
    if (filter.key === undefined) return this.s.listByName.all(filter.name, after, filter.limit) as EventRow[]
    return this.s.listByNameKey.all(filter.name, filter.key, after, filter.limit) as EventRow[]
  }

  async deleteEventsSentBefore(sentBefore: number): Promise<number> {
    return this.deleteTx(sentBefore)
  }

  private send(event: NewEvent): SentEventRow {
    const stored = this.s.insertEvent.get(event.name, event.key, event.payload, event.eventID, event.now) as EventRow | undefined
    if (!stored) return { event: this.s.selectByEventID.get(event.eventID) as EventRow, created: false, woken: 0 }
    const woken = this.s.wakeWaiters.run(event.now, event.now, event.name, event.key, stored.seq).changes
    return { event: stored, created: true, woken }
  }

  private park(park: ParkForEvent): ParkForEventOutcome {
    if (this.s.findEvent.get(park.workflowID, park.seq, park.workflowID)) return "eventArrived"
    const { recoveries, crashes } = park.counts
    if (this.s.parkWorkflow.run(park.now, park.wakeAt, recoveries, crashes, park.workflowID, park.token).changes !== 1) return "fenced"
    this.s.parkStep.run(park.wakeAt, park.attempts, park.now, park.workflowID, park.seq)
    return "parked"
  }

  private parkAll(park: ParkForEvents): ParkForEventOutcome {
    for (const seq of park.seqs) if (this.s.findEvent.get(park.workflowID, seq, park.workflowID)) return "eventArrived"
    const { recoveries, crashes } = park.counts
    return this.s.parkWorkflow.run(park.now, park.availableAt, recoveries, crashes, park.workflowID, park.token).changes === 1 ? "parked" : "fenced"
  }
}
