/** Prepare runs once per workflow per runner in a process, reaches later tasks, and runs again after recovery. */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowRunner, type TaskRunner } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { ALL_STORES, STORES, eventually, startRunner } from "./helpers/runner.js"

for (const store of ALL_STORES) {
  describe(`Prepare (${store.name})`, { timeout: 30_000, skip: store.skip }, () => {
    it("runs once per workflow per runner, before its first Execute, and reaches every later task of that runner", async () => {
      const { storage, cleanup } = store.open()
      const prepares: string[] = []
      const seen: Array<[string, string, unknown]> = []
      const auth: TaskRunner = {
        Name: "Api",
        Prepare: async (ctx) => {
          prepares.push(ctx.workflowID)
          assert.equal(ctx.preparedData, undefined)
          return `token-for-${ctx.workflowID}`
        },
        Execute: async (ctx) => (seen.push([ctx.workflowID, ctx.name, ctx.preparedData]), { data: null }),
      }
      const plain: TaskRunner = { Name: "Plain", Execute: async (ctx) => (seen.push([ctx.workflowID, ctx.name, ctx.preparedData]), {}) }
      const runner = await startRunner(storage, [auth, plain])
      const [a, b] = await Promise.all(
        ["wa", "wb"].map((id) =>
          runner.addWorkflow({ workflowID: id, tasks: { one: { task: "Api" }, mid: { task: "Plain" }, two: { task: "Api" } } }),
        ),
      )
      await Promise.all([a!.result(), b!.result()])
      assert.deepEqual(prepares.sort(), ["wa", "wb"])
      for (const id of ["wa", "wb"]) {
        assert.deepEqual(
          seen.filter(([w]) => w === id),
          [
            [id, "one", `token-for-${id}`],
            [id, "mid", undefined],
            [id, "two", `token-for-${id}`],
          ],
        )
      }
      await runner.stop()
      await cleanup()
    })
  })
}

describe("Prepare after recovery (sqlite)", { timeout: 30_000 }, () => {
  it("runs again in the process that resumes the workflow", async () => {
    const { storage, cleanup } = STORES[0]!.open()
    const file = (storage as SQLiteStorageProvider).db.name
    let prepares = 0
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const first = await startRunner(storage, [
      {
        Name: "Api",
        Prepare: async () => ++prepares,
        Execute: async (ctx) => {
          if (ctx.seq === 1) await gate
          return { data: ctx.preparedData }
        },
      },
    ])
    await first.addWorkflow({ workflowID: "w", tasks: { a: { task: "Api" }, b: { task: "Api" }, c: { task: "Api" } } })
    await eventually(async () => ((await first.getWorkflow("w"))?.tasks[0]?.status === "completed" ? true : undefined))
    // Stop with a zero grace period: task b is interrupted and stays pending.
    const stopping = first.stop({ timeoutMS: 0 })
    release()
    await stopping
    const resumedPrepares: number[] = []
    const second = new WorkflowRunner({
      taskRunners: [{ Name: "Api", Prepare: async () => (resumedPrepares.push(1), "fresh"), Execute: async (ctx) => ({ data: ctx.preparedData }) }],
      storageProvider: new SQLiteStorageProvider(file),
    })
    await second.recover()
    const done = await eventually(async () => {
      const w = await second.getWorkflow("w")
      return w?.status === "completed" ? w : undefined
    })
    assert.equal(resumedPrepares.length, 1)
    assert.equal(done.tasks[0]?.result, 1, "task a kept its first-life result")
    assert.equal(done.tasks[2]?.result, "fresh")
    await second.stop()
    await cleanup()
  })
})
