/**
 * The exactly-once rule of schedules, with real processes: three runner
 * processes declare the same every-second schedule for about 20 s while one
 * of them is SIGKILLed and restarted. Every tick is consumed by exactly one
 * step of one process (the ledger of fired ticks holds no tick twice), every
 * tick from the schedule's first to its next fire time has exactly one
 * workflow (`schedule:every-second:<tickISO>`) unless it was skipped, and
 * the skips recorded in storage account for every tick without one. On a
 * shared SQLite file and on Postgres.
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

interface LedgerEntry {
  event: "fired" | "skipped"
  runnerID: string
  pid: number
  workflowID?: string
  tickAt?: number
  created?: boolean
  count?: number
  lastTickAt?: number
}

const postgresSkip = await postgresSkipReason().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))

const stores: Array<{ name: string; skip?: string; setUp(dir: string): { arg: string; open(): StorageProvider; cleanup(): Promise<void> } }> = [
  {
    name: "SQLite file shared by three processes",
    setUp: (dir) => ({ arg: `sqlite:${join(dir, "store.sqlite")}`, open: () => new SQLiteStorageProvider(join(dir, "store.sqlite")), cleanup: async () => {} }),
  },
  {
    name: "Postgres",
    ...(typeof postgresSkip === "string" ? { skip: postgresSkip } : {}),
    setUp: () => {
      if (postgresSkip instanceof Error) throw postgresSkip
      const schema = uniqueSchemaName()
      return { arg: `postgres:${schema}`, open: () => new PostgresStorageProvider(connectionString, { schema }), cleanup: () => dropSchema(schema) }
    },
  },
]

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

for (const store of stores) {
  describe(`schedules fire exactly once across processes (${store.name})`, { skip: store.skip ?? false, timeout: 90_000 }, () => {
    it("three runners, one SIGKILLed and restarted: one workflow per tick, none missing but recorded skips", async () => {
      const dir = mkdtempSync(join(tmpdir(), "dt-schedule-once-"))
      const ledger = join(dir, "ledger.jsonl")
      const { arg, open, cleanup } = store.setUp(dir)
      const children: Child[] = []
      const start = (runnerID: string) => {
        const child = startFixture("schedule-worker", [arg, runnerID, ledger])
        children.push(child)
        return child
      }
      let client: WorkflowClient | undefined
      try {
        const workers = ["r0", "r1", "r2"].map(start)
        await Promise.all(workers.map((w) => w.ready))
        await sleep(6_000)
        await killHard(workers[1]!)
        await sleep(3_000)
        const restarted = start("r1")
        await restarted.ready
        await sleep(11_000)
        for (const child of [workers[0]!, workers[2]!, restarted]) child.process.kill("SIGTERM")
        for (const child of [workers[0]!, workers[2]!, restarted]) await exitsCleanly(child, 15_000)

        client = new WorkflowClient({ storageProvider: open() })
        const schedule = await client.getSchedule("every-second")
        assert.ok(schedule?.nextFireAt, "the schedule has no next fire time")
        const first = Math.floor(schedule.createdAt.getTime() / 1000) * 1000 + 1000
        const next = schedule.nextFireAt.getTime()
        const ticks = (next - first) / 1000
        assert.ok(Number.isInteger(ticks) && ticks >= 15, `only ${ticks} ticks passed in about 20 s`)

        const prefix = "schedule:every-second:"
        const workflows = (await client.listWorkflows({ afterID: prefix, limit: 1_000 })).filter((w) => w.id.startsWith(prefix))
        const tickOf = (id: string) => Date.parse(id.slice(prefix.length))
        for (const w of workflows) {
          const tick = tickOf(w.id)
          assert.ok(tick % 1000 === 0 && tick >= first && tick < next, `workflow ${w.id} is not a tick of the schedule's lifetime`)
        }
        const lines = existsSync(ledger) ? readFileSync(ledger, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as LedgerEntry) : []
        const fired = lines.filter((l) => l.event === "fired")
        const firedIDs = fired.map((l) => l.workflowID as string)
        const twice = firedIDs.filter((id, i) => firedIDs.indexOf(id) !== i)
        assert.deepEqual(twice, [], "a tick was consumed by two steps (two processes fired it)")
        assert.ok(fired.every((l) => l.created === true), "a fired tick found its workflow existing")
        const stored = new Set(workflows.map((w) => w.id))
        assert.deepEqual(firedIDs.filter((id) => !stored.has(id)), [], "a fired tick's workflow is missing from the store")
        // A process killed between its commit and its ledger line may leave a stored tick unledgered, nothing else.
        const unledgered = workflows.filter((w) => !firedIDs.includes(w.id))
        assert.ok(unledgered.length <= 1, `${unledgered.length} stored ticks were fired by no process's ledger`)
        assert.equal(
          workflows.length + schedule.skippedTicks,
          ticks,
          `every tick must have a workflow or be recorded as skipped: ${workflows.length} workflows + ${schedule.skippedTicks} skipped of ${ticks} ticks`,
        )
        const skippedTicks = lines.filter((l) => l.event === "skipped").map((l) => l.lastTickAt as number)
        assert.deepEqual(skippedTicks.filter((t) => stored.has(`${prefix}${new Date(t).toISOString()}`)), [], "a skipped tick has a workflow too")
        assert.ok(schedule.skippedTicks <= 6, `${schedule.skippedTicks} ticks skipped: more than the killed runner's lease explains`)
        const byRunner = new Set(fired.map((l) => l.runnerID))
        assert.ok(byRunner.size >= 2, `only ${[...byRunner].join(", ")} fired: no leader should be needed, but every runner competes`)
      } finally {
        for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
        await Promise.all(children.map((c) => c.exited))
        await client?.close()
        await cleanup()
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
}
