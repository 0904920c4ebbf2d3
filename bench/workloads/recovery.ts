/**
 * Workload 4, recovery: a database with many pending workflows (as after a
 * crash with a long backlog), and a fresh process that opens it and calls
 * `recover()`. The database is built by inserting rows directly through the
 * provider in big batches; the recovering process is a child, so its peak RSS
 * is its own.
 */
import fs from "node:fs"
import path from "node:path"
import { SQLiteStorageProvider } from "../../src/storage/sqlite.js"
import type { NewWorkflow } from "../../src/storage/provider.js"
import { nowMS, runChild, tempDir } from "../stats.js"
import { TASKS_PER_WORKFLOW } from "./common.js"
import { workflowIDs, type IDScheme } from "../floors.js"

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

/**
 * A database file holding `workflows` pending, unleased workflows, after
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
  const tasks = Array.from({ length: TASKS_PER_WORKFLOW }, (_, i) => ({ name: `t${i}`, task: "Noop", data: "null" }))
  const all = workflowIDs(ids, ended + workflows)
  const batch = 10_000
  for (let i = 0; i < all.length; i += batch) {
    const rows: NewWorkflow[] = all.slice(i, i + batch).map((id) => ({ id, now, tasks }))
    await storage.insertWorkflowsAndTasks(rows)
  }
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
    for (let i = 0; i < ended; i += batch) endAll(all.slice(i, Math.min(ended, i + batch)))
  }
  storage.db.pragma("wal_checkpoint(TRUNCATE)")
  await storage.close()
  return { file, buildMS: nowMS() - started }
}

/** Times a child process's recovery of a copy of `backlogFile`. */
export async function runRecovery(backlogFile: string, workflows: number, concurrency: number): Promise<RecoveryRun> {
  const tmp = tempDir()
  try {
    const file = path.join(tmp.dir, "recover.sqlite")
    fs.copyFileSync(backlogFile, file)
    return await runChild<RecoveryRun>("./workloads/recovery-child.js", [file, String(workflows), String(concurrency)])
  } finally {
    tmp.remove()
  }
}
