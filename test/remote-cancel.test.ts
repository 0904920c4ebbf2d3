/**
 * A cancel from another process reaches the running task's signal within
 * about a second with default options (README: "Cancelling"): on a shared
 * SQLite file through the poll of `getWorkflowStatuses`, on Postgres through
 * NOTIFY (and through the poll when notifications are off). Real processes:
 * the worker runs the tasks, this process cancels.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it, type TestContext } from "node:test"
import { WorkflowRunner, type TaskRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import type { CancelWorkerOptions, CancelWorkerStore } from "./fixtures/cancel-worker.js"
import { exitsCleanly, startFixture, type Child } from "./helpers/ledger.js"
import { adminQuery, connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"
import { eventually } from "./helpers/runner.js"

/**
 * The README promises about a second (one `pollIntervalMS`, default 1,000 ms);
 * the rest is slack for a loaded 2-core machine. Without the poll, a cancel
 * waits for the next lease renewal: up to `heartbeatMS`, 10 s by default.
 */
const BOUND_MS = 2_500
const CANCELS = 3

const postgresSkip = await postgresSkipReason()

/** The `aborted` lines the worker printed, by workflow ID. */
function abortedLines(child: Child): Map<string, { at: number; reason: string }> {
  const lines = new Map<string, { at: number; reason: string }>()
  for (const line of child.stdout().split("\n")) {
    if (!line.startsWith("{")) continue
    const message = JSON.parse(line) as { event: string; workflowID: string; at: number; reason: string }
    if (message.event === "aborted") lines.set(message.workflowID, message)
  }
  return lines
}

/**
 * Starts a worker running CANCELS waiting tasks on `store`, cancels them one
 * by one from this process through its own storage, and asserts that the
 * latency of each (signal fired − cancelWorkflow returned) is within the bound.
 */
async function measureRemoteCancels(t: TestContext, store: CancelWorkerStore, openCanceller: () => StorageProvider): Promise<void> {
  const prefix = `remote-cancel-${store.kind}`
  const options: CancelWorkerOptions = { store, prefix, count: CANCELS }
  const worker = startFixture("cancel-worker", [JSON.stringify(options)])
  const canceller = new WorkflowRunner({ taskRunners: [], storageProvider: openCanceller() })
  try {
    await worker.ready
    const latencies: number[] = []
    for (let i = 0; i < CANCELS; i++) {
      const id = `${prefix}-${i}`
      // Cancels land at different points of the worker's poll cycle.
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 700))
      assert.equal(await canceller.cancelWorkflow(id), true, `${id} was pending and is now cancelled`)
      const returnedAt = Date.now()
      const fired = await eventually(() => abortedLines(worker).get(id), 15_000, `the signal of ${id}'s task to fire in the worker`).catch(
        (error: unknown) => {
          throw new Error(`${String(error)}; worker stderr: ${worker.stderr()}`)
        },
      )
      latencies.push(Math.max(0, fired.at - returnedAt))
      assertWithinBound(latencies)
      assert.equal(fired.reason, "workflow cancelled", "the signal says why it fired")
      assert.equal((await canceller.getWorkflow(id))?.status, "cancelled")
    }
    t.diagnostic(`${store.kind}${store.kind === "postgres" && store.notifications === false ? " (no notifications)" : ""}: latencies ${latencies.join(", ")} ms`)
    await exitsCleanly(worker, 15_000)
  } finally {
    if (worker.process.exitCode === null && worker.process.signalCode === null) worker.process.kill("SIGKILL")
    await worker.exited
    await canceller.stop()
  }
}

function assertWithinBound(latencies: number[]): void {
  for (const ms of latencies) {
    assert.ok(ms <= BOUND_MS, `a cancel from another process reached the running task after ${ms} ms; the bound is ${BOUND_MS} ms (all: ${latencies.join(", ")})`)
  }
}

