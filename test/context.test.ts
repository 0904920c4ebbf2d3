/** What a task sees: its identity, earlier results, spawning, and its abort signal. */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ALL_STORES, startRunner } from "./helpers/runner.js"

for (const store of ALL_STORES) {
  describe(`task context (${store.name})`, { timeout: 30_000, skip: store.skip }, () => {
    it("gives workflowID, seq, label, data, attempt and a stable idempotencyKey", async () => {
      const { storage, cleanup } = store.open()
      const seen: unknown[] = []
      const runner = await startRunner(storage, [
        {
          Name: "Look",
          Execute: async (ctx) => {
            seen.push({ id: ctx.workflowID, seq: ctx.seq, name: ctx.name, data: ctx.data, attempt: ctx.attempt, key: ctx.idempotencyKey })
            return {}
          },
        },
      ])
      await (await runner.addWorkflow({ workflowID: "ctx", tasks: { first: { task: "Look", data: { a: 1 } }, again: { task: "Look", data: [] } } })).result()
      assert.deepEqual(seen, [
        { id: "ctx", seq: 0, name: "first", data: { a: 1 }, attempt: 0, key: "ctx:0" },
        { id: "ctx", seq: 1, name: "again", data: [], attempt: 0, key: "ctx:1" },
      ])
      await runner.stop()
      await cleanup()
    })

    it("reads earlier tasks' stored results by seq or label, as stored JSON", async () => {
      const { storage, cleanup } = store.open()
      const lookups: unknown[] = []
      const runner = await startRunner(storage, [
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
      await (await runner.addWorkflow({ tasks: { make: { task: "Make" }, skip: { task: "Skip" }, read: { task: "Read" } } })).result()
      const stored = { at: "1970-01-01T00:00:00.000Z", n: 1 }
      assert.deepEqual(lookups, [stored, stored, undefined, undefined, undefined])
      await runner.stop()
      await cleanup()
    })

    it("spawns a workflow with a deterministic ID once, even when the spawning task runs again", async () => {
      const { storage, cleanup } = store.open()
      const created: boolean[] = []
      const children: string[] = []
      const runner = await startRunner(storage, [
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
      const parent = await (await runner.addWorkflow({ workflowID: "p", tasks: { spawn: { task: "Parent" } } })).result()
      assert.equal(parent.tasks[0]?.result, "p-child")
      assert.deepEqual(created, [true, false, false])
      const child = await runner.getWorkflow("p-child")
      assert.equal(child?.status === "completed" || child?.status === "pending", true)
      const done = await (await runner.addWorkflow({ workflowID: "p-child", tasks: { c: { task: "Child" } } })).result()
      assert.equal(done.tasks[0]?.result, 0, "the child keeps the data of the first spawn")
      assert.deepEqual(children, ["p-child"])
      await runner.stop()
      await cleanup()
    })

    it("fires the signal of a running task when its workflow is cancelled, and runs no later task", async () => {
      const { storage, cleanup } = store.open()
      let later = 0
      const runner = await startRunner(storage, [
        {
          Name: "Wait",
          Execute: (ctx) =>
            new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve({ data: "stopped early" }), { once: true })),
        },
        { Name: "Later", Execute: async () => (later++, {}) },
      ])
      const started = new Promise((r) => runner.once("taskStarted", r))
      const handle = await runner.addWorkflow({ workflowID: "c", tasks: { w: { task: "Wait" }, l: { task: "Later" } } })
      await started
      assert.equal(await runner.cancelWorkflow("c"), true)
      const info = await handle.result()
      assert.equal(info.status, "cancelled")
      assert.equal(info.tasks[0]?.status, "pending", "a cancelled workflow takes no more writes")
      assert.equal(later, 0)
      assert.equal(await runner.cancelWorkflow("c"), false)
      await runner.stop()
      await cleanup()
    })
  })
}
