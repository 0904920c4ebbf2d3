/**
 * The SQLite file in trouble: a missing directory, a read-only file, a
 * read-only file system, a full disk. Each gives a clear error, never a
 * silent drop, and leaves the store uncorrupted; once the cause is gone,
 * everything that was acknowledged completes.
 *
 * The full disk and the read-only file system are real: a small tmpfs is
 * mounted (the tests run as root). Where mounting is not allowed, the
 * read-only file system test is skipped, saying why (there is nothing real
 * to test it on), and the full disk test falls back to FaultInjectingStorage's
 * SQLITE_FULL mimic, which still exercises the runner's side, and says so in
 * a diagnostic. Root ignores file modes, so the read-only-file test runs its
 * runner as user `nobody` in a child process.
 */
import assert from "node:assert/strict"
import { execFileSync, spawn } from "node:child_process"
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, it } from "node:test"
import Database from "better-sqlite3"
import { StorageError, WorkflowRunner, type WorkflowHandle } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { FaultInjectingStorage } from "../src/testing/faults.js"
import { MemoryLogger, eventually, resultOf } from "./helpers/runner.js"
import { mountTmpfs, unmount } from "./helpers/tmpfs.js"
import { onTestEnd, waitFor } from "./helpers/wait.js"
import { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from "../src/storage/sqlite/schema.js"

const noop = { Name: "Noop", Execute: async () => ({ data: "done" }) } as const

function integrity(file: string): string {
  const storage = new SQLiteStorageProvider(file)
  try {
    return (storage.db.pragma("integrity_check") as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join("; ")
  } finally {
    void storage.close()
  }
}

/** Stores one pending workflow "before" in a new store at `file`, without running it. */
async function storeOnePending(file: string): Promise<void> {
  const runner = new WorkflowRunner({ taskRunners: [noop], storageProvider: new SQLiteStorageProvider(file) })
  await runner.addWorkflow({ workflowID: "before", tasks: { a: { task: "Noop" } } })
  await runner.stop()
}

/** Runs whatever is pending in `file` to its end and returns the workflow "before". */
async function runPending(file: string) {
  const runner = new WorkflowRunner({ taskRunners: [noop], storageProvider: new SQLiteStorageProvider(file), pollIntervalMS: 50 })
  try {
    await runner.recover()
    const info = await resultOf(await runner.addWorkflow({ workflowID: "before", tasks: { a: { task: "Noop" } } }))
    return { info, during: await runner.getWorkflow("during") }
  } finally {
    await runner.stop()
  }
}

describe("SQLite file problems", { timeout: 120_000 }, () => {
  it("a missing directory: the provider refuses to open, saying so, and creates nothing", () => {
    const base = mkdtempSync(join(tmpdir(), "dt-files-"))
    try {
      const missing = join(base, "no", "such", "dir")
      assert.throws(() => new SQLiteStorageProvider(join(missing, "store.sqlite")), /directory does not exist/)
      assert.equal(existsSync(join(base, "no")), false, "no directory was created")
    } finally {
      rmSync(base, { recursive: true, force: true })
    }
  })

  it("a read-only file: reads work, addWorkflow rejects with a StorageError naming the cause, nothing changes; all runs once writable", { timeout: 30_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-files-"))
    const file = join(dir, "store.sqlite")
    try {
      await storeOnePending(file)
      chmodSync(file, 0o444)
      chmodSync(dir, 0o777) // SQLite may create its -wal and -shm files beside it
      const asRoot = process.getuid?.() === 0
      const script = fileURLToPath(new URL("./fixtures/readonly-store.js", import.meta.url))
      const child = spawn(process.execPath, [script, file], { stdio: ["ignore", "pipe", "pipe"], ...(asRoot ? { uid: 65534, gid: 65534 } : {}) })
      let out = ""
      let err = ""
      child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
      child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d))
      onTestEnd(t, "kill the read-only runner", () => child.kill("SIGKILL"))
      const code = await waitFor(
        new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c))),
        { what: "the read-only runner process exiting", timeoutMS: 30_000 },
      )
      assert.equal(code, 0, `the runner process exited cleanly: ${err}`)
      const said = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>)
      const event = (name: string) => said.find((m) => m.event === name)
      t.diagnostic(`as ${asRoot ? "nobody (the test runs as root)" : "this user"}: ${JSON.stringify(said)}`)
      assert.equal(event("openFailed"), undefined, "a read-only file opens (for reading)")
      assert.equal(event("read")?.status, "pending", "reads work")
      const rejected = event("addRejected")
      assert.ok(rejected, "addWorkflow did not succeed silently")
      assert.equal(rejected.name, "StorageError")
      assert.match(String(rejected.message), /could not store workflow "during": .*attempt to write a readonly database/)
      const recovered = event("recovered") as { storageErrors: number; errorLogs: string[] }
      assert.ok(recovered.storageErrors >= 1, "claims failed and were reported, the runner kept going")
      assert.ok(recovered.errorLogs.some((m) => /storage claimWorkflows failed .*readonly/.test(m)), recovered.errorLogs.join(" | "))
      assert.ok(event("done"))

      chmodSync(file, 0o644)
      assert.equal(integrity(file), "ok")
      const { info, during } = await runPending(file)
      assert.equal(info.status, "completed", "the workflow stored before completes once the file is writable")
      assert.equal(during, null, "the rejected workflow was not written")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a read-only file system: opening fails with an error, not corruption; after remounting read-write all is there", { timeout: 30_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-files-"))
    const file = join(dir, "store.sqlite")
    if (!mountTmpfs(dir, "4m")) {
      rmSync(dir, { recursive: true, force: true })
      t.skip("mounting a tmpfs is not allowed here (it needs root and a sandbox that permits mounts): no read-only file system to test on")
      return
    }
    try {
      await storeOnePending(file)
      execFileSync("mount", ["-o", "remount,ro", dir])
      const error = (() => {
        try {
          new SQLiteStorageProvider(file).db.close()
          return undefined
        } catch (e) {
          return e as Error & { code?: string }
        }
      })()
      assert.ok(error, "opening a store on a read-only file system fails at once")
      t.diagnostic(`error: ${error.name} ${error.code}: ${error.message}`)
      assert.match(error.code ?? "", /^SQLITE_(CANTOPEN|READONLY)/)
      execFileSync("mount", ["-o", "remount,rw", dir])
      assert.equal(integrity(file), "ok")
      const { info } = await runPending(file)
      assert.equal(info.status, "completed")
    } finally {
      unmount(dir)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a full disk: addWorkflow rejects with SQLITE_FULL, result writes back off; once space is freed everything acknowledged completes", { timeout: 30_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-files-"))
    const file = join(dir, "store.sqlite")
    const mounted = mountTmpfs(dir, "4m")
    if (!mounted) t.diagnostic("mount is not allowed here: simulating a full disk with FaultInjectingStorage (SQLITE_FULL)")
    const sqlite = new SQLiteStorageProvider(file)
    const storage = new FaultInjectingStorage(sqlite)
    let open: () => void = () => {}
    const gate = new Promise<void>((r) => (open = r))
    const logger = new MemoryLogger()
    const runner = new WorkflowRunner({
      // Results of 150 KB: each write needs fresh pages, which a full disk does not have.
      taskRunners: [{ Name: "Big", Execute: async () => (await gate, { data: "r".repeat(150_000) }) }],
      storageProvider: storage,
      pollIntervalMS: 50,
      retryDelayMS: 20,
      logger,
    })
    const filler = join(dir, "filler")
    const fullWrites: string[] = []
    runner.on("storageError", (e) => {
      if (e.operation === "applyWorkflowWrites" && /full/.test(String((e.error as Error).message))) fullWrites.push(String((e.error as Error).message))
    })
    try {
      await runner.recover()
      const acked: WorkflowHandle[] = []
      for (let i = 0; i < 3; i++) acked.push(await runner.addWorkflow({ workflowID: `ok-${i}`, tasks: { a: { task: "Big" } } }))

      // Fill the disk.
      if (mounted) {
        const fd = openSync(filler, "w")
        try {
          for (const chunk of [65_536, 4_096, 512]) {
            const buffer = Buffer.alloc(chunk, 1)
            for (;;) {
              try {
                writeSync(fd, buffer)
              } catch (e) {
                if ((e as { code?: string }).code !== "ENOSPC") throw e
                break
              }
            }
          }
        } finally {
          closeSync(fd)
        }
      } else {
        storage.outage(true, "full")
      }

      const rejected = await runner
        .addWorkflow({ workflowID: "too-much", tasks: { a: { task: "Big", data: "d".repeat(200_000) } } })
        .then(() => undefined, (e: unknown) => e)
      assert.ok(rejected instanceof StorageError, `addWorkflow rejected with a StorageError, got ${String(rejected)}`)
      assert.match(rejected.message, /could not store workflow "too-much": .*database or disk is full/)

      open()
      await eventually(() => (fullWrites.length >= 2 ? true : undefined), 10_000, "result writes to fail on the full disk")
      assert.ok(logger.at("error").some((m) => /storage applyWorkflowWrites failed .*full/.test(m)), "logged at error")

      if (mounted) unlinkSync(filler)
      else storage.outage(false)
      const infos = await Promise.all(acked.map((h) => resultOf(h)))
      assert.deepEqual(infos.map((i) => [i.status, (i.tasks[0]!.result as string).length]), Array(3).fill(["completed", 150_000]))
      assert.equal(await runner.getWorkflow("too-much"), null, "nothing of the rejected workflow was written")
      const again = await runner.addWorkflow({ workflowID: "too-much", tasks: { a: { task: "Big", data: "d".repeat(200_000) } } })
      assert.equal(again.created, true)
      assert.equal((await resultOf(again)).status, "completed")
      assert.equal((sqlite.db.pragma("integrity_check") as Array<{ integrity_check: string }>)[0]!.integrity_check, "ok")
      t.diagnostic(`${fullWrites.length} result writes failed with: ${fullWrites[0]}`)
    } finally {
      open()
      storage.heal()
      await runner.stop()
      if (mounted) unmount(dir)
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("SQLite schema versions", () => {
  it("migrates a version 1 file, keeping its rows, and refuses a newer one", { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "dt-schema-"))
    const file = join(dir, "old.sqlite")
    try {
      await storeOnePending(file)
      // Back to what version 1 made.
      const old = new SQLiteStorageProvider(file)
      old.db.exec("ALTER TABLE durabletasks_workflows DROP COLUMN recoveries; ALTER TABLE durabletasks_workflows DROP COLUMN crashes")
      old.db.exec("ALTER TABLE durabletasks_tasks DROP COLUMN kind; ALTER TABLE durabletasks_tasks DROP COLUMN wake_at")
      old.db.exec(`DROP INDEX durabletasks_tasks_waiting; DROP TABLE durabletasks_events;
        ALTER TABLE durabletasks_tasks DROP COLUMN event_name; ALTER TABLE durabletasks_tasks DROP COLUMN event_key;
        ALTER TABLE durabletasks_tasks DROP COLUMN event_after; ALTER TABLE durabletasks_tasks DROP COLUMN event_seq`)
      for (const column of ["started_at", "ended_at", "runner_id", "attempt_history"]) old.db.exec(`ALTER TABLE durabletasks_tasks DROP COLUMN ${column}`)
      old.db.exec("DROP TABLE durabletasks_schedules; UPDATE durabletasks_schema SET version = 1")
      await old.close()

      const migrated = new SQLiteStorageProvider(file)
      assert.equal((migrated.db.prepare("SELECT version FROM durabletasks_schema").get() as { version: number }).version, SQLITE_SCHEMA_VERSION)
      const [row] = await migrated.listWorkflows({ limit: 10 })
      assert.equal(row?.status, "pending")
      assert.equal(row?.recoveries, 0)
      assert.equal(row?.crashes, 0)
      const [task] = (await migrated.getWorkflow(row?.id ?? ""))?.tasks ?? []
      assert.equal(task?.kind, "task", "version 4 makes every task stored before it a task step")
      assert.equal(task?.wakeAt, null)
      migrated.db.exec(`UPDATE durabletasks_schema SET version = ${SQLITE_SCHEMA_VERSION + 1}`)
      await migrated.close()
      assert.throws(
        () => new SQLiteStorageProvider(file),
        new RegExp(`schema version ${SQLITE_SCHEMA_VERSION + 1}, newer than this library's ${SQLITE_SCHEMA_VERSION}: upgrade durabletasks`),
      )
      // Runs what the old version stored.
      const raw = new Database(file)
      raw.exec(`UPDATE durabletasks_schema SET version = ${SQLITE_SCHEMA_VERSION}`)
      raw.close()
      const runner = new WorkflowRunner({ taskRunners: [noop], storageProvider: new SQLiteStorageProvider(file), pollIntervalMS: 50 })
      try {
        await runner.recover()
        const done = await eventually(async () => (await runner.listWorkflows({ status: "completed" }))[0], 5_000, "the old workflow to complete")
        assert.equal(done.recoveries, 0)
      } finally {
        await runner.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
