/**
 * The settings a SQLite store runs with, read back from SQLite itself: the
 * README promises `synchronous=FULL` by default (a committed workflow
 * survives power loss), WAL, and a busy timeout so several processes can
 * share one file. A crash test cannot see a weaker setting (SIGKILL loses
 * nothing that the OS has been handed), so it is checked here.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it, type TestContext } from "node:test"
import { SQLiteStorageProvider, type SQLiteStorageOptions } from "../src/storage/sqlite.js"
import { onTestEnd } from "./helpers/wait.js"

/** SQLite's numbers for `PRAGMA synchronous`. */
const SYNCHRONOUS = { 0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA" } as Record<number, string>

function open(t: TestContext, options?: SQLiteStorageOptions): SQLiteStorageProvider {
  const dir = mkdtempSync(join(tmpdir(), "dt-sqlite-settings-"))
  const storage = new SQLiteStorageProvider(join(dir, "store.sqlite"), options)
  onTestEnd(t, "close and remove the store", async () => {
    await storage.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return storage
}

function settings(storage: SQLiteStorageProvider) {
  return {
    journalMode: storage.db.pragma("journal_mode", { simple: true }),
    synchronous: SYNCHRONOUS[storage.db.pragma("synchronous", { simple: true }) as number],
    busyTimeoutMS: storage.db.pragma("busy_timeout", { simple: true }),
  }
}

describe("SQLite settings", { timeout: 10_000 }, () => {
  it("a default store runs with WAL, synchronous=FULL and a 10 s busy timeout", (t) => {
    assert.deepEqual(settings(open(t)), { journalMode: "wal", synchronous: "FULL", busyTimeoutMS: 10_000 })
  })

  it('synchronous: "NORMAL" sets NORMAL, "FULL" sets FULL; busyTimeoutMS sets the busy timeout', (t) => {
    assert.deepEqual(settings(open(t, { synchronous: "NORMAL", busyTimeoutMS: 250 })), { journalMode: "wal", synchronous: "NORMAL", busyTimeoutMS: 250 })
    assert.deepEqual(settings(open(t, { synchronous: "FULL" })), { journalMode: "wal", synchronous: "FULL", busyTimeoutMS: 10_000 })
  })

  it("a file reopened by another connection is still in WAL mode (the mode is stored in the file)", (t) => {
    const first = open(t)
    const second = new SQLiteStorageProvider(first.db.name)
    onTestEnd(t, "close the second connection", () => second.close())
    assert.deepEqual(settings(second), { journalMode: "wal", synchronous: "FULL", busyTimeoutMS: 10_000 })
  })
})
