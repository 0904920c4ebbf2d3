/**
 * A Postgres restart in the middle of a run (RELIABILITY.md test 6, bug
 * classes 4–6): two runners, each with its own pool and LISTEN connection,
 * work on one schema while the server is restarted with `pg_ctlcluster`.
 * They must reconnect and finish every workflow, with no unhandled error and
 * the process alive. `addWorkflow` during the outage either rejects with a
 * StorageError or resolves once the server is back, never dropping silently:
 * whatever resolved is stored and completes. The LISTEN connection comes back
 * too, and wakes listeners again.
 *
 * Needs a local cluster that `pg_ctlcluster` can restart (we run as root). The
 * server is always brought back up at the end, even if the test fails.
 */
import assert from "node:assert/strict"
import { execFile } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { describe, it, type TestContext } from "node:test"
import { promisify } from "node:util"
import { StorageError, WorkflowRunner, type TaskRunner } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { checkOracle, dumpPostgres, violations, type LedgerLine, type LedgerResult } from "./helpers/ledger.js"
import { MemoryLogger, eventually, resultOf } from "./helpers/runner.js"
import { connectionString, dropSchema, postgresOrSkip, uniqueSchemaName } from "./helpers/postgres.js"

const run = promisify(execFile)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The local cluster's version directory, or a reason why the server cannot be restarted from here. */
function restartableCluster(): { version: string } | { reason: string } {
  if (!existsSync("/usr/bin/pg_ctlcluster") || !existsSync("/etc/postgresql")) return { reason: "pg_ctlcluster or /etc/postgresql is missing" }
  const versions = readdirSync("/etc/postgresql")
  if (versions.length !== 1) return { reason: `expected one cluster version in /etc/postgresql, found ${versions.join(", ") || "none"}` }
  const host = new URL(connectionString).hostname
  if (!["127.0.0.1", "localhost", "::1", "[::1]", ""].includes(host)) return { reason: `the test database (${host}) is not the local cluster` }
  if (process.getuid?.() !== 0) return { reason: "restarting the cluster needs root" }
  return { version: versions[0]! }
}

function pgCtl(version: string, action: "restart" | "start"): Promise<unknown> {
  return run("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", action], { timeout: 60_000 })
}

async function isReady(): Promise<boolean> {
  try {
    await run("pg_isready", ["-h", "127.0.0.1", "-p", String(new URL(connectionString).port || 5432), "-q"], { timeout: 5_000 })
    return true
  } catch {
    return false
  }
}

/** Brings the server back whatever happened: waits for it, starts it if it does not come. */
async function ensureServerUp(version: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await isReady()) return
    if (i === 20) await pgCtl(version, "start").catch(() => {})
    await sleep(200)
  }
  throw new Error("Postgres did not come back up after the restart test")
}

