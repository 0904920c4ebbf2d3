/** One test per row of the outcomes table (DESIGN section 3), on every store. */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ExpectedError, WorkflowRunner, type TaskRunner } from "../src/index.js"
import { retryDelay } from "../src/runtime/execution.js"
import { MemoryLogger, ALL_STORES, STORES, eventually, openStore, resultOf, startRunner, stopOnEnd } from "./helpers/runner.js"

for (const store of ALL_STORES) {
  describe(`outcomes (${store.name})`, { skip: store.skip }, () => {
    it("returns { data }: completed, result stored, the workflow goes on", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const ran: string[] = []
      const runner = await startRunner(t, storage, [
        { Name: "Step", Execute: async (ctx) => (ran.push(ctx.name), { data: { label: ctx.name, input: ctx.data } }) },
      ])
      const handle = await runner.addWorkflow({ tasks: { first: { task: "Step", data: 1 }, second: { task: "Step", data: [2] } } })
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      assert.deepEqual(ran, ["first", "second"])
      assert.deepEqual(info.tasks.map((t) => [t.name, t.task, t.status, t.result]), [
        ["first", "Step", "completed", { label: "first", input: 1 }],
        ["second", "Step", "completed", { label: "second", input: [2] }],
      ])
    })

    for (const how of ["result", "ExpectedError", "ExpectedError default"] as const) {
      it(`aborts just the task (${how}): failed, error stored, not retried, the workflow goes on`, { timeout: 20_000 }, async (t) => {
        const storage = openStore(t, store)
        let attempts = 0
        const logger = new MemoryLogger()
        const runner = await startRunner(
          t,
          storage,
          [
            {
              Name: "Skip",
              Execute: async () => {
                attempts++
                if (how === "result") return { abort: "task" as const }
                throw how === "ExpectedError" ? new ExpectedError("not needed", "task") : new ExpectedError("not needed")
              },
            },
            { Name: "Ok", Execute: async () => ({ data: "after" }) },
          ],
          { logger },
        )
        const info = await resultOf(await runner.addWorkflow({ tasks: { skip: { task: "Skip" }, ok: { task: "Ok" } } }))
        assert.equal(info.status, "completed")
        assert.equal(attempts, 1)
        assert.equal(info.tasks[0]?.status, "failed")
        assert.match(info.tasks[0]?.error ?? "", how === "result" ? /aborted/ : /not needed/)
        assert.equal(info.tasks[1]?.result, "after")
        assert.deepEqual(logger.at("error"), [], "an ExpectedError was logged at error")
      })
    }

    for (const how of ["result", "ExpectedError"] as const) {
      it(`aborts the workflow (${how}): failed, later tasks never run, not retried`, { timeout: 20_000 }, async (t) => {
        const storage = openStore(t, store)
        let later = 0
        let attempts = 0
        const logger = new MemoryLogger()
        const runner = await startRunner(
          t,
          storage,
          [
            {
              Name: "Stop",
              Execute: async () => {
                attempts++
                if (how === "result") return { abort: "workflow" as const }
                throw new ExpectedError("customer gone", "workflow")
              },
            },
            { Name: "Later", Execute: async () => (later++, { data: 1 }) },
          ],
          { logger },
        )
        const info = await resultOf(await runner.addWorkflow({ tasks: { stop: { task: "Stop" }, later: { task: "Later" } } }))
        assert.equal(info.status, "failed")
        assert.equal(attempts, 1)
        assert.equal(later, 0)
        assert.deepEqual(info.tasks.map((t) => t.status), ["failed", "pending"])
        assert.deepEqual(logger.at("error"), [])
      })
    }

    const unexpected: Array<[string, (attempt: number) => TaskRunner]> = [
      ["throws an Error", () => ({ Name: "Flaky", Execute: async (ctx) => { if (ctx.attempt < 2) throw new Error("socket hang up"); return { data: ctx.attempt } } })],
      ["throws ExpectedError with an unknown abort value", () => ({ Name: "Flaky", Execute: async (ctx) => { if (ctx.attempt < 2) throw new ExpectedError("odd", "everything" as "task"); return { data: ctx.attempt } } })],
      ["returns an unknown abort value", () => ({ Name: "Flaky", Execute: async (ctx) => (ctx.attempt < 2 ? { abort: "all" as "task" } : { data: ctx.attempt }) })],
      ["has a Prepare that throws", () => { let n = 0; return { Name: "Flaky", Prepare: async () => { if (n++ < 2) throw new Error("auth down"); return "token" }, Execute: async (ctx) => ({ data: ctx.attempt }) } }],
      ["times out", () => ({ Name: "Flaky", timeoutMS: 30, Execute: async (ctx) => { if (ctx.attempt < 2) await new Promise((r) => setTimeout(r, 1_000)); return { data: ctx.attempt } } })],
    ]
    for (const [how, make] of unexpected) {
      it(`retries a task that ${how}: stays pending, attempts + 1, logged at error and warn`, { timeout: 20_000 }, async (t) => {
        const storage = openStore(t, store)
        const logger = new MemoryLogger()
        const retries: number[] = []
        const runner = await startRunner(t, storage, [make(0)], { logger, retryDelayMS: 20 })
        runner.on("taskFailed", (e) => assert.equal(e.retrying, true))
        runner.on("taskStarted", (e) => retries.push(e.attempt))
        const handle = await runner.addWorkflow({ tasks: { flaky: { task: "Flaky" } } })
        const info = await resultOf(handle)
        assert.equal(info.status, "completed")
        assert.equal(info.tasks[0]?.result, 2, "the successful attempt saw attempt = 2")
        assert.equal(info.tasks[0]?.attempts, 2)
        assert.deepEqual(retries, [0, 1, 2])
        assert.equal(logger.at("error").filter((m) => m.includes("failed")).length, 2)
        assert.equal(logger.at("warn").filter((m) => m.includes("retrying")).length, 2)
      })
    }

    it("waits retryDelayMS between attempts, and records the pending state meanwhile", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const starts: number[] = []
      const runner = await startRunner(
        t,
        storage,
        [{ Name: "Flaky", Execute: async (ctx) => { starts.push(Date.now()); if (ctx.attempt < 1) throw new Error("later"); return { data: 1 } } }],
        { retryDelayMS: 300 },
      )
      const handle = await runner.addWorkflow({ workflowID: "delayed", tasks: { t: { task: "Flaky" } } })
      const waiting = await eventually(
        async () => {
          const w = await runner.getWorkflow("delayed")
          return w?.tasks[0]?.attempts === 1 ? w : undefined
        },
        5_000,
        "the first failed attempt being recorded",
      )
      assert.equal(waiting.status, "pending")
      assert.equal(waiting.tasks[0]?.status, "pending")
      assert.equal(waiting.tasks[0]?.error, "later")
      assert.equal(waiting.lease, null, "a workflow waiting out a retry holds no lease")
      assert.ok(waiting.nextRunAt)
      await resultOf(handle)
      assert.ok(starts[1]! - starts[0]! >= 280, `retried after ${starts[1]! - starts[0]!} ms`)
    })

    it("does not hold a concurrency slot while a workflow waits out a retry", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(
        t,
        storage,
        [
          { Name: "Poison", Execute: async () => { throw new Error("always") } },
          { Name: "Ok", Execute: async () => ({ data: "ok" }) },
        ],
        { concurrency: 1, retryDelayMS: 200 },
      )
      const poison = await Promise.all([1, 2, 3].map((i) => runner.addWorkflow({ workflowID: `poison-${i}`, tasks: { p: { task: "Poison" } } })))
      const healthy = await Promise.all([1, 2, 3].map((i) => runner.addWorkflow({ tasks: { ok: { task: "Ok" } } })))
      const infos = await Promise.all(healthy.map((h) => resultOf(h)))
      assert.deepEqual(infos.map((i) => i.status), ["completed", "completed", "completed"])
      const stuck = await runner.getWorkflow(poison[0]!.id)
      assert.equal(stuck?.status, "pending", "the poison workflow is kept, not dropped")
      assert.ok((stuck?.tasks[0]?.attempts ?? 0) >= 1, "its retries are visible")
    })

    it("gives up after maxAttempts: task and workflow failed", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let calls = 0
      const runner = await startRunner(t, storage, [
        { Name: "Doomed", retry: { maxAttempts: 3, delayMS: 5 }, Execute: async () => { calls++; throw new Error("nope") } },
      ])
      const info = await resultOf(await runner.addWorkflow({ tasks: { d: { task: "Doomed" } } }))
      assert.equal(calls, 3)
      assert.equal(info.status, "failed")
      assert.equal(info.tasks[0]?.status, "failed")
      assert.match(info.tasks[0]?.error ?? "", /gave up after 3 attempts: nope/)
    })
  })
}

