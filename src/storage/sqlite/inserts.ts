/**
 * `insertWorkflowsAndTasks` on SQLite: each new workflow with its tasks (a
 * workflow whose ID exists is left as it is), and the event a waitForEvent
 * step waits for.
 *
 * @module
 */
import type Database from "better-sqlite3"
import type { NewWorkflow } from "../provider.js"
import type { SQLiteEventStore } from "./events.js"

function prepare(db: Database.Database, p: string) {
  return {
    insertWorkflow: db.prepare(
      `INSERT INTO ${p}workflows (id, status, created_at, updated_at, available_at, lease_owner, lease_token, task_count, parent_id, parent_seq)
       VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    insertTask: db.prepare(
      `INSERT INTO ${p}tasks (workflow_id, seq, name, task, data, status, result, error, attempts, created_at, updated_at, kind)
       VALUES (?, ?, ?, ?, ?, 'pending', NULL, NULL, 0, ?, ?, ?)`,
    ),
  }
}

/** The statements of inserts, prepared once; `insert` runs inside a write transaction (the provider's, or a schedule step's). */
export class SQLiteInserts {
  private readonly s: ReturnType<typeof prepare>

  constructor(
    db: Database.Database,
    p: string,
    private readonly events: Pick<SQLiteEventStore, "storeWatermark">,
  ) {
    this.s = prepare(db, p)
  }

  /** Inserts each workflow that does not exist yet; returns, per input, whether it was inserted. */
  insert(workflows: NewWorkflow[]): boolean[] {
    const s = this.s
    const inserted: boolean[] = []
    for (const w of workflows) {
      const lease = w.lease
      const created =
        s.insertWorkflow.run(w.id, w.now, w.now, lease ? lease.expiresAt : (w.availableAt ?? w.now), lease?.owner ?? null, lease?.token ?? null, w.tasks.length, w.parent?.id ?? null, w.parent?.seq ?? null)
          .changes === 1
      if (created) {
        for (let seq = 0; seq < w.tasks.length; seq++) {
          const t = w.tasks[seq]!
          s.insertTask.run(w.id, seq, t.name, t.task, t.data, w.now, w.now, t.kind ?? "task")
          if (t.event) this.events.storeWatermark(w.id, seq, t.event)
        }
      }
      inserted.push(created)
    }
    return inserted
  }
}
