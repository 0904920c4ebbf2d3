/**
 * Ownership across runners: leases, takeover after a runner dies, fencing of
 * a stale runner's writes, and two live runners that share a runnerID.
 */
import { writes } from "./helpers/writes.js"
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { WorkflowRunner } from "../src/index.js"
import type { ClaimRequest, LeaseRenewal, StorageProvider, WorkflowWithTasks } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import {
  checkOracle,
  dumpSQLite,
  exitsCleanly,
  killHard,
  readLedger,
  snapshotResults,
  startFixture,
  taskKey,
  violations,
  type Child,
  type LedgerResult,
} from "./helpers/ledger.js"
import { MemoryLogger, STORES, eventually, openStore, stopOnEnd } from "./helpers/runner.js"
import { nextEvent, onTestEnd, waitFor } from "./helpers/wait.js"

const LEASE_MS = 1_000
const HEARTBEAT_MS = 300


function leaseWorker(options: Record<string, unknown>): Child {
  return startFixture("lease-worker", [JSON.stringify(options)])
}

/** JSON lines a fixture printed. */
function messages(child: Child): Array<Record<string, unknown>> {
  return child
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

describe("takeover between processes (SQLite)", () => {
  it("a SIGKILLed runner's workflows are taken over by another runner once their leases expire, not before", { timeout: 30_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-takeover-"))
    const file = join(dir, "store.sqlite")
    const ledgerFile = join(dir, "ledger.jsonl")
    const ids = Array.from({ length: 4 }, (_, i) => `held-${i}`)
    const common = { file, dir, leaseMS: LEASE_MS, heartbeatMS: HEARTBEAT_MS, count: ids.length, prefix: "held" }
    const b = leaseWorker({ ...common, role: "take", runnerID: "B" })
    let a: Child | undefined
    try {
      await waitFor(b.ready, { what: "runner B ready", timeoutMS: 10_000 })
      a = leaseWorker({ ...common, role: "hold", runnerID: "A", block: "await" })
      await waitFor(a.ready, { what: "runner A ready", timeoutMS: 10_000 })
      // Barrier: A is inside task seq 1 of every workflow.
      await eventually(() => (ids.every((id) => existsSync(join(dir, `started-${id}`))) ? true : undefined), 10_000, "A to start task 1 everywhere")

      // Both live for longer than a lease: A's heartbeats must keep B out.
      const firstExpiry = new Map(ids.map((id) => [id, dumpSQLite(file, { integrity: false }).workflows.get(id)!.availableAt]))
      const holdUntil = Date.now() + LEASE_MS * 1.5
      while (Date.now() < holdUntil) {
        const dump = dumpSQLite(file, { integrity: false })
        for (const id of ids) assert.equal(dump.workflows.get(id)?.leaseOwner, "A", `${id} stays A's while A is alive`)
        await new Promise((r) => setTimeout(r, 100))
      }

      const killedAt = Date.now()
      await killHard(a)
      const ledgerAtKill = readLedger(ledgerFile).length
      const atKill = dumpSQLite(file)
      const expiry = new Map<string, number>()
      for (const id of ids) {
        const w = atKill.workflows.get(id)!
        assert.equal(w.leaseOwner, "A", `${id} is still A's right after the kill`)
        assert.ok(w.availableAt > firstExpiry.get(id)!, `A renewed the lease of ${id} while it was alive`)
        assert.ok(w.availableAt >= killedAt + LEASE_MS - 2 * HEARTBEAT_MS, `lease of ${id} ends about a lease after the last heartbeat`)
        expiry.set(id, w.availableAt)
      }
      const snapshot = snapshotResults(atKill, ledgerAtKill)
      assert.equal(snapshot.results.size, ids.length, "task seq 0 of each workflow was recorded by A")

      await exitsCleanly(b, 15_000)

      const ledger = readLedger(ledgerFile)
      const store = dumpSQLite(file)
      assert.equal(store.integrity, "ok")
      const report = checkOracle({
        ledger,
        store,
        acked: new Set(ids),
        attempted: new Set(),
        kills: [{ pid: a.pid, ledgerLength: ledgerAtKill }],
        snapshots: [snapshot],
      })
      assert.deepEqual(violations(report), {}, "the oracle found violations")
      for (const id of ids) {
        const byB = ledger.map((l, index) => ({ l, index })).filter(({ l }) => l.workflowID === id && l.pid === b.pid)
        assert.ok(byB.length > 0, `B ran ${id}`)
        const first = byB[0]!
        assert.ok(first.index >= ledgerAtKill, `B started ${id} only after A was killed`)
        assert.ok(first.l.time >= expiry.get(id)!, `B started ${id} at ${first.l.time}, before A's lease expired at ${expiry.get(id)}`)
        const starts = (seq: number) => ledger.filter((l) => l.workflowID === id && l.seq === seq && l.event === "start").map((l) => l.pid)
        assert.deepEqual(starts(0), [a.pid], "task 0 ran once, in A, and was not re-run")
        assert.deepEqual(starts(1), [a.pid, b.pid], "task 1 was cut by the kill and re-run by B")
        assert.deepEqual(starts(2), [b.pid], "task 2 ran once, in B")
        const results = store.tasks.filter((x) => x.workflowID === id).map((x) => (JSON.parse(x.result!) as LedgerResult).pid)
        assert.deepEqual(results, [a.pid, b.pid, b.pid], "each result stored once, by the runner that recorded it")
      }
      const delays = ids.map((id) => ledger.find((l) => l.workflowID === id && l.pid === b.pid)!.time - killedAt)
      t.diagnostic(`B took over ${Math.min(...delays)}–${Math.max(...delays)} ms after the kill (leaseMS ${LEASE_MS}, heartbeatMS ${HEARTBEAT_MS})`)
    } finally {
      if (a && a.process.exitCode === null && a.process.signalCode === null) a.process.kill("SIGKILL")
      if (b.process.exitCode === null && b.process.signalCode === null) b.process.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a runner whose event loop was blocked past its lease: the other runner takes over, the stale write is fenced off", { timeout: 30_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-blocked-"))
    const file = join(dir, "store.sqlite")
    const ledgerFile = join(dir, "ledger.jsonl")
    const id = "blocked-0"
    const common = { file, dir, leaseMS: 600, heartbeatMS: 200, count: 1, prefix: "blocked" }
    const b = leaseWorker({ ...common, role: "take", runnerID: "B" })
    let a: Child | undefined
    try {
      await waitFor(b.ready, { what: "runner B ready", timeoutMS: 10_000 })
      // A's task 1 spins (no heartbeat) until B, having claimed the expired lease, starts that same task.
      a = leaseWorker({ ...common, role: "hold", runnerID: "A", block: "busy" })
      await exitsCleanly(b, 15_000)
      const aChild = a
      const lost = await eventually(() => messages(aChild).find((m) => m.event === "leaseLost"), 10_000, "A to report the lost lease")
      assert.equal(lost.workflowID, id)
      await killHard(a)

      const ledger = readLedger(ledgerFile)
      const store = dumpSQLite(file)
      assert.equal(store.integrity, "ok")
      assert.equal(store.workflows.get(id)?.status, "completed")
      const results = store.tasks.map((x) => JSON.parse(x.result!) as LedgerResult)
      assert.deepEqual(results.map((r) => r.pid), [a.pid, b.pid, b.pid], "B's results stand; A's late result was not stored")
      const aEnd = ledger.find((l) => l.pid === a!.pid && l.seq === 1 && l.event === "end")
      assert.ok(aEnd, "A did finish task 1 (late)")
      assert.notEqual(aEnd.nonce, results[1]!.nonce)
      assert.deepEqual(
        ledger.filter((l) => l.pid === a!.pid && l.event === "start").map((l) => l.seq),
        [0, 1],
        "A started no task after its lease was lost",
      )
      assert.ok(!messages(a).some((m) => m.event === "taskCompleted" && m.seq === 1), "A did not report its fenced write as a completion")

      const report = checkOracle({ ledger, store, acked: new Set([id]), attempted: new Set(), kills: [], snapshots: [] })
      // The one overlap is the stale executor itself (a blocked event loop cannot be prevented); fencing made it harmless.
      assert.equal(report.concurrent.length, 1, report.concurrent.join("\n"))
      assert.match(report.concurrent[0]!, new RegExp(`^${taskKey(id, 1)}:`))
      report.concurrent = []
      assert.deepEqual(violations(report), {})
      t.diagnostic(`stale executor fenced off: A reported leaseLost (${String(lost.reason)})`)
    } finally {
      if (a && a.process.exitCode === null && a.process.signalCode === null) a.process.kill("SIGKILL")
      if (b.process.exitCode === null && b.process.signalCode === null) b.process.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

for (const store of STORES) {
  describe(`fencing (${store.name})`, () => {
    it("a write by a runner whose lease was taken is rejected: the state stays the new owner's, leaseLost fires, no later task runs", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const logger = new MemoryLogger()
      const gate = deferred()
      const started: number[] = []
      // A long lease: no heartbeat notices anything; the fenced write is what stops A.
      const a = new WorkflowRunner({
        taskRunners: [{ Name: "Step", Execute: async (ctx) => (started.push(ctx.seq), ctx.seq === 0 ? await gate.promise : undefined, { data: "A" }) }],
        storageProvider: storage,
        runnerID: "A",
        leaseMS: 60_000,
        pollIntervalMS: 20,
        logger,
      })
      stopOnEnd(t, a)
      onTestEnd(t, "open the gate", () => gate.resolve())
      const completed: number[] = []
      a.on("taskCompleted", (e) => completed.push(e.seq))
      await a.recover()
      const taskStarted = nextEvent(a, "taskStarted", { what: "A starting task 0" })
      await a.addWorkflow({ workflowID: "stolen", tasks: { a: { task: "Step" }, b: { task: "Step" }, c: { task: "Step" } } })
      await taskStarted

      // Runner B takes the workflow over (as if A's lease had expired).
      const far = Date.now() + 3_600_000
      const taken = await storage.claimWorkflows({ lease: { owner: "B", token: "token-B", expiresAt: far + 60_000 }, now: far, limit: 10, reclaimOwn: false })
      assert.deepEqual(taken.map((w) => w.workflow.id), ["stolen"])
      const leaseLost = nextEvent(a, "leaseLost", { what: "A reporting its fenced write as a lost lease" })
      gate.resolve()
      const lost = await leaseLost
      assert.equal(lost.workflowID, "stolen")
      assert.match(lost.reason, /another runner/)

      const stored = await storage.getWorkflow("stolen")
      assert.equal(stored?.workflow.status, "pending")
      assert.equal(stored?.workflow.leaseOwner, "B")
      assert.equal(stored?.workflow.leaseToken, "token-B")
      assert.deepEqual(stored?.tasks.map((x) => [x.status, x.result, x.attempts]), [["pending", null, 0], ["pending", null, 0], ["pending", null, 0]])
      // A runs nothing more of it, even with time to do so (it polls every 20 ms).
      await new Promise((r) => setTimeout(r, 200))
      assert.deepEqual(started, [0])
      assert.deepEqual(completed, [])
      assert.ok(logger.at("warn").some((m) => m.includes("lost the lease")), logger.lines.map((l) => l.message).join("\n"))
      // The new owner's writes still apply.
      assert.deepEqual(
        await storage.applyWorkflowWrites(writes([
          { workflowID: "stolen", token: "token-B", now: Date.now(), task: { seq: 0, status: "completed", result: '"B"', attempts: 0 } },
        ])),
        [true],
      )
    })

    it("a runner that re-claims a workflow it is still executing lets no stale write through: what another runner recorded meanwhile stays", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const gate = deferred()
      const started: number[] = []
      const a = new WorkflowRunner({
        taskRunners: [{ Name: "Step", Execute: async (ctx) => (started.push(ctx.seq), ctx.seq === 0 ? await gate.promise : undefined, { data: `A${ctx.seq}` }) }],
        storageProvider: storage,
        runnerID: "A",
        leaseMS: 60_000,
        pollIntervalMS: 20,
      })
      stopOnEnd(t, a)
      onTestEnd(t, "open the gate", () => gate.resolve())
      await a.recover()
      const taskStarted = nextEvent(a, "taskStarted", { what: "A starting task 0" })
      await a.addWorkflow({ workflowID: "aba", tasks: { a: { task: "Step" }, b: { task: "Step" }, c: { task: "Step" } } })
      await taskStarted
      // Runner B takes the workflow (as if A's lease had lapsed), records tasks 0 and 1, and gives it up (stops).
      const far = Date.now() + 3_600_000
      await storage.claimWorkflows({ lease: { owner: "B", token: "token-B", expiresAt: far + 60_000 }, now: far, limit: 10, reclaimOwn: false })
      const written = await storage.applyWorkflowWrites(writes([
        { workflowID: "aba", token: "token-B", now: Date.now(), task: { seq: 0, status: "completed", result: '"B0"', attempts: 0 } },
        { workflowID: "aba", token: "token-B", now: Date.now(), task: { seq: 1, status: "completed", result: '"B1"', attempts: 0 } },
      ]))
      assert.deepEqual(written, [true, true])
      await storage.releaseLeases({ token: "token-B", workflowIDs: ["aba"], availableAt: Date.now() })
      // A's poll claims it again while A's first executor is still inside task 0.
      await eventually(async () => ((await storage.getWorkflow("aba"))?.workflow.leaseOwner === "A" ? true : undefined), 5_000, "A to re-claim")
      gate.resolve()
      const ended = await eventually(
        async () => {
          const w = await storage.getWorkflow("aba")
          return w?.workflow.status === "completed" ? w : undefined
        },
        5_000,
        "the workflow to complete (not after A's own 60 s lease expires)",
      )
      assert.deepEqual(ended.tasks.map((x) => x.result), ['"B0"', '"B1"', '"A2"'], "recorded results never change")
      assert.deepEqual(started, [0, 2], "task 1, recorded by B, is not run again")
    })

    it("when the heartbeat finds the lease gone, the running task's signal fires at once and nothing is written", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const started: number[] = []
      let aborted: unknown
      const a = new WorkflowRunner({
        taskRunners: [
          {
            Name: "Step",
            Execute: async (ctx) => {
              started.push(ctx.seq)
              if (ctx.seq === 0) {
                await new Promise((_, reject) =>
                  ctx.signal.addEventListener("abort", () => {
                    aborted = ctx.signal.reason
                    reject(ctx.signal.reason as Error)
                  }),
                )
              }
              return { data: "A" }
            },
          },
        ],
        storageProvider: storage,
        runnerID: "A",
        // A long lease: the lease guard (which fires before a lease runs out) stays out of it; the heartbeat must act.
        leaseMS: 10_000,
        heartbeatMS: 50,
        pollIntervalMS: 20,
      })
      stopOnEnd(t, a)
      const failed: unknown[] = []
      a.on("taskFailed", (e) => failed.push(e))
      await a.recover()
      const taskStarted = nextEvent(a, "taskStarted", { what: "A starting task 0" })
      await a.addWorkflow({ workflowID: "stolen", tasks: { a: { task: "Step" }, b: { task: "Step" } } })
      await taskStarted
      const far = Date.now() + 3_600_000
      await storage.claimWorkflows({ lease: { owner: "B", token: "token-B", expiresAt: far + 60_000 }, now: far, limit: 10, reclaimOwn: false })
      await waitFor(() => aborted !== undefined, { what: "the next heartbeat firing the task's signal", timeoutMS: 2_000 })
      assert.match(String((aborted as Error).message), /lease lost/)
      // Time for a wrong write or a next task to show up.
      await new Promise((r) => setTimeout(r, 200))
      const stored = await storage.getWorkflow("stolen")
      assert.equal(stored?.workflow.leaseToken, "token-B")
      assert.deepEqual(stored?.tasks.map((x) => [x.status, x.attempts, x.error]), [["pending", 0, null], ["pending", 0, null]])
      assert.deepEqual(started, [0])
      assert.deepEqual(failed, [], "an interrupted task is not a failed attempt")
    })
  })
}

for (const store of STORES) {
  describe(`a runner's own lease (${store.name})`, () => {
    it("refuses the old execution's write once its lease, as last renewed, has run out, even before it marks that execution superseded", { timeout: 20_000 }, async (t) => {
      const { storage, control } = gatedStorage(openStore(t, store))
      let offset = 0
      const firstRun = deferred()
      let runs = 0
      const a = new WorkflowRunner({
        taskRunners: [
          {
            // The first run ignores its signal and ends only when the test says: the old execution's late write.
            Name: "Stubborn",
            Execute: async () => {
              const run = ++runs
              if (run === 1) await firstRun.promise
              return { data: `run ${run}` }
            },
          },
          { Name: "After", Execute: async () => ({ data: "after" }) },
        ],
        storageProvider: storage,
        runnerID: "A",
        leaseMS: 1_000,
        heartbeatMS: 300,
        pollIntervalMS: 20,
        clock: () => Date.now() + offset,
      })
      stopOnEnd(t, a)
      onTestEnd(t, "let the first run end and release held claims", () => {
        firstRun.resolve()
        control.releaseClaim()
      })
      const completed: Array<[number, unknown]> = []
      a.on("taskCompleted", (e) => completed.push([e.seq, e.result]))
      await a.recover()
      const started = nextEvent(a, "taskStarted", { what: "the first run starting" })
      await a.addWorkflow({ workflowID: "gap", tasks: { s: { task: "Stubborn" }, after: { task: "After" } } })
      await started

      // A cannot renew, and its clock passes the lease: its next claim takes its own workflow back (same runnerID, same token).
      control.failRenewals = true
      control.holdClaimsOf = "gap"
      offset = 10_000
      await waitFor(() => control.claimHeld, { what: "A re-claiming its own workflow in storage" })
      // The claim is stored; the runner has not seen its reply, so the old execution is not yet marked superseded.
      const decided = Promise.race([
        nextEvent(a, "leaseLost", { what: "the old execution's write being refused" }).then(() => "refused"),
        nextEvent(a, "taskCompleted", { what: "the old execution's write being stored" }).then(() => "stored"),
      ])
      firstRun.resolve()
      assert.equal(await decided, "refused", "the old execution wrote after its lease had run out")
      assert.deepEqual((await storage.getWorkflow("gap"))?.tasks.map((x) => [x.status, x.result]), [["pending", null], ["pending", null]])

      control.failRenewals = false
      control.releaseClaim()
      const ended = await eventually(
        async () => {
          const w = await storage.getWorkflow("gap")
          return w?.workflow.status === "completed" ? w : undefined
        },
        5_000,
        "the re-claimed execution completing the workflow",
      )
      assert.deepEqual(ended.tasks.map((x) => x.result), ['"run 2"', '"after"'])
      assert.deepEqual(completed, [[0, "run 2"], [1, "after"]], "one stored result per task, never changed")
    })

    it("starts no task with less than heartbeatMS of its lease (as last renewed) left: it hands the workflow back instead", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const failing = gatedStorage(storage)
      let offset = 0
      const now = () => Date.now() + offset
      const gate = deferred()
      const leaseLeftAtStart: number[] = []
      const a = new WorkflowRunner({
        taskRunners: [
          {
            Name: "Step",
            Execute: async (ctx) => {
              leaseLeftAtStart.push((await storage.getWorkflow(ctx.workflowID))!.workflow.availableAt - now())
              if (ctx.seq === 0) await gate.promise
              return { data: ctx.seq }
            },
          },
        ],
        storageProvider: failing.storage,
        runnerID: "A",
        leaseMS: 1_000,
        heartbeatMS: 300,
        pollIntervalMS: 20,
        clock: now,
      })
      stopOnEnd(t, a)
      onTestEnd(t, "open the gate", () => gate.resolve())
      await a.recover()
      const started = nextEvent(a, "taskStarted", { what: "task 0 starting" })
      await a.addWorkflow({ workflowID: "short", tasks: { first: { task: "Step" }, second: { task: "Step" } } })
      await started
      // Renewals stop; once any renewal under way has landed, the clock moves to 250 ms before the lease ends:
      // enough to store task 0's result, less than heartbeatMS (300) to start task 1 under.
      failing.control.failRenewals = true
      await new Promise((resolve) => setTimeout(resolve, 350))
      const expiresAt = (await storage.getWorkflow("short"))!.workflow.availableAt
      offset = expiresAt - 250 - Date.now()
      gate.resolve()
      failing.control.failRenewals = false
      const ended = await eventually(
        async () => {
          const w = await storage.getWorkflow("short")
          return w?.workflow.status === "completed" ? w : undefined
        },
        5_000,
        "the workflow completing",
      )
      assert.deepEqual(ended.tasks.map((x) => x.result), ["0", "1"])
      assert.equal(leaseLeftAtStart.length, 2, `each task started once (lease left at each start: ${leaseLeftAtStart.join(", ")} ms)`)
      assert.ok(leaseLeftAtStart.every((left) => left >= 300), `a task started with less than heartbeatMS of lease left: ${leaseLeftAtStart.join(", ")} ms`)
    })
  })
}

describe("two live runners with the same runnerID on one SQLite file", () => {
  it("never corrupt state: every workflow completes with one stored result per task, and the duplicate is reported", { timeout: 30_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-dup-"))
    const file = join(dir, "store.sqlite")
    const ids = Array.from({ length: 20 }, (_, i) => `dup-${i}`)
    const executions = new Map<string, number>()
    const makeRunner = (logger: MemoryLogger) =>
      new WorkflowRunner({
        taskRunners: [
          {
            Name: "Step",
            Execute: async (ctx) => {
              const key = taskKey(ctx.workflowID, ctx.seq)
              executions.set(key, (executions.get(key) ?? 0) + 1)
              await new Promise((r) => setTimeout(r, 1 + Math.random() * 5))
              const prev = ctx.seq === 0 ? null : ((ctx.getTaskResult(ctx.seq - 1) as LedgerResult | undefined)?.nonce ?? "missing")
              return { data: { nonce: randomUUID(), pid: process.pid, prev } satisfies LedgerResult }
            },
          },
        ],
        storageProvider: new SQLiteStorageProvider(file),
        runnerID: "same",
        leaseMS: 2_000,
        retryDelayMS: 10,
        pollIntervalMS: 20,
        logger,
      })
    const logs = [new MemoryLogger(), new MemoryLogger()]
    const runners = logs.map(makeRunner)
    try {
      for (const id of ids) {
        await runners[0]!.addWorkflow({ workflowID: id, tasks: { a: { task: "Step" }, b: { task: "Step" }, c: { task: "Step" } } })
      }
      await Promise.all(runners.map((r) => r.recover()))
      const started = Date.now()
      // While they run, every result seen once must stay as it was.
      const seen = new Map<string, string>()
      const changed: string[] = []
      await eventually(
        async () => {
          for (const x of dumpSQLite(file, { integrity: false }).tasks) {
            if (x.result === null) continue
            const key = taskKey(x.workflowID, x.seq)
            const before = seen.get(key)
            if (before === undefined) seen.set(key, x.result)
            else if (before !== x.result) changed.push(key)
          }
          return (await runners[0]!.listWorkflows({ status: "pending", limit: 1 })).length === 0 ? true : undefined
        },
        20_000,
        "every workflow to end",
      )
      const elapsed = Date.now() - started
      assert.deepEqual(changed, [], "a stored result changed")

      const store = dumpSQLite(file)
      assert.equal(store.integrity, "ok")
      for (const id of ids) {
        assert.equal(store.workflows.get(id)?.status, "completed", id)
        const tasks = store.tasks.filter((x) => x.workflowID === id)
        assert.deepEqual(tasks.map((x) => [x.seq, x.status]), [[0, "completed"], [1, "completed"], [2, "completed"]])
        const results = tasks.map((x) => JSON.parse(x.result!) as LedgerResult)
        assert.equal(results[0]!.prev, null)
        assert.equal(results[1]!.prev, results[0]!.nonce, `${id}: task 1 saw the stored result of task 0`)
        assert.equal(results[2]!.prev, results[1]!.nonce, `${id}: task 2 saw the stored result of task 1`)
      }
      const errors = logs.flatMap((l) => l.at("error"))
      assert.ok(errors.some((m) => m.includes('"same"')), `the shared runnerID is reported: ${errors.join("\n")}`)
      const extra = [...executions.values()].reduce((n, c) => n + c - 1, 0)
      t.diagnostic(`${ids.length} workflows ended in ${elapsed} ms; ${extra} extra executions (stale copies fenced off); ${errors.length} error lines`)
    } finally {
      await Promise.all(runners.map((r) => r.stop({ timeoutMS: 500 })))
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/**
 * `inner` with two switches: renewals that fail, and claims of one workflow
 * whose reply is held (the claim is stored; the runner has not seen it) until
 * `releaseClaim()`.
 */
function gatedStorage(inner: StorageProvider) {
  const control = {
    failRenewals: false,
    holdClaimsOf: undefined as string | undefined,
    claimHeld: false,
    release: () => {},
    releaseClaim(): void {
      control.holdClaimsOf = undefined
      control.release()
    },
  }
  const storage = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === "renewLeases") {
        return async (renewal: LeaseRenewal) => {
          if (control.failRenewals) throw new Error("renewal failed (injected by the test)")
          return target.renewLeases(renewal)
        }
      }
      if (property === "claimWorkflows") {
        return async (claim: ClaimRequest): Promise<WorkflowWithTasks[]> => {
          const claimed = await target.claimWorkflows(claim)
          if (control.holdClaimsOf !== undefined && claimed.some((w) => w.workflow.id === control.holdClaimsOf)) {
            await new Promise<void>((resolve) => {
              control.release = resolve
              control.claimHeld = true
            })
          }
          return claimed
        }
      }
      const value = Reflect.get(target, property, receiver) as unknown
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
  return { storage, control }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {}
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}
