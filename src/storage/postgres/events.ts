/**
 * Events on Postgres: the events table and the event columns of steps
 * (schema version 6), and the {@link EventStore} operations.
 *
 * A send and a park for one (name, key) take the same transaction-scoped
 * advisory lock first, so they run one after the other: a park that runs
 * second sees the event (its statements start after the send committed) and
 * does not park; a send that runs second sees the parked workflow and wakes
 * it. Without the lock, under READ COMMITTED, each could commit without
 * seeing the other, and the workflow would wait for an event that is
 * already there (a lost wake-up). The lock also makes the seqs of one
 * (name, key) increase in commit order (each is drawn under the lock),
 * which the watermark taken at insert relies on.
 *
 * @module
 */
import type { EventFilter, EventLookup, EventRow, EventStore, NewEvent, ParkForEvent, ParkForEventOutcome, ParkForEvents, SentEventRow } from "../event-store.js"
import type { PostgresConnection, Queryable } from "./connection.js"
import type { PostgresNames } from "./names.js"

/** The events table of a schema and prefix. */
export function eventsTable(n: PostgresNames): string {
  return `${n.schema}.${n.prefix}events`
}

/** Migration to version 6: the events table and the columns and indexes waitForEvent steps need. */
export function eventTables(n: PostgresNames): string[] {
  const events = eventsTable(n)
  return [
    `CREATE TABLE IF NOT EXISTS ${events} (
      seq bigserial PRIMARY KEY,
      name text NOT NULL,
      key text NOT NULL,
      payload text NOT NULL,
      event_id text NOT NULL UNIQUE,
      sent_at bigint NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS ${n.prefix}events_match ON ${events} (name, key, seq)`,
    `CREATE INDEX IF NOT EXISTS ${n.prefix}events_sent ON ${events} (sent_at)`,
    `ALTER TABLE ${n.tasks} ADD COLUMN IF NOT EXISTS event_name text`,
    `ALTER TABLE ${n.tasks} ADD COLUMN IF NOT EXISTS event_key text`,
    `ALTER TABLE ${n.tasks} ADD COLUMN IF NOT EXISTS event_after bigint`,
    `ALTER TABLE ${n.tasks} ADD COLUMN IF NOT EXISTS event_seq bigint`,
    `CREATE INDEX IF NOT EXISTS ${n.prefix}tasks_waiting ON ${n.tasks} (event_name, event_key) WHERE status = 'pending' AND event_name IS NOT NULL`,
  ]
}

/**
 * The text hashed into the advisory lock key of a (name, key): the same on
 * the send side (from parameters) and the park side (from the step's
 * columns). The length prefix keeps ("a|b", "c") and ("a", "b|c") apart.
 */
function lockText(scope: string, name: string, key: string): string {
  return `${scope}${name.length}:${name}|${key}`
}

const LOCK_BY_PARAMS = `SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))`

interface EventRecord {
  seq: string
  name: string
  key: string
  payload: string
  event_id: string
  sent_at: string
}

function toEventRow(r: EventRecord): EventRow {
  return { seq: Number(r.seq), name: r.name, key: r.key, payload: r.payload, eventID: r.event_id, sentAt: Number(r.sent_at) }
}

const COLUMNS = "seq, name, key, payload, event_id, sent_at"

/** The {@link EventStore} of a Postgres schema. */
export class PostgresEventStore implements EventStore {
  private readonly events: string
  private readonly scope: string
  private readonly findSQL: string

  /**
   * @param notify - whether writes notify listening runners (settled by the provider's `init()`)
   */
  constructor(
    private readonly db: PostgresConnection,
    private readonly n: PostgresNames,
    private readonly notify: () => boolean,
  ) {
    this.events = eventsTable(n)
    this.scope = `durabletasks:${this.events}:`
    this.findSQL = `
      SELECT e.seq, e.name, e.key, e.payload, e.event_id, e.sent_at FROM ${n.tasks} t
      JOIN ${this.events} e ON e.name = t.event_name AND e.key = t.event_key AND e.seq > t.event_after
      WHERE t.workflow_id = $1 AND t.seq = $2
        AND NOT EXISTS (SELECT 1 FROM ${n.tasks} x WHERE x.workflow_id = $1 AND x.event_seq = e.seq)
      ORDER BY e.seq LIMIT 1`
  }

