/**
 * Tasks run in the order the user wrote them. JavaScript orders integer-like
 * object keys (`"2"`, `"10"`) numerically, ahead of the others, so the object
 * form refuses them; the array form (`[{ name, task, data }]`) keeps any
 * label in its written order, and is typed like the object form (the
 * `@ts-expect-error` lines are compile-time tests: `npm test` builds this file
 * first, and an expected error that does not happen fails the build).
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, defineTask, type TaskRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { ALL_STORES, eventually, startRunner } from "./helpers/runner.js"

/** A runner that records the order its tasks run in. */
function recorder(order: string[]): TaskRunner {
  return { Name: "Record", Execute: async (ctx) => (order.push(ctx.name), { data: ctx.name }) }
}

describe("integer-like labels in the object form", () => {
  for (const label of ["0", "2", "10", "4294967294"]) {
    it(`refuses ${JSON.stringify(label)}, saying why and pointing to the array form`, async (t) => {
      const order: string[] = []
      const storage = new MemoryStorageProvider()
      const runner = await startRunner(t, storage, [recorder(order)])
      try {
        await assert.rejects(
          runner.addWorkflow({ tasks: { first: { task: "Record" }, [label]: { task: "Record" } } }),
          (error: unknown) =>
            error instanceof ValidationError &&
            error.message.includes(`task label "${label}" looks like an integer`) &&
            /JavaScript orders such object keys numerically/.test(error.message) &&
            /Use the array form.*tasks: \[\{ name: /.test(error.message),
        )
        assert.deepEqual(await runner.listWorkflows(), [], "nothing was stored")
      } finally {
        await runner.stop()
      }
    })
  }

  it("refuses them in a spawn from a task (ctx.addWorkflow) too", async (t) => {
    const storage = new MemoryStorageProvider()
    let spawnError: unknown
    const spawner: TaskRunner = {
      Name: "Spawner",
      Execute: async (ctx) => {
        spawnError = await ctx.addWorkflow({ workflowID: "child", tasks: { "2": { task: "Spawner" }, "1": { task: "Spawner" } } }).catch((e: unknown) => e)
        return {}
      },
    }
    const runner = await startRunner(t, storage, [spawner])
    try {
      await (await runner.addWorkflow({ workflowID: "parent", tasks: { spawn: { task: "Spawner" } } })).result()
      assert.ok(spawnError instanceof ValidationError && /looks like an integer/.test(spawnError.message), `got ${String(spawnError)}`)
      assert.equal(await runner.getWorkflow("child"), null)
    } finally {
      await runner.stop()
    }
  })

  it("accepts labels JavaScript does not reorder (leading zero, sign, fraction, 2^32 - 1), in written order", async (t) => {
    const order: string[] = []
    const runner = await startRunner(t, new MemoryStorageProvider(), [recorder(order)])
    try {
      const labels = ["b", "01", "-1", "1.5", "4294967295", "a"]
      const tasks = Object.fromEntries(labels.map((label) => [label, { task: "Record" }]))
      assert.equal((await (await runner.addWorkflow({ tasks })).result()).status, "completed")
      assert.deepEqual(order, labels)
    } finally {
      await runner.stop()
    }
  })
})

describe("the array form of tasks", () => {
  for (const store of ALL_STORES) {
    it(`runs integer-like and other labels in written order, and finds each by label (${store.name})`, { skip: store.skip ?? false }, async (t) => {
      const { storage, cleanup } = store.open()
      const order: string[] = []
      let lookedUp: unknown
      const lookup: TaskRunner = { Name: "Lookup", Execute: async (ctx) => ((lookedUp = ctx.getTaskResult("10")), {}) }
      const runner = await startRunner(t, storage, [recorder(order), lookup])
      try {
        const handle = await runner.addWorkflow({
          workflowID: "ordered",
          tasks: [
            { name: "2", task: "Record", data: 2 },
            { name: "1", task: "Record" },
            { name: "10", task: "Record" },
            { name: "a", task: "Record" },
            { name: "0", task: "Record" },
            { name: "check", task: "Lookup" },
          ],
        })
        const info = await handle.result()
        assert.equal(info.status, "completed")
        assert.deepEqual(order, ["2", "1", "10", "a", "0"], "ran in the written order")
        assert.deepEqual(info.tasks.map((t) => [t.seq, t.name]), [[0, "2"], [1, "1"], [2, "10"], [3, "a"], [4, "0"], [5, "check"]])
        assert.equal(info.tasks[0]?.data, 2)
        assert.equal(lookedUp, "10", "getTaskResult finds a task by its label")
      } finally {
        await runner.stop()
        await cleanup()
      }
    })
  }

  it("refuses duplicate names, a missing name, holes and non-objects, writing nothing", async (t) => {
    const storage = new MemoryStorageProvider()
    const runner = await startRunner(t, storage, [recorder([])])
    try {
      const cases: Array<[unknown, RegExp]> = [
        [[{ name: "a", task: "Record" }, { name: "b", task: "Record" }, { name: "a", task: "Record" }], /tasks\[0\] and tasks\[2\] are both named "a": task names \(labels\) must be unique/],
        [[{ task: "Record" }], /tasks\[0\] needs a "name" \(its label\) that is a string, got undefined/],
        [[{ name: 1, task: "Record" }], /tasks\[0\] needs a "name".*got number 1/],
        [[{ name: "a", task: "Record" }, , { name: "b", task: "Record" }], /tasks\[1\] must be an object \{ name, task, data \}, got undefined/],
        [["Record"], /tasks\[0\] must be an object/],
        [[], /a workflow needs at least one task/],
        [[{ name: "a", task: "Nope" }], /task "a" names runner "Nope", which is not registered/],
      ]
      for (const [tasks, message] of cases) {
        await assert.rejects(
          runner.addWorkflow({ tasks } as never),
          (error: unknown) => error instanceof ValidationError && message.test(error.message),
          `tasks ${JSON.stringify(tasks)} should be refused with ${message}`,
        )
      }
      assert.deepEqual(await runner.listWorkflows(), [])
    } finally {
      await runner.stop()
    }
  })

  it("works in a spawn from a task (ctx.addWorkflow)", async (t) => {
    const order: string[] = []
    const spawner: TaskRunner = {
      Name: "Spawner",
      Execute: async (ctx) => {
        await ctx.addWorkflow({ workflowID: "child", tasks: [{ name: "2", task: "Record" }, { name: "1", task: "Record" }] })
        return {}
      },
    }
    const runner = await startRunner(t, new MemoryStorageProvider(), [spawner, recorder(order)])
    try {
      await (await runner.addWorkflow({ workflowID: "parent", tasks: { spawn: { task: "Spawner" } } })).result()
      const child = await eventually(async () => {
        const w = await runner.getWorkflow("child")
        return w?.status === "completed" ? w : undefined
      }, 5_000, "the spawned child to complete")
      assert.deepEqual(child.tasks.map((t) => t.name), ["2", "1"])
      assert.deepEqual(order, ["2", "1"])
    } finally {
      await runner.stop()
    }
  })

  it("is typed like the object form: runner names and data are checked at compile time", async (t) => {
    const double = defineTask<number, number>()({ Name: "Double", Execute: async (ctx) => ({ data: ctx.data * 2 }) })
    const greet = defineTask<{ to: string }, string>()({ Name: "Greet", Execute: async (ctx) => ({ data: `hi ${ctx.data.to}` }) })
    const runner = await startRunner(t, new MemoryStorageProvider(), [double, greet])
    try {
      const handle = await runner.addWorkflow({
        tasks: [
          { name: "2", task: "Double", data: 21 },
          { name: "1", task: "Greet", data: { to: "ada" } },
        ],
      })
      const compileTimeChecks = async () => {
        // @ts-expect-error: Double takes a number
        await runner.addWorkflow({ tasks: [{ name: "a", task: "Double", data: "21" }] })
        // @ts-expect-error: Greet's data lacks `to`
        await runner.addWorkflow({ tasks: [{ name: "a", task: "Greet", data: {} }] })
        // @ts-expect-error: no runner named Nope
        await runner.addWorkflow({ tasks: [{ name: "a", task: "Nope", data: 1 }] })
        // @ts-expect-error: typed data is required
        await runner.addWorkflow({ tasks: [{ name: "a", task: "Double" }] })
        // @ts-expect-error: an entry needs its name
        await runner.addWorkflow({ tasks: [{ task: "Double", data: 1 }] })
      }
      void compileTimeChecks
      const info = await handle.result()
      assert.deepEqual(info.tasks.map((t) => [t.name, t.result]), [["2", 42], ["1", "hi ada"]])
    } finally {
      await runner.stop()
    }
  })
})
