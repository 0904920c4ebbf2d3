/** The runner's life: nothing runs before recover(), the concurrency limit, graceful stop, listing, retrying, retention. */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ExpectedError, RunnerStoppedError, WorkflowRunner } from "../src/index.js"
import { ALL_STORES, eventually, openStore, resultOf, startRunner, stopOnEnd } from "./helpers/runner.js"
import { nextEvent, onTestEnd, waitFor } from "./helpers/wait.js"

for (const store of ALL_STORES) {
  describe(`runner lifecycle (${store.name})`, { skip: store.skip }, () => {
    it("executes nothing before recover(); added workflows wait in storage", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let runs = 0
      const runner = new WorkflowRunner({ taskRunners: [{ Name: "T", Execute: async () => (runs++, {}) }], storageProvider: storage, pollIntervalMS: 20 })
      stopOnEnd(t, runner)
      const handle = await runner.addWorkflow({ workflowID: "waiting", tasks: { t: { task: "T" } } })
      // result() waits for the end: several polls (every 20 ms) see the workflow pending and resolve nothing.
      let settledEarly = false
      const early = handle.result().then(
        (info) => ((settledEarly = true), info),
        (error: unknown) => ((settledEarly = true), Promise.reject(error)),
      )
      await new Promise((r) => setTimeout(r, 100))
      assert.equal(runs, 0)
      assert.equal(settledEarly, false, "result() settled before the workflow ended")
      assert.equal((await runner.getWorkflow("waiting"))?.status, "pending")
      await runner.recover()
      await runner.recover()
      assert.equal((await resultOf(handle)).status, "completed")
      assert.equal((await early).status, "completed")
      assert.equal(runs, 1)
    })

    it("reports a lease that a renewal finds gone (cancelled elsewhere) as leaseLost, and fires the task's signal", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let aborted = false
      const waiter = {
        Name: "Waiter",
        Execute: (ctx: { signal: AbortSignal }) =>
          new Promise<{ data: string }>((resolve) => {
            ctx.signal.addEventListener("abort", () => ((aborted = true), resolve({ data: "stopped" })), { once: true })
          }),
      }
      const runner = await startRunner(t, storage, [waiter], { leaseMS: 2_000, heartbeatMS: 40 })
      const running = nextEvent(runner, "taskStarted", { what: "the task starting" })
      const lost = nextEvent(runner, "leaseLost", { what: "a renewal reporting the lease lost" })
      await runner.addWorkflow({ workflowID: "cancelled-elsewhere", tasks: { w: { task: "Waiter" } } })
      await running
      // Another process cancels it: only a renewal can tell this runner.
      assert.equal(await storage.cancelWorkflow("cancelled-elsewhere", Date.now()), true)
      const event = await lost
      assert.equal(event.workflowID, "cancelled-elsewhere")
      assert.match(event.reason, /the workflow is cancelled/)
      assert.equal(aborted, true)
      assert.equal((await runner.getWorkflow("cancelled-elsewhere"))?.status, "cancelled")
    })

    it("never runs more workflows at once than the concurrency limit", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let running = 0
      let peak = 0
      const runner = await startRunner(
        t,
        storage,
        [{ Name: "Slow", Execute: async () => { peak = Math.max(peak, ++running); await new Promise((r) => setTimeout(r, 5)); running--; return {} } }],
        { concurrency: 3 },
      )
      const handles = await Promise.all(Array.from({ length: 20 }, () => runner.addWorkflow({ tasks: { a: { task: "Slow" }, b: { task: "Slow" } } })))
      await Promise.all(handles.map((h) => resultOf(h)))
      assert.equal(peak, 3)
    })

    it("stops gracefully: the running task finishes and is stored, the rest stays pending and unleased", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let release: () => void = () => {}
      const gate = new Promise<void>((r) => (release = r))
      const runner = await startRunner(t, storage, [{ Name: "Step", Execute: async (ctx) => (ctx.seq === 0 ? await gate : undefined, { data: ctx.seq }) }])
      onTestEnd(t, "open the gate", release)
      const started = nextEvent(runner, "taskStarted", { what: "task a starting" })
      const handle = await runner.addWorkflow({ workflowID: "halfway", tasks: { a: { task: "Step" }, b: { task: "Step" } } })
      await started
      const stopped = runner.stop({ closeStorage: false })
      await assert.rejects(runner.addWorkflow({ tasks: { a: { task: "Step" } } }), RunnerStoppedError)
      await assert.rejects(waitFor(handle.result(), { what: "result() rejecting at stop" }), RunnerStoppedError)
      release()
      await waitFor(stopped, { what: "the runner stopping once its task finished" })
      const stored = await storage.getWorkflow("halfway")
      assert.equal(stored?.workflow.status, "pending")
      assert.deepEqual(stored?.tasks.map((t) => t.status), ["completed", "pending"])
      assert.equal(stored?.workflow.leaseOwner, null, "the lease was released for other runners")
    })

    it("fires the signals of tasks still running when the stop grace period ends", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let aborted: unknown
      const runner = await startRunner(t, storage, [
        { Name: "Stuck", Execute: (ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject((aborted = ctx.signal.reason)))) },
      ])
      const started = nextEvent(runner, "taskStarted", { what: "the stuck task starting" })
      await runner.addWorkflow({ workflowID: "stuck", tasks: { s: { task: "Stuck" } } })
      await started
      await waitFor(runner.stop({ timeoutMS: 20, closeStorage: false }), { what: "stop() firing the stuck task's signal after its grace period" })
      assert.ok(aborted instanceof RunnerStoppedError)
      const stored = await storage.getWorkflow("stuck")
      assert.equal(stored?.workflow.status, "pending", "an interrupted workflow is not lost")
      assert.equal(stored?.workflow.leaseOwner, null, "its lease was released")
      assert.equal(stored?.tasks[0]?.attempts, 0, "an interruption is not a failed attempt")
    })

    it("lists workflows by status, a page at a time", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [
        { Name: "Ok", Execute: async () => ({}) },
        { Name: "Bad", Execute: async () => { throw new ExpectedError("no", "workflow") } },
      ])
      for (const id of ["w1", "w2", "w3"]) await resultOf(await runner.addWorkflow({ workflowID: id, tasks: { a: { task: "Ok" } } }))
      await resultOf(await runner.addWorkflow({ workflowID: "w4", tasks: { a: { task: "Bad" } } }))
      const page = await runner.listWorkflows({ status: "completed", limit: 2 })
      assert.deepEqual(page.map((w) => w.id), ["w1", "w2"])
      const next = await runner.listWorkflows({ status: "completed", afterID: "w2" })
      assert.deepEqual(next.map((w) => w.id), ["w3"])
      const failed = await runner.listWorkflows({ status: "failed" })
      assert.deepEqual(failed.map((w) => [w.id, w.taskCount, w.lease]), [["w4", 1, null]])
      assert.equal(await runner.getWorkflow("missing"), null)
    })

    it("resumes a failed workflow from the task that failed", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let fixed = false
      const ran: string[] = []
      const runner = await startRunner(t, storage, [
        { Name: "Step", Execute: async (ctx) => (ran.push(ctx.name), {}) },
        { Name: "Charge", Execute: async (ctx) => { ran.push(ctx.name); if (!fixed) throw new ExpectedError("card declined", "workflow"); return { data: "paid" } } },
      ])
      const handle = await runner.addWorkflow({ workflowID: "order", tasks: { a: { task: "Step" }, pay: { task: "Charge" }, ship: { task: "Step" } } })
      assert.equal((await resultOf(handle)).status, "failed")
      assert.equal(await runner.retryWorkflow("missing"), false)
      fixed = true
      assert.equal(await runner.retryWorkflow("order"), true)
      const info = await eventually(
        async () => {
          const w = await runner.getWorkflow("order")
          return w?.status === "completed" ? w : undefined
        },
        5_000,
        "the retried workflow completing",
      )
      assert.deepEqual(ran, ["a", "pay", "pay", "ship"])
      assert.equal(info.tasks[1]?.result, "paid")
    })

    it("deletes ended workflows past the retention period, never pending ones", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let now = Date.now()
      const runner = await startRunner(
        t,
        storage,
        [
          { Name: "Ok", Execute: async () => ({}) },
          { Name: "Never", Execute: async () => { throw new Error("retry forever") } },
        ],
        { clock: () => now, retryDelayMS: 60_000 },
      )
      await resultOf(await runner.addWorkflow({ workflowID: "old-done", tasks: { a: { task: "Ok" } } }))
      await runner.addWorkflow({ workflowID: "old-pending", tasks: { a: { task: "Never" } } })
      await eventually(async () => ((await runner.getWorkflow("old-pending"))?.tasks[0]?.attempts === 1 ? true : undefined), 5_000, "the first failed attempt being recorded")
      now += 3_600_000
      await resultOf(await runner.addWorkflow({ workflowID: "new-done", tasks: { a: { task: "Ok" } } }))
      assert.equal(await runner.deleteEndedWorkflows(60_000), 1)
      assert.equal(await runner.getWorkflow("old-done"), null)
      assert.equal((await runner.getWorkflow("old-pending"))?.status, "pending")
      assert.equal((await runner.getWorkflow("new-done"))?.status, "completed")
    })
  })
}