describe("Postgres restart mid-run", { timeout: 60_000 }, () => {
  it("runners reconnect and finish every workflow; adds during the outage reject with StorageError or succeed, never silently drop", async (t: TestContext) => {
    if (!(await postgresOrSkip(t))) return
    const cluster = restartableCluster()
    if ("reason" in cluster) {
      if (process.env.CI === "true") throw new Error(`cannot restart Postgres here (${cluster.reason}); CI=true, so this fails instead of skipping`)
      t.skip(`cannot restart Postgres here: ${cluster.reason}`)
      return
    }

    const unhandled: unknown[] = []
    const onUnhandled = (error: unknown) => unhandled.push(error)
    process.on("unhandledRejection", onUnhandled)
    process.on("uncaughtException", onUnhandled)

    const schema = uniqueSchemaName()
    // In-process ledger: the two runners share this process, so each gets a pseudo-pid.
    const ledger: LedgerLine[] = []
    const stepFor = (pid: number): TaskRunner => ({
      Name: "Step",
      Execute: async (ctx) => {
        ledger.push({ workflowID: ctx.workflowID, seq: ctx.seq, attempt: ctx.attempt, pid, event: "start", time: Date.now() })
        let nonce: string | undefined
        try {
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, 2 + Math.random() * 10)
            ctx.signal.addEventListener("abort", () => (clearTimeout(timer), reject(ctx.signal.reason as Error)), { once: true })
          })
          const prev = ctx.seq === 0 ? null : ((ctx.getTaskResult(ctx.seq - 1) as LedgerResult | undefined)?.nonce ?? "missing")
          const result: LedgerResult = { nonce: `${pid}-${ctx.workflowID}-${ctx.seq}-${Math.random()}`, pid, prev }
          nonce = result.nonce
          return { data: result }
        } finally {
          ledger.push({ workflowID: ctx.workflowID, seq: ctx.seq, attempt: ctx.attempt, pid, event: "end", time: Date.now(), ...(nonce ? { nonce } : {}) })
        }
      },
    })
    const logs = [new MemoryLogger(), new MemoryLogger()]
    const runners = [1, 2].map(
      (pid) =>
        new WorkflowRunner({
          taskRunners: [stepFor(pid)],
          storageProvider: new PostgresStorageProvider(connectionString, { schema, logger: logs[pid - 1]! }),
          runnerID: `runner-${pid}`,
          leaseMS: 2_000,
          heartbeatMS: 500,
          pollIntervalMS: 100,
          retryDelayMS: 10,
          concurrency: 10,
          logger: logs[pid - 1]!,
        }),
    )
    const storageErrors = [0, 0]
    runners.forEach((r, i) => r.on("storageError", () => storageErrors[i]!++))
    // A listener on a provider of its own: proves the LISTEN connection comes back.
    const watcher = new PostgresStorageProvider(connectionString, { schema })
    let wakeups = 0
    let unsubscribe = () => {}

    const acked = new Set<string>()
    const attempted = new Set<string>()
    const rejected: Array<{ id: string; error: unknown }> = []
    const duringOutage: Array<{ id: string; outcome: "resolved" | "rejected"; ms: number }> = []
    let next = 0
    const tasks = { a: { task: "Step" as const }, b: { task: "Step" as const }, c: { task: "Step" as const } }
    const add = async (runner: WorkflowRunner, outage: () => boolean) => {
      const id = `wf-${next++}`
      attempted.add(id)
      const during = outage()
      const began = Date.now()
      try {
        await runner.addWorkflow({ workflowID: id, tasks })
        acked.add(id)
        if (during) duringOutage.push({ id, outcome: "resolved", ms: Date.now() - began })
      } catch (error) {
        rejected.push({ id, error })
        if (during) duringOutage.push({ id, outcome: "rejected", ms: Date.now() - began })
      }
    }

    try {
      await watcher.init()
      unsubscribe = watcher.onWorkAvailable(() => wakeups++)
      await Promise.all(runners.map((r) => r.recover()))
      for (let i = 0; i < 200; i++) await add(runners[i % 2]!, () => false)
      // Work is under way (some done, some running, some waiting) when the server goes down.
      await eventually(async () => ((await runners[0]!.listWorkflows({ status: "completed", limit: 20 })).length >= 20 ? true : undefined), 10_000, "some workflows to complete")

      let restarting = true
      const restartStarted = Date.now()
      const restart = pgCtl(cluster.version, "restart").finally(() => (restarting = false))
      // Keep adding, through both runners, all through the outage and a little after.
      const adders = runners.map(async (runner) => {
        while (restarting) {
          await add(runner, () => restarting)
          await sleep(20)
        }
        for (let i = 0; i < 50; i++) await add(runner, () => false)
      })
      await restart
      const restartMS = Date.now() - restartStarted
      await Promise.all(adders)

      // Everything acknowledged completes, without anyone restarting the runners.
      const wokeBefore = wakeups
      const done = await eventually(
        async () => {
          const dump = await dumpPostgres(schema)
          return [...acked].every((id) => dump.workflows.get(id)?.status === "completed") &&
            [...dump.workflows.values()].every((w) => w.status === "completed")
            ? dump
            : undefined
        },
        25_000,
        "every stored workflow to complete after the restart",
      )

      const report = checkOracle({ ledger, store: done, acked, attempted, kills: [], snapshots: [] })
      assert.deepEqual(violations(report), {}, "the oracle found violations")
      for (const { id, error } of rejected) {
        assert.ok(error instanceof StorageError, `add of ${id} rejected with ${String(error)}, not a StorageError`)
      }
      assert.ok(duringOutage.length > 0, "some adds were made while the server was restarting")
      assert.deepEqual(unhandled, [], "no unhandled rejection or uncaught exception")
      assert.ok(storageErrors[0]! + storageErrors[1]! > 0, "the runners noticed the outage (storageError events)")

      // Both runners still work, and the LISTEN connection is back: a new unleased workflow wakes the watcher.
      const adder = new WorkflowRunner({ taskRunners: [stepFor(3)], storageProvider: new PostgresStorageProvider(connectionString, { schema }) })
      await adder.addWorkflow({ workflowID: "after-restart", tasks })
      await adder.stop()
      await eventually(() => (wakeups > wokeBefore ? true : undefined), 12_000, "a notification on the restored LISTEN connection (it reconnects with backoff, at most 10 s apart)")
      const after = await Promise.all(runners.map((r, i) => r.addWorkflow({ workflowID: `after-${i}`, tasks }).then((h) => resultOf(h))))
      assert.deepEqual(after.map((w) => w.status), ["completed", "completed"])
      await eventually(async () => ((await runners[0]!.getWorkflow("after-restart"))?.status === "completed" ? true : undefined), 10_000, "after-restart to complete")

      const outageRejected = duringOutage.filter((d) => d.outcome === "rejected").length
      t.diagnostic(
        `restart took ${restartMS} ms; ${acked.size} adds acknowledged, ${rejected.length} rejected with StorageError ` +
          `(${duringOutage.length} made during the restart: ${duringOutage.length - outageRejected} resolved, ${outageRejected} rejected, ` +
          `slowest ${Math.max(...duringOutage.map((d) => d.ms))} ms); ${report.tasks} results, ${report.reexecutions} re-executions; ` +
          `storageError events ${storageErrors.join("/")}; ${wakeups} wake-ups`,
      )
    } finally {
      await ensureServerUp(cluster.version)
      unsubscribe()
      await Promise.all(runners.map((r) => r.stop({ timeoutMS: 1_000 }).catch(() => {})))
      await watcher.close()
      process.off("unhandledRejection", onUnhandled)
      process.off("uncaughtException", onUnhandled)
      await dropSchema(schema)
    }
  })
})
