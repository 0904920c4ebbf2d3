/**
 * Workload 4, recovery: a store with many pending workflows (as after a
 * crash with a long backlog), and a fresh process that opens it and calls
 * `recover()`. The store is filled by inserting rows directly through the
 * provider in big batches; the recovering process is a child, so its peak RSS
 * is its own.
 */
import fs from "node:fs"
import path from "node:path"
import { SQLiteStorageProvider } from "../../src/storage/sqlite.js"
import type { NewWorkflow, StorageProvider } from "../../src/storage/provider.js"
import { nowMS, runChild, tempDir } from "../stats.js"
import { TASKS_PER_WORKFLOW } from "./common.js"
import { workflowIDs, type IDScheme } from "../floors.js"
import { openStorage, type BenchStore, type BenchStoreFactory, type StorageSpec } from "./storage.js"

/** What the recovering child reports. */
export interface RecoveryRun {
  /** From opening the database to the first task's Execute. */
  firstTaskMS: number
  /** From opening the database to the last workflow's end. */
  allDoneMS: number
  tasksPerSec: number
  /** Peak resident set size of the recovering process. */
  peakRSSBytes: number
  /** RSS of the child before it opened the database, for reference. */
  startRSSBytes: number
}

/** Workflows per insert while filling a backlog. */
const BACKLOG_BATCH = 10_000

/**
 * Inserts pending, unleased workflows of 3 no-op tasks with these IDs,
 * {@link BACKLOG_BATCH} per provider call, created a minute before now.
 */
export async function insertBacklog(storage: StorageProvider, ids: readonly string[], now = Date.now() - 60_000): Promise<void> {
  const tasks = Array.from({ length: TASKS_PER_WORKFLOW }, (_, i) => ({ name: `t${i}`, task: "Noop", data: "null" }))
  for (let i = 0; i < ids.length; i += BACKLOG_BATCH) {
    const rows: NewWorkflow[] = ids.slice(i, i + BACKLOG_BATCH).map((id) => ({ id, now, tasks }))
    await storage.insertWorkflowsAndTasks(rows)
  }
}

/**
 * Fills a fresh store with `workflows` pending workflows (through its own
 * provider, closed afterwards); returns the build time.
 */
export async function fillBacklog(store: BenchStore, workflows: number, ids: IDScheme): Promise<{ buildMS: number }> {
  const started = nowMS()
  const storage = await openStorage(store.spec)
  try {
    await storage.init()
    await insertBacklog(storage, workflowIDs(ids, workflows))
  } finally {
    await storage.close()
  }
  return { buildMS: nowMS() - started }
}

/**
 * A SQLite database file holding `workflows` pending, unleased workflows, after
 * `ended` completed ones (the history a long-lived store accumulates).
 * Returns its path and the build time.
 */
export async function buildBacklog(
  workflows: number,
  ids: IDScheme,
  dir: string,
  ended = 0,
): Promise<{ file: string; buildMS: number }> {
  const file = path.join(dir, `backlog-${ids}-${workflows}-${ended}.sqlite`)
  const started = nowMS()
  // NORMAL: this is set-up, not the measurement.
  const storage = new SQLiteStorageProvider(file, { synchronous: "NORMAL" })
  const now = Date.now() - 60_000
  const all = workflowIDs(ids, ended + workflows)
  await insertBacklog(storage, all, now)
  if (ended > 0) {
    // History: the first `ended` workflows completed, as the runner would have left them.
    const endWorkflows = storage.db.prepare(
      `UPDATE durabletasks_workflows SET status = 'completed', updated_at = ? WHERE id IN (SELECT value FROM json_each(?))`,
    )
    const endTasks = storage.db.prepare(
      `UPDATE durabletasks_tasks SET status = 'completed', result = 'null', updated_at = ? WHERE workflow_id IN (SELECT value FROM json_each(?))`,
    )
    const endAll = storage.db.transaction((chunk: string[]) => {
      const list = JSON.stringify(chunk)
      endWorkflows.run(now, list)
      endTasks.run(now, list)
    })
    for (let i = 0; i < ended; i += BACKLOG_BATCH) endAll(all.slice(i, Math.min(ended, i + BACKLOG_BATCH)))
  }
  storage.db.pragma("wal_checkpoint(TRUNCATE)")
  await storage.close()
  return { file, buildMS: nowMS() - started }
}

/** Times a child process's recovery of the `workflows` pending workflows in `spec` (which it consumes). */
export async function recoverInChild(spec: StorageSpec, workflows: number, concurrency: number): Promise<RecoveryRun> {
  return runChild<RecoveryRun>("./workloads/recovery-child.js", [JSON.stringify(spec), String(workflows), String(concurrency)])
}

/**
 * One recovery run on a fresh store from `stores`: fills it with `workflows`
 * pending workflows, times a child's recovery of them, removes the store.
 */
export async function runFreshRecovery(
  stores: BenchStoreFactory,
  workflows: number,
  ids: IDScheme,
  concurrency: number,
): Promise<RecoveryRun & { buildMS: number }> {
  const store = await stores()
  try {
    const { buildMS } = await fillBacklog(store, workflows, ids)
    return { ...(await recoverInChild(store.spec, workflows, concurrency)), buildMS }
  } finally {
    await store.remove()
  }
}

/** Times a child process's recovery of a copy of the SQLite `backlogFile`. */
export async function runRecovery(backlogFile: string, workflows: number, concurrency: number): Promise<RecoveryRun> {
  const tmp = tempDir()
  try {
    const file = path.join(tmp.dir, "recover.sqlite")
    fs.copyFileSync(backlogFile, file)
    return await recoverInChild({ kind: "sqlite", file }, workflows, concurrency)
  } finally {
    tmp.remove()
  }
}
