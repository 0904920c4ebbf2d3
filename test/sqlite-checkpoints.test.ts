/**
 * The SQLite provider keeps its write-ahead log bounded: it empties the log
 * file once writes stop, checkpoints before the next write after a full
 * database, and a checkpoint that another connection's reader blocks is
 * retried later, never failing a write or a task.
 */
import assert from "node:assert/strict"
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import Database from "better-sqlite3"
import { WorkflowRunner } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { eventually } from "./helpers/runner.js"

const noop = { Name: "Noop", Execute: async () => ({ data: "x".repeat(1_000) }) } as const

function walSize(file: string): number {
  return existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0
}

function tempFile(): { file: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "dt-wal-"))
  return { file: join(dir, "store.sqlite"), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

async function runWorkflows(runner: WorkflowRunner, prefix: string, n: number): Promise<void> {
  const handles = await Promise.all(
    Array.from({ length: n }, (_, i) => runner.addWorkflow({ workflowID: `${prefix}-${i}`, tasks: { a: { task: "Noop" }, b: { task: "Noop" } } })),
  )
  const infos = await Promise.all(handles.map((h) => h.result()))
  assert.deepEqual(infos.filter((i) => i.status !== "completed"), [], "every workflow completed")
}

describe("SQLite write-ahead log", { timeout: 30_000 }, () => {
  it("empties the log file once writes stop, while the store stays open", async () => {
    const { file, cleanup } = tempFile()
    const runner = new WorkflowRunner({ taskRunners: [noop], storageProvider: new SQLiteStorageProvider(file), pollIntervalMS: 50 })
    try {
      await runner.recover()
      await runWorkflows(runner, "wf", 300)
      const busy = walSize(file)
      assert.ok(busy > 100_000, `the log holds the writes at first (${busy} B)`)
      await eventually(() => (walSize(file) === 0 ? true : undefined), 5_000, `the log file to be emptied after writes stopped (${walSize(file)} B)`)
      assert.equal((await runner.getWorkflow("wf-299"))?.status, "completed", "the data is in the database")
    } finally {
      await runner.stop()
      cleanup()
    }
  })

  it("after a write failed with SQLITE_FULL, checkpoints before the next write", async () => {
    const { file, cleanup } = tempFile()
    const storage = new SQLiteStorageProvider(file)
    const runner = new WorkflowRunner({ taskRunners: [noop], storageProvider: storage })
    try {
      // Not started: workflows are only stored, so nothing else writes meanwhile.
      for (let i = 0; i < 50; i++) await runner.addWorkflow({ workflowID: `wf-${i}`, tasks: { a: { task: "Noop", data: "d".repeat(2_000) } } })
      const before = walSize(file)
      assert.ok(before > 100_000, `the log holds the writes (${before} B)`)
      // A full database, as a full disk makes it: SQLite refuses to grow the file past max_page_count with SQLITE_FULL.
      const pages = storage.db.pragma("page_count", { simple: true }) as number
      storage.db.pragma(`max_page_count = ${pages}`)
      const error = await runner.addWorkflow({ workflowID: "big", tasks: { a: { task: "Noop", data: "d".repeat(200_000) } } }).catch((e: unknown) => e)
      assert.match(String(error), /database or disk is full/)
      storage.db.pragma("max_page_count = 1073741823")
      // Synchronously after the write, before any timer could run: only a checkpoint before it explains a short log.
      await runner.addWorkflow({ workflowID: "after", tasks: { a: { task: "Noop" } } })
      const after = walSize(file)
      assert.ok(after < 100_000, `the next write started on an emptied log (log ${before} B before, ${after} B after)`)
      assert.equal((storage.db.pragma("integrity_check", { simple: true }) as string), "ok")
      assert.equal((await runner.getWorkflow("wf-49"))?.tasks[0]?.data, "d".repeat(2_000))
    } finally {
      await runner.stop()
      cleanup()
    }
  })

  it("another connection's open read blocks checkpoints without failing a write or a task; they complete once it ends", async () => {
    const { file, cleanup } = tempFile()
    const runner = new WorkflowRunner({ taskRunners: [noop], storageProvider: new SQLiteStorageProvider(file), pollIntervalMS: 50, retryDelayMS: 10 })
    const reader = new Database(file)
    const storageErrors: unknown[] = []
    runner.on("storageError", (e) => storageErrors.push(e.error))
    try {
      await runner.recover()
      await runWorkflows(runner, "first", 100)
      // A read transaction in another connection (as in another process) pins the log.
      reader.exec("BEGIN")
      reader.prepare("SELECT count(*) FROM durabletasks_workflows").get()
      await runWorkflows(runner, "second", 200)
      // Idle ticks try to checkpoint and find the reader: each gives up at once rather than blocking the event loop.
      const waitStarted = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 2_500))
      const waited = Date.now() - waitStarted
      assert.ok(waited < 3_500, `blocked checkpoints did not stall the process (a 2,500 ms timer fired after ${waited} ms)`)
      assert.ok(walSize(file) > 0, "the log could not be emptied under the open read")
      await runWorkflows(runner, "third", 100)
      reader.exec("COMMIT")
      await eventually(() => (walSize(file) === 0 ? true : undefined), 5_000, `the log file to be emptied once the read ended (${walSize(file)} B)`)
      assert.deepEqual(storageErrors, [], "no storage call failed")
    } finally {
      reader.close()
      await runner.stop()
      cleanup()
    }
  })
})
