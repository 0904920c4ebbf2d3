/** Prepare runs once per workflow per runner in a process, reaches later tasks, and runs again after recovery. */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowRunner, type TaskRunner } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { ALL_STORES, STORES, eventually, openStore, resultOf, startRunner, stopOnEnd } from "./helpers/runner.js"
import { onTestEnd } from "./helpers/wait.js"

for (const store of ALL_STORES) {
  describe(`Prepare (${store.name})`, { skip: store.skip }, () => {
    it("runs once per workflow per runner, before its first Execute, and reaches every later task of that runner", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
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
      const runner = await startRunner(t, storage, [auth, plain])
      const [a, b] = await Promise.all(
        ["wa", "wb"].map((id) =>
          runner.addWorkflow({ workflowID: id, tasks: { one: { task: "Api" }, mid: { task: "Plain" }, two: { task: "Api" } } }),
        ),
      )
      await Promise.all([resultOf(a!), resultOf(b!)])
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
    })
  })
}

describe("Prepare after recovery (sqlite)", () => {
  it("runs again in the process that resumes the workflow", { timeout: 20_000 }, async (t) => {
    const storage = openStore(t, STORES[0]!)
    const file = (storage as SQLiteStorageProvider).db.name
    let prepares = 0
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const first = await startRunner(t, storage, [
      {
        Name: "Api",
        Prepare: async () => ++prepares,
        Execute: async (ctx) => {
          if (ctx.seq === 1) await gate
          return { data: ctx.preparedData }
        },
      },
    ])
    onTestEnd(t, "open the gate", release)
    await first.addWorkflow({ workflowID: "w", tasks: { a: { task: "Api" }, b: { task: "Api" }, c: { task: "Api" } } })
    await eventually(async () => ((await first.getWorkflow("w"))?.tasks[0]?.status === "completed" ? true : undefined), 5_000, "task a completing")
    // Stop with a zero grace period: task b is interrupted and stays pending.
    const stopping = first.stop({ timeoutMS: 0 })
    release()
    await stopping
    const resumedPrepares: number[] = []
    const second = new WorkflowRunner({
      taskRunners: [{ Name: "Api", Prepare: async () => (resumedPrepares.push(1), "fresh"), Execute: async (ctx) => ({ data: ctx.preparedData }) }],
      storageProvider: new SQLiteStorageProvider(file),
    })
    stopOnEnd(t, second)
    await second.recover()
    const done = await eventually(
      async () => {
        const w = await second.getWorkflow("w")
        return w?.status === "completed" ? w : undefined
      },
      5_000,
      "the second runner completing the workflow",
    )
    assert.equal(resumedPrepares.length, 1)
    assert.equal(done.tasks[0]?.result, 1, "task a kept its first-life result")
    assert.equal(done.tasks[2]?.result, "fresh")
  })
})
