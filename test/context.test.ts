/** What a task sees: its identity, earlier results, spawning, and its abort signal. */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ALL_STORES, openStore, resultOf, startRunner } from "./helpers/runner.js"
import { nextEvent } from "./helpers/wait.js"

for (const store of ALL_STORES) {
  describe(`task context (${store.name})`, { skip: store.skip }, () => {
    it("gives workflowID, seq, label, data, attempt and a stable idempotencyKey", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const seen: unknown[] = []
      const runner = await startRunner(t, storage, [
        {
          Name: "Look",
          Execute: async (ctx) => {
            seen.push({ id: ctx.workflowID, seq: ctx.seq, name: ctx.name, data: ctx.data, attempt: ctx.attempt, key: ctx.idempotencyKey })
            return {}
          },
        },
      ])
      await resultOf(await runner.addWorkflow({ workflowID: "ctx", tasks: { first: { task: "Look", data: { a: 1 } }, again: { task: "Look", data: [] } } }))
      assert.deepEqual(seen, [
        { id: "ctx", seq: 0, name: "first", data: { a: 1 }, attempt: 0, key: "ctx:0" },
        { id: "ctx", seq: 1, name: "again", data: [], attempt: 0, key: "ctx:1" },
      ])
    })

    it("reads earlier tasks' stored results by seq or label, as stored JSON", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const lookups: unknown[] = []
      const runner = await startRunner(t, storage, [
        { Name: "Make", Execute: async () => ({ data: { at: new Date(0), n: 1 } }) },
        { Name: "Skip", Execute: async () => ({ abort: "task" as const }) },
        {
          Name: "Read",
          Execute: async (ctx) => {
            lookups.push(ctx.getTaskResult(0), ctx.getTaskResult("make"), ctx.getTaskResult("skip"), ctx.getTaskResult("read"), ctx.getTaskResult(9))
            return {}
          },
        },
      ])
      await resultOf(await runner.addWorkflow({ tasks: { make: { task: "Make" }, skip: { task: "Skip" }, read: { task: "Read" } } }))
      const stored = { at: "1970-01-01T00:00:00.000Z", n: 1 }
      assert.deepEqual(lookups, [stored, stored, undefined, undefined, undefined])
    })

    it("lets a task take its methods and signal off the context and use them detached", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const seen: unknown[] = []
      const runner = await startRunner(t, storage, [
        { Name: "Make", Execute: async () => ({ data: 1 }) },
        {
          Name: "Read",
          Execute: async (ctx) => {
            const { getTaskResult, addWorkflow, signal } = ctx
            const child = await addWorkflow({ workflowID: `${ctx.workflowID}-child`, tasks: { c: { task: "Make" } } })
            seen.push(getTaskResult("make"), child.created, signal === ctx.signal, getTaskResult === ctx.getTaskResult)
            return {}
          },
        },
      ])
      await resultOf(await runner.addWorkflow({ workflowID: "detached", tasks: { make: { task: "Make" }, read: { task: "Read" } } }))
      assert.deepEqual(seen, [1, true, true, true])
    })

    it("spawns a workflow with a deterministic ID once, even when the spawning task runs again", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const created: boolean[] = []
      const children: string[] = []
      const runner = await startRunner(t, storage, [
        {
          Name: "Parent",
          Execute: async (ctx) => {
            const child = await ctx.addWorkflow({ workflowID: `${ctx.workflowID}-child`, tasks: { c: { task: "Child", data: ctx.attempt } } })
            created.push(child.created)
            if (ctx.attempt < 2) throw new Error("crash after spawning")
            return { data: child.id }
          },
        },
        { Name: "Child", Execute: async (ctx) => (children.push(ctx.workflowID), { data: ctx.data }) },
      ])
      const parent = await resultOf(await runner.addWorkflow({ workflowID: "p", tasks: { spawn: { task: "Parent" } } }))
      assert.equal(parent.tasks[0]?.result, "p-child")
      assert.deepEqual(created, [true, false, false])
      const child = await runner.getWorkflow("p-child")
      assert.equal(child?.status === "completed" || child?.status === "pending", true)
      const done = await resultOf(await runner.addWorkflow({ workflowID: "p-child", tasks: { c: { task: "Child" } } }))
      assert.equal(done.tasks[0]?.result, 0, "the child keeps the data of the first spawn")
      assert.deepEqual(children, ["p-child"])
    })

    it("fires the signal of a running task when its workflow is cancelled, at once, and runs no later task", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let later = 0
      let reason: unknown
      const runner = await startRunner(t, storage, [
        {
          Name: "Wait",
          Execute: (ctx) =>
            new Promise((resolve) =>
              ctx.signal.addEventListener(
                "abort",
                () => {
                  reason = ctx.signal.reason
                  resolve({ data: "stopped early" })
                },
                { once: true },
              ),
            ),
        },
        { Name: "Later", Execute: async () => (later++, {}) },
      ])
      const started = nextEvent(runner, "taskStarted", { what: "task w starting" })
      const handle = await runner.addWorkflow({ workflowID: "c", tasks: { w: { task: "Wait" }, l: { task: "Later" } } })
      await started
      assert.equal(await runner.cancelWorkflow("c"), true)
      // At once in this process (README): fired before cancelWorkflow returns, not at a later poll, nor when
      // stop()'s grace period (10 s) would fire it.
      assert.notEqual(reason, undefined, "the running task's signal fired before cancelWorkflow returned")
      assert.match(String((reason as Error).message), /cancelled/)
      const info = await resultOf(handle)
      assert.equal(info.status, "cancelled")
      assert.equal(info.tasks[0]?.status, "pending", "a cancelled workflow takes no more writes")
      assert.equal(later, 0)
      assert.equal(await runner.cancelWorkflow("c"), false)
    })
  })
}