describe("a cancel from another process stops the running task within about a second (default options)", { timeout: 90_000 }, () => {
  it("on a SQLite file shared by two processes", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-remote-cancel-"))
    const file = join(dir, "store.sqlite")
    try {
      await measureRemoteCancels(t, { kind: "sqlite", file }, () => new SQLiteStorageProvider(file))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  for (const notifications of [true, false]) {
    it(`on Postgres, ${notifications ? "through NOTIFY" : "with notifications off (through the poll)"}`, { skip: postgresSkip ?? false }, async (t) => {
      const schema = uniqueSchemaName()
      try {
        await measureRemoteCancels(
          t,
          { kind: "postgres", connectionString, schema, notifications },
          () => new PostgresStorageProvider(connectionString, { schema, notifications }),
        )
      } finally {
        await dropSchema(schema)
      }
    })
  }
})

describe("cancels from another runner in the same process", () => {
  const waitForSignal = (fired: Map<string, number>): TaskRunner => ({
    Name: "WaitForSignal",
    Execute: (ctx) =>
      new Promise((_, reject) => {
        ctx.signal.addEventListener("abort", () => (fired.set(ctx.workflowID, Date.now()), reject(ctx.signal.reason)), { once: true })
      }),
  })

  it("reach the task at once through a shared MemoryStorageProvider's notification", async () => {
    const storage = new MemoryStorageProvider()
    const fired = new Map<string, number>()
    // A poll far slower than the bound: only the notification can be this fast.
    const worker = new WorkflowRunner({ taskRunners: [waitForSignal(fired)], storageProvider: storage, pollIntervalMS: 60_000 })
    const other = new WorkflowRunner({ taskRunners: [], storageProvider: storage, runnerID: "other" })
    try {
      await worker.recover()
      const started = new Promise<void>((r) => worker.once("taskStarted", () => r()))
      await worker.addWorkflow({ workflowID: "shared-memory", tasks: { wait: { task: "WaitForSignal" } } })
      await started
      assert.equal(await other.cancelWorkflow("shared-memory"), true)
      await eventually(() => fired.get("shared-memory"), 1_000, "the task's signal to fire")
    } finally {
      await worker.stop({ closeStorage: false })
      await other.stop()
    }
  })

  it("reach the task at once through Postgres NOTIFY, from another provider instance", { skip: postgresSkip ?? false }, async () => {
    const schema = uniqueSchemaName()
    const fired = new Map<string, number>()
    // A poll far slower than the bound: only the notification can be this fast.
    const workerStorage = new PostgresStorageProvider(connectionString, { schema })
    const worker = new WorkflowRunner({ taskRunners: [waitForSignal(fired)], storageProvider: workerStorage, pollIntervalMS: 60_000 })
    const other = new WorkflowRunner({ taskRunners: [], storageProvider: new PostgresStorageProvider(connectionString, { schema }), runnerID: "other" })
    try {
      await worker.recover()
      const started = new Promise<void>((r) => worker.once("taskStarted", () => r()))
      await worker.addWorkflow({ workflowID: "notified", tasks: { wait: { task: "WaitForSignal" } } })
      await started
      // The LISTEN connection opens in the background; a cancel before it listens would only be found by the poll.
      // It listens to the cancel channel first, then to the work channel, which pg_stat_activity then shows.
      await eventually(async () => {
        const rows = await adminQuery("SELECT 1 FROM pg_stat_activity WHERE query = $1", [`LISTEN ${workerStorage.notificationChannel}`])
        return rows.length > 0 ? true : undefined
      }, 5_000, "the worker's LISTEN connection")
      assert.equal(await other.cancelWorkflow("notified"), true)
      const cancelledAt = Date.now()
      const at = await eventually(() => fired.get("notified"), 1_000, "the task's signal to fire on the notification")
      assert.ok(at - cancelledAt < 1_000)
    } finally {
      await worker.stop()
      await other.stop()
      await dropSchema(schema)
    }
  })

  it("still reach the task, at the next lease renewal, on a provider without getWorkflowStatuses or onWorkflowsCancelled", async () => {
    const inner = new MemoryStorageProvider()
    // A user's provider that has only the required methods.
    const minimal: StorageProvider = {
      init: () => inner.init(),
      close: () => inner.close(),
      insertWorkflowsAndTasks: (w) => inner.insertWorkflowsAndTasks(w),
      claimWorkflows: (c) => inner.claimWorkflows(c),
      renewLeases: (r) => inner.renewLeases(r),
      releaseLeases: (r) => inner.releaseLeases(r),
      applyWorkflowWrites: (w) => inner.applyWorkflowWrites(w),
      getWorkflow: (id) => inner.getWorkflow(id),
      listWorkflows: (f) => inner.listWorkflows(f),
      cancelWorkflow: (id, now) => inner.cancelWorkflow(id, now),
      retryWorkflow: (r) => inner.retryWorkflow(r),
      deleteEndedWorkflows: (before) => inner.deleteEndedWorkflows(before),
    }
    const fired = new Map<string, number>()
    const storageErrors: unknown[] = []
    const worker = new WorkflowRunner({ taskRunners: [waitForSignal(fired)], storageProvider: minimal, pollIntervalMS: 20, heartbeatMS: 300 })
    worker.on("storageError", (e) => storageErrors.push(e))
    try {
      await worker.recover()
      const started = new Promise<void>((r) => worker.once("taskStarted", () => r()))
      await worker.addWorkflow({ workflowID: "minimal", tasks: { wait: { task: "WaitForSignal" } } })
      await started
      // Cancelled behind the runner's back, as another process would.
      assert.equal(await inner.cancelWorkflow("minimal", Date.now()), true)
      await eventually(() => fired.get("minimal"), 3_000, "the renewal to find the lease gone and fire the signal")
      assert.deepEqual(storageErrors, [], "no storage call failed for want of the optional methods")
    } finally {
      await worker.stop()
    }
  })
})
