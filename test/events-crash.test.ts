/**
 * Waiting for events survives SIGKILL: a child runner is killed while its
 * workflows wait for events, some just woken by events sent from this
 * process and running; more events are sent while no runner runs; a runner
 * started afterwards recovers. Every workflow ends with the right events,
 * in order, none taken twice, and no task whose result was stored before
 * the kill runs again. SQLite and Postgres, real child processes.
 */
import assert from "node:assert/strict"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { WorkflowClient } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { exitsCleanly, killHard, startFixture, type Child } from "./helpers/ledger.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"

const COUNT = 30

const postgresReason = await postgresSkipReason().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))

interface CrashStore {
  name: string
  skip?: string
  open(dir: string): { arg: string; provider(): StorageProvider; cleanup(): Promise<void> }
}

const STORES: CrashStore[] = [
  {
    name: "sqlite",
    open: (dir) => ({ arg: `sqlite:${join(dir, "store.sqlite")}`, provider: () => new SQLiteStorageProvider(join(dir, "store.sqlite")), cleanup: async () => {} }),
  },
  {
    name: "postgres",
    ...(typeof postgresReason === "string" ? { skip: postgresReason } : {}),
    open: () => {
      if (postgresReason instanceof Error) throw postgresReason
      const schema = uniqueSchemaName()
      return {
        arg: `postgres:${schema}`,
        provider: () => new PostgresStorageProvider(connectionString, { schema, poolConfig: { max: 4 } }),
        cleanup: () => dropSchema(schema).catch(() => {}),
      }
    },
  },
]

interface LedgerLine {
  workflowID: string
  name: string
  pid: number
}

for (const store of STORES) {
  describe(`events across a crash (${store.name})`, { skip: store.skip ?? false, timeout: 90_000 }, () => {
    it("SIGKILL while workflows wait (and some run after a wake-up); events sent while no runner runs; after recovery all end right", async () => {
      const dir = mkdtempSync(join(tmpdir(), "dt-events-crash-"))
      const s = store.open(dir)
      let child: Child | undefined
      const client = new WorkflowClient({ storageProvider: s.provider() })
      try {
        child = startFixture("events-crash-worker", ["wait", s.arg, dir, String(COUNT)])
        await child.ready
        // Half are paid while the runner lives: they wake, run "packed", and wait again; kill it somewhere in that.
        for (let i = 0; i < COUNT / 2; i++) await client.sendEvent({ name: "paid", key: `o-${i}`, payload: i, eventID: `paid-${i}` })
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 250))
        await killHard(child)
        const before = readLedger(dir)
        const stored = await Promise.all(Array.from({ length: COUNT }, (_, i) => client.getWorkflow(`order-${i}`)))
        const packedBeforeKill = new Set(stored.filter((w) => w?.tasks[2]?.status === "completed").map((w) => w!.id))

        // While no runner runs: the other half is paid, and everyone ships twice (a repeat of one eventID too).
        for (let i = COUNT / 2; i < COUNT; i++) await client.sendEvent({ name: "paid", key: `o-${i}`, payload: i, eventID: `paid-${i}` })
        for (let i = 0; i < COUNT; i++) {
          await client.sendEvent({ name: "shipped", key: `o-${i}`, payload: "box 1", eventID: `shipped-${i}-1` })
          await client.sendEvent({ name: "shipped", key: `o-${i}`, payload: "box 1 again", eventID: `shipped-${i}-1` })
          await client.sendEvent({ name: "shipped", key: `o-${i}`, payload: "box 2", eventID: `shipped-${i}-2` })
        }
        child = startFixture("events-crash-worker", ["drain", s.arg, dir, String(COUNT)])
        await exitsCleanly(child, 40_000)

        const ledger = readLedger(dir)
        for (let i = 0; i < COUNT; i++) {
          const id = `order-${i}`
          const info = await client.getWorkflow(id)
          assert.equal(info?.status, "completed", `${id} ended ${info?.status}`)
          const eventIDs = info.tasks.filter((t) => t.kind === "waitForEvent").map((t) => (t.result as { eventID: string }).eventID)
          assert.deepEqual(eventIDs, [`paid-${i}`, `shipped-${i}-1`, `shipped-${i}-2`], `${id} took the wrong events (or one twice)`)
          assert.deepEqual((info.tasks[3]?.result as { payload: unknown }).payload, "box 1", "a repeated eventID must not replace the first send")
          const packedRuns = ledger.filter((l) => l.workflowID === id && l.name === "packed")
          assert.ok(packedRuns.length >= 1, `${id}: "packed" never ran`)
          if (packedBeforeKill.has(id)) {
            assert.equal(packedRuns.length, 1, `${id}: "packed" ran again after its result was stored before the kill`)
          }
        }
        assert.ok(before.length >= COUNT, "the first runner ran every workflow's first task")
      } finally {
        if (child && child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
        await client.close()
        await s.cleanup()
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
}

function readLedger(dir: string): LedgerLine[] {
  const file = join(dir, "ledger.jsonl")
  if (!existsSync(file)) return []
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as LedgerLine)
}
