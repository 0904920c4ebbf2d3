/**
 * The floors: what raw better-sqlite3 does with the same row writes as the
 * runner, without the runner. Per workflow: one insert of the workflow and its
 * tasks, then per task an update of the task row and of the workflow row.
 *
 * - "per write": each of those writes is its own transaction (one fsync each
 *   at synchronous=FULL), the way a naive runner would commit.
 * - "batched": the same writes, many per transaction.
 */
import { randomBytes, randomUUID } from "node:crypto"
import path from "node:path"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { nowMS, tempDir } from "./stats.js"

export type Durability = "FULL" | "NORMAL"

/**
 * Workflow IDs, which decide where rows land in SQLite's B-trees: `"random"`
 * UUIDv4s (scattered over the key space), `"time-ordered"` UUIDv7s (each new
 * one sorts after the last), `"given"` a user's own increasing IDs (`wf-0`,
 * `wf-1`, …).
 */
export type IDScheme = "random" | "given" | "time-ordered"

/** `count` workflow IDs of the given scheme. */
export function workflowIDs(scheme: IDScheme, count: number, prefix = "wf-"): string[] {
  return Array.from({ length: count }, (_, i) =>
    scheme === "random" ? randomUUID() : scheme === "time-ordered" ? timeOrderedUUID() : `${prefix}${i}`,
  )
}

/** A UUID version 7 (RFC 9562): a millisecond timestamp, then random bits; sorts by creation time. */
export function timeOrderedUUID(): string {
  const bytes = randomBytes(16)
  bytes.writeUIntBE(Date.now(), 0, 6)
  bytes[6] = (bytes[6]! & 0x0f) | 0x70
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = bytes.toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** Rates of one floor run. */
export interface FloorRates {
  /** Workflows inserted per second (insert transactions only). */
  insertWorkflowsPerSec: number
  /** Tasks completed per second, counting the inserts' time too (insert + one update per task). */
  endToEndTasksPerSec: number
}

const PREFIX = "durabletasks_"

/**
 * Runs the floor loops on a fresh database.
 *
 * @param batch - writes per transaction: 1 for "per write", more for "batched" (workflows per transaction)
 */
export function measureFloor(
  durability: Durability,
  ids: IDScheme,
  workflows: number,
  tasksPerWorkflow: number,
  batch: number,
): FloorRates {
  const tmp = tempDir()
  // The provider creates the same tables and indexes the runner uses; then we write to them directly.
  const provider = new SQLiteStorageProvider(path.join(tmp.dir, "floor.sqlite"), { synchronous: durability })
  const db = provider.db
  try {
    const insertWorkflow = db.prepare(
      `INSERT INTO ${PREFIX}workflows (id, status, created_at, updated_at, available_at, lease_owner, lease_token, task_count)
       VALUES (?, 'pending', ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    )
    const insertTask = db.prepare(
      `INSERT INTO ${PREFIX}tasks (workflow_id, seq, name, task, data, status, result, error, attempts, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'pending', NULL, NULL, 0, ?, ?)`,
    )
    const updateTask = db.prepare(
      `UPDATE ${PREFIX}tasks SET status = 'completed', result = ?, error = NULL, attempts = 0, updated_at = ? WHERE workflow_id = ? AND seq = ?`,
    )
    const updateWorkflow = db.prepare(
      `UPDATE ${PREFIX}workflows SET updated_at = ?, status = ?, lease_owner = CASE WHEN ? = 'pending' THEN lease_owner END,
         lease_token = CASE WHEN ? = 'pending' THEN lease_token END
       WHERE id = ? AND lease_token = ? AND status = 'pending'`,
    )
    const token = randomUUID()

    const insertOne = (id: string) => {
      const now = Date.now()
      insertWorkflow.run(id, now, now, now + 30_000, "local", token, tasksPerWorkflow)
      for (let seq = 0; seq < tasksPerWorkflow; seq++) insertTask.run(id, seq, `t${seq}`, "Noop", "null", now, now)
    }
    const completeOne = (id: string, seq: number) => {
      const now = Date.now()
      updateTask.run("null", now, id, seq)
      const status = seq === tasksPerWorkflow - 1 ? "completed" : "pending"
      updateWorkflow.run(now, status, status, status, id, token)
    }
    const inserts = db.transaction((chunk: string[]) => chunk.forEach(insertOne))
    const completes = db.transaction((chunk: string[], seq: number) => chunk.forEach((id) => completeOne(id, seq)))

    const all = workflowIDs(ids, workflows)
    const started = nowMS()
    let insertMS = 0
    for (let i = 0; i < all.length; i += batch) {
      const chunk = all.slice(i, i + batch)
      const t0 = nowMS()
      inserts.immediate(chunk)
      insertMS += nowMS() - t0
      for (let seq = 0; seq < tasksPerWorkflow; seq++) completes.immediate(chunk, seq)
    }
    const totalMS = nowMS() - started
    return {
      insertWorkflowsPerSec: workflows / (insertMS / 1000),
      endToEndTasksPerSec: (workflows * tasksPerWorkflow) / (totalMS / 1000),
    }
  } finally {
    db.close()
    tmp.remove()
  }
}
