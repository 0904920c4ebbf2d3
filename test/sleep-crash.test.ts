/**
 * A sleep survives SIGKILL without restarting its timer: a child runner
 * reaches a sleep and is killed halfway through it; a runner started
 * afterwards recovers the workflow, which wakes at the wake time stored
 * before the kill (the total sleep is about the one requested, not longer
 * by the time before the kill). SQLite and Postgres, real child processes.
 */
import assert from "node:assert/strict"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { WorkflowRunner } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { killHard, startFixture, type Child } from "./helpers/ledger.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"

const SLEEP_MS = 3_000
/** The child is killed this long after its sleep started: a timer restarted by recovery would end this much later. */
const KILL_AFTER_MS = 1_500
/** How long after the wake time the recovering runner may take to run the next task. */
const WAKE_SLACK_MS = 1_000

const postgresReason = await postgresSkipReason().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))

interface CrashStore {
  name: string
  skip?: string
  /** The argument the fixture opens, a provider of the same store for this process, and cleanup. */
  open(dir: string): { arg: string; provider(): StorageProvider; cleanup(): Promise<void> }
}

const STORES: CrashStore[] = [
  {
    name: "sqlite",
    open: (dir) => ({
      arg: `sqlite:${join(dir, "store.sqlite")}`,
      provider: () => new SQLiteStorageProvider(join(dir, "store.sqlite")),
      cleanup: async () => {},
    }),
  },
  {
    name: "postgres",
    ...(typeof postgresReason === "string" ? { skip: postgresReason } : {}),
    open: () => {
      if (postgresReason instanceof Error) throw postgresReason
      const schema = uniqueSchemaName()
      return {
        arg: `postgres:${schema}`,
        provider: () => new PostgresStorageProvider(connectionString, { schema }),
        cleanup: () => dropSchema(schema).catch(() => {}),
      }
    },
  },
]

for (const store of STORES) {
  describe(`sleep across a crash (${store.name})`, { skip: store.skip ?? false, timeout: 60_000 }, () => {
    it("SIGKILL halfway through a sleep, then recover: it wakes at the wake time stored before the kill, not a full sleep later", async () => {
      const dir = mkdtempSync(join(tmpdir(), "dt-sleep-crash-"))
      const { arg, provider, cleanup } = store.open(dir)
      let child: Child | undefined
      let runner: WorkflowRunner | undefined
      let reader: StorageProvider | undefined
      try {
        child = startFixture("sleep-worker", [arg, dir, String(SLEEP_MS)])
        await bounded(child.ready, 15_000, "the child to reach its sleep")
        reader = provider()
        const before = await reader.getWorkflow("napper")
        const wakeAt = before?.tasks[1]?.wakeAt
        assert.ok(typeof wakeAt === "number", "the wake time was not stored when the sleep started")
        const sleepStarted = wakeAt - SLEEP_MS
        await new Promise((r) => setTimeout(r, Math.max(0, sleepStarted + KILL_AFTER_MS - Date.now())))
        await killHard(child)
        assert.ok(Date.now() < wakeAt, "the child was killed after the wake time; the test proves nothing")

        const started = new Map<string, number>()
        runner = new WorkflowRunner({
          taskRunners: [{ Name: "Mark", Execute: async (ctx) => (started.set(ctx.name, Date.now()), { data: ctx.name }) }],
          storageProvider: provider(),
          pollIntervalMS: 50,
        })
        await runner.recover()
        const info = await bounded(
          (async () => {
            for (;;) {
              const w = await runner!.getWorkflow("napper")
              if (w && w.status !== "pending") return w
              await new Promise((r) => setTimeout(r, 20))
            }
          })(),
          SLEEP_MS + 10_000,
          "the recovered workflow to end",
        )
        assert.equal(info.status, "completed")
        const nap = info.tasks[1]!
        assert.equal(nap.wakeAt?.getTime(), wakeAt, "recovery changed the stored wake time")
        assert.deepEqual(nap.result, { sleptUntil: new Date(wakeAt).toISOString() })
        const after = started.get("after")
        assert.ok(after !== undefined, "the task after the sleep did not run in the recovering runner")
        assert.equal(started.has("before"), false, "the task before the sleep ran again after recovery")
        assert.ok(after >= wakeAt, `the task after the sleep started ${wakeAt - after} ms before the wake time`)
        const slept = after - sleepStarted
        assert.ok(
          slept < SLEEP_MS + WAKE_SLACK_MS,
          `the sleep took ${slept} ms from when it started; ${SLEEP_MS} ms were asked (a timer restarted by recovery takes about ${SLEEP_MS + KILL_AFTER_MS})`,
        )
        const ledger = readFileSync(join(dir, "ledger.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { name: string; pid: number })
        assert.deepEqual(ledger.map((l) => l.name), ["before"], "the child ran a task after the sleep started")
      } finally {
        if (child && child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
        await runner?.stop()
        await reader?.close()
        await cleanup()
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
}

/** Resolves with `promise`, or fails saying what did not happen within `timeoutMS`. */
async function bounded<T>(promise: Promise<T>, timeoutMS: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMS} ms waiting for ${what}`)), timeoutMS)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