describe("outcomes (across restarts, sqlite)", () => {
  const store = STORES[0]!
  it("keeps attempt counts across a restart", { timeout: 20_000 }, async (t) => {
    const storage = openStore(t, store)
    const file = (storage as unknown as { db: { name: string } }).db.name
    const first = await startRunner(t, storage, [{ Name: "Flaky", Execute: async () => { throw new Error("down") } }], { retryDelayMS: 5 })
    await first.addWorkflow({ workflowID: "persist", tasks: { f: { task: "Flaky" } } })
    await eventually(async () => ((await first.getWorkflow("persist"))!.tasks[0]!.attempts >= 3 ? true : undefined), 5_000, "3 failed attempts")
    await first.stop()
    const { SQLiteStorageProvider } = await import("../src/storage/sqlite.js")
    const seen: number[] = []
    const second = await startRunner(t, new SQLiteStorageProvider(file), [
      { Name: "Flaky", Execute: async (ctx) => (seen.push(ctx.attempt), { data: "finally" }) },
    ])
    const info = await eventually(
      async () => {
        const w = await second.getWorkflow("persist")
        return w?.status === "completed" ? w : undefined
      },
      5_000,
      "the restarted runner completing the workflow",
    )
    assert.ok(seen[0]! >= 3, `attempt after restart was ${seen[0]}`)
    assert.equal(info.tasks[0]?.attempts, seen[0])
  })

  it("leaves a task naming a runner this process lacks pending, logs it, and a runner that has it completes it", { timeout: 20_000 }, async (t) => {
    const storage = openStore(t, store)
    const file = (storage as unknown as { db: { name: string } }).db.name
    const { SQLiteStorageProvider } = await import("../src/storage/sqlite.js")
    const both: TaskRunner[] = [
      { Name: "Old", Execute: async () => ({ data: "old" }) },
      { Name: "New", Execute: async () => ({ data: "new" }) },
    ]
    const adder = new WorkflowRunner({ taskRunners: both, storageProvider: storage })
    stopOnEnd(t, adder)
    await adder.addWorkflow({ workflowID: "mixed", tasks: { a: { task: "Old" }, b: { task: "New" } } })
    await adder.stop()

    const logger = new MemoryLogger()
    const partial = await startRunner(t, new SQLiteStorageProvider(file), [both[0]!], { logger, retryDelayMS: 50 })
    await eventually(() => (logger.at("error").some((m) => m.includes('runner "New"')) ? true : undefined), 5_000, "the missing runner logged at error")
    const waiting = await partial.getWorkflow("mixed")
    assert.equal(waiting?.status, "pending")
    assert.deepEqual(waiting?.tasks.map((t) => t.status), ["completed", "pending"])
    assert.equal(waiting?.tasks[1]?.attempts, 0, "a missing runner is not a failed attempt")
    await partial.stop()

    const full = await startRunner(t, new SQLiteStorageProvider(file), both)
    const done = await eventually(
      async () => {
        const w = await full.getWorkflow("mixed")
        return w?.status === "completed" ? w : undefined
      },
      5_000,
      "a runner that has both completing the workflow",
    )
    assert.deepEqual(done.tasks.map((t) => t.result), ["old", "new"])
  })
})

describe("retry delay policy", { timeout: 5_000 }, () => {
  it("is fixed by default and exponential with jitter and a cap when configured", () => {
    assert.equal(retryDelay(undefined, 500, 7), 500)
    assert.equal(retryDelay({ delayMS: 20 }, 500, 3), 20)
    for (let attempt = 0; attempt < 12; attempt++) {
      const d = retryDelay({ backoff: "exponential", delayMS: 100, maxDelayMS: 10_000 }, 500, attempt)
      const cap = Math.min(10_000, 100 * 2 ** attempt)
      assert.ok(d >= cap / 2 && d <= cap, `attempt ${attempt}: ${d} not within [${cap / 2}, ${cap}]`)
    }
  })
})