  async sendEvent(event: NewEvent): Promise<SentEventRow> {
    const { n } = this
    return this.db.transaction(async (client: Queryable) => {
      await client.query(this.db.query(LOCK_BY_PARAMS, [lockText(this.scope, event.name, event.key)]))
      const inserted = await client.query<EventRecord>(
        this.db.query(
          `INSERT INTO ${this.events} (name, key, payload, event_id, sent_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (event_id) DO NOTHING RETURNING ${COLUMNS}`,
          [event.name, event.key, event.payload, event.eventID, event.now],
        ),
      )
      const row = inserted.rows[0]
      if (!row) {
        const existing = await client.query<EventRecord>(this.db.query(`SELECT ${COLUMNS} FROM ${this.events} WHERE event_id = $1`, [event.eventID]))
        return { event: toEventRow(existing.rows[0] as EventRecord), created: false, woken: 0 }
      }
      const woken = await client.query<{ id: string }>(
        this.db.query(
          `UPDATE ${n.workflows} SET available_at = $1
           WHERE status = 'pending' AND lease_token IS NULL AND available_at > $1 AND id IN (
             SELECT workflow_id FROM ${n.tasks}
             WHERE event_name = $2 AND event_key = $3 AND status = 'pending' AND wake_at IS NOT NULL AND event_after < $4)
           RETURNING id`,
          [event.now, event.name, event.key, row.seq],
        ),
      )
      if (woken.rows.length > 0 && this.notify()) await client.query(this.db.query(`SELECT pg_notify('${n.channel}', '')`, []))
      return { event: toEventRow(row), created: true, woken: woken.rows.length }
    })
  }

  async findEvent(lookup: EventLookup): Promise<EventRow | null> {
    const rows = await this.db.statement<EventRecord>(this.findSQL, [lookup.workflowID, lookup.seq], "idempotent")
    return rows[0] ? toEventRow(rows[0]) : null
  }

  async parkForEvent(park: ParkForEvent): Promise<ParkForEventOutcome> {
    const { n } = this
    return this.db.transaction(async (client: Queryable) => {
      // The lock of the step's (name, key), built in SQL exactly as lockText builds it for a send.
      const locked = await client.query(
        this.db.query(
          `SELECT pg_advisory_xact_lock(hashtextextended($1::text || length(event_name) || ':' || event_name || '|' || event_key, 0))
           FROM ${n.tasks} WHERE workflow_id = $2 AND seq = $3 AND event_name IS NOT NULL`,
          [this.scope, park.workflowID, park.seq],
        ),
      )
      if (locked.rows.length === 0) return "fenced"
      const found = await client.query(this.db.query(this.findSQL, [park.workflowID, park.seq]))
      if (found.rows.length > 0) return "eventArrived"
      const parked = await client.query(
        this.db.query(
          `WITH parked AS (
             UPDATE ${n.workflows} SET updated_at = $1, available_at = $2, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, recoveries = $3, crashes = $4
             WHERE id = $5 AND lease_token = $6 AND status = 'pending' RETURNING id
           )
           UPDATE ${n.tasks} SET wake_at = $2, attempts = $7, error = NULL, updated_at = $1
           WHERE workflow_id IN (SELECT id FROM parked) AND seq = $8 RETURNING workflow_id`,
          [park.now, park.wakeAt, park.counts.recoveries, park.counts.crashes, park.workflowID, park.token, park.attempts, park.seq],
        ),
      )
      return parked.rows.length === 1 ? "parked" : "fenced"
    })
  }

  async parkForEvents(park: ParkForEvents): Promise<ParkForEventOutcome> {
    const { n } = this
    return this.db.transaction(async (client: Queryable) => {
      // The locks of every member's (name, key), built as lockText builds them for a send, taken in text order (two parks never deadlock).
      const texts = await client.query<{ lock: string }>(
        this.db.query(
          `SELECT DISTINCT $1::text || length(event_name) || ':' || event_name || '|' || event_key AS lock
           FROM ${n.tasks} WHERE workflow_id = $2 AND seq = ANY($3::int[]) AND event_name IS NOT NULL ORDER BY lock`,
          [this.scope, park.workflowID, [...park.seqs]],
        ),
      )
      if (texts.rows.length === 0) return "fenced"
      for (const { lock } of texts.rows) await client.query(this.db.query(LOCK_BY_PARAMS, [lock]))
      for (const seq of park.seqs) {
        const found = await client.query(this.db.query(this.findSQL, [park.workflowID, seq]))
        if (found.rows.length > 0) return "eventArrived"
      }
      const parked = await client.query(
        this.db.query(
          `UPDATE ${n.workflows} SET updated_at = $1, available_at = $2, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, recoveries = $3, crashes = $4
           WHERE id = $5 AND lease_token = $6 AND status = 'pending' RETURNING id`,
          [park.now, park.availableAt, park.counts.recoveries, park.counts.crashes, park.workflowID, park.token],
        ),
      )
      return parked.rows.length === 1 ? "parked" : "fenced"
    })
  }

  async listEvents(filter: EventFilter): Promise<EventRow[]> {
    const rows = await this.db.statement<EventRecord>(
      `SELECT ${COLUMNS} FROM ${this.events}
       WHERE seq > $1 AND ($2::text IS NULL OR name = $2) AND ($3::text IS NULL OR key = $3)
       ORDER BY seq LIMIT $4`,
      [filter.afterSeq ?? 0, filter.name ?? null, filter.key ?? null, filter.limit],
      "idempotent",
    )
    return rows.map(toEventRow)
  }

  async deleteEventsSentBefore(sentBefore: number): Promise<number> {
    const rows = await this.db.statement<{ seq: string }>(`DELETE FROM ${this.events} WHERE sent_at < $1 RETURNING seq`, [sentBefore], "once")
    return rows.length
  }
}
