/**
 * A misspelled key is refused, not ignored: it would leave its option at the
 * default without a word (a `workflowId` stores the workflow under a random
 * UUID; a `knwonTasks` turns the check off). The error names the key and,
 * when it is close to one that exists, suggests it.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, WorkflowRunner, type TaskRunner } from "../src/index.js"
import { WorkflowClient } from "../src/client.js"
import { closestKey } from "../src/known-keys.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"

const echo: TaskRunner = { Name: "Echo", Execute: async (ctx) => ({ data: ctx.data }) }

/** Asserts that `error` is a ValidationError whose message matches `message`. */
function refused(message: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`)
    assert.match(error.message, message)
    return true
  }
}

describe("closestKey", () => {
  const known = ["workflowID", "tasks", "startAt", "delayMS", "data"]
  const cases: Array<[string, string | undefined]> = [
    ["workflowId", "workflowID"],
    ["WORKFLOWID", "workflowID"],
    ["dta", "data"],
    ["datta", "data"],
    ["dat", "data"],
    ["dara", "data"],
    ["tsaks", "tasks"],
    ["delay", undefined],
    ["startTime", undefined],
    ["x", undefined],
  ]
  for (const [key, expected] of cases) {
    it(`suggests ${String(expected)} for ${key}`, () => assert.equal(closestKey(key, known), expected))
  }
})

describe("addWorkflow refuses unknown keys", { timeout: 10_000 }, () => {
  const cases: Array<[string, unknown, RegExp]> = [
    [
      "workflowId for workflowID",
      { workflowId: "typo", tasks: { a: { task: "Echo" } } },
      /^addWorkflow: unknown option "workflowId": did you mean "workflowID"\? It takes workflowID, tasks, startAt and delayMS$/,
    ],
    ["a key close to none", { tasks: { a: { task: "Echo" } }, priority: 1 }, /^addWorkflow: unknown option "priority"\. It takes workflowID, tasks/],
    [
      "several keys at once",
      { workflowId: "typo", tasks: { a: { task: "Echo" } }, delayMs: 5, priority: 1 },
      /^addWorkflow: unknown options "workflowId" \(did you mean "workflowID"\?\), "delayMs" \(did you mean "delayMS"\?\), "priority"\. It takes/,
    ],
    ["dta in a task of the object form", { tasks: { a: { task: "Echo", dta: 1 } } }, /^task "a": unknown option "dta": did you mean "data"\? It takes task and data$/],
    ["dta in a task of the array form", { tasks: [{ name: "a", task: "Echo", dta: 1 }] }, /^task "a": unknown option "dta": did you mean "data"\?/],
    ["tsk in a task with data", { tasks: { a: { tsk: "Echo", data: 1 } } }, /^task "a": unknown option "tsk": did you mean "task"\?/],
    ["name in the object form (the label is the key there)", { tasks: { a: { name: "a", task: "Echo" } } }, /^task "a": unknown option "name"\. It takes task and data$/],
    ["a sleep with a misspelled sleepUntil", { tasks: { s: { sleep: "1h", sleepUntl: 5 } } }, /^step "s": unknown option "sleepUntl": did you mean "sleepUntil"\? It takes sleep and sleepUntil$/],
    ["a step of no kind, close to one", { tasks: { s: { sleeep: "1h" } } }, /^step "s" is neither a task nor a step of a known kind: did you mean "sleep" for "sleeep"\?/],
    ["a step with waitforEvent", { tasks: { w: { waitforEvent: { name: "n" } } } }, /did you mean "waitForEvent" for "waitforEvent"\?/],
    ["a wait with an extra key", { tasks: { w: { waitForEvent: { name: "n" }, timeoutMS: 5 } } }, /^step "w": unknown option "timeoutMS"\. It takes waitForEvent$/],
    ["a wait option misspelled", { tasks: { w: { waitForEvent: { name: "n", timeoutMs: 5 } } } }, /^waitForEvent of step "w": unknown option "timeoutMs": did you mean "timeoutMS"\?/],
    [
      "a child workflow step with an extra key",
      { tasks: { c: { workflow: { tasks: { a: { task: "Echo" } } }, onFailure: "continue" } } },
      /^step "c": unknown option "onFailure"\. It takes workflow$/,
    ],
    [
      "a child workflow with workflowId",
      { tasks: { c: { workflow: { workflowId: "x", tasks: { a: { task: "Echo" } } } } } },
      /^the workflow of step "c": unknown option "workflowId": did you mean "workflowID"\? It takes tasks, workflowID and onFailure$/,
    ],
    ["a task of a child workflow with dta", { tasks: { c: { workflow: { tasks: { a: { task: "Echo", dta: 1 } } } } } }, /^task "a": unknown option "dta": did you mean "data"\?/],
    ["a member of a parallel step with dta", { tasks: { p: { parallel: { a: { task: "Echo", dta: 1 } } } } }, /^task "a": unknown option "dta": did you mean "data"\?/],
    ["name on a member of a parallel step", { tasks: [{ name: "p", parallel: { a: { name: "a", task: "Echo" } } }] }, /^task "a": unknown option "name"\./],
  ]
  for (const [what, input, message] of cases) {
    it(`refuses ${what} and writes nothing`, async () => {
      const storage = new MemoryStorageProvider()
      const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: storage })
      await assert.rejects(runner.addWorkflow(input as never), refused(message))
      assert.deepEqual(await runner.listWorkflows(), [])
      await runner.stop()
    })
  }

  it("refuses them on a WorkflowClient too", async () => {
    const client = new WorkflowClient({ storageProvider: new MemoryStorageProvider() })
    await assert.rejects(client.addWorkflow({ workflowId: "typo", tasks: { a: { task: "Echo" } } } as never), refused(/did you mean "workflowID"/))
    await assert.rejects(client.addWorkflow({ tasks: { a: { task: "Echo", dta: 1 } } } as never), refused(/did you mean "data"/))
    assert.deepEqual(await client.listWorkflows(), [])
    await client.close()
  })

  it("refuses them in a spawned workflow", async () => {
    const spawner: TaskRunner = {
      Name: "Spawn",
      Execute: async (ctx) => {
        try {
          await ctx.addWorkflow({ workflowId: "child", tasks: { a: { task: "Echo" } } } as never)
          return { data: "accepted" }
        } catch (error) {
          return { data: (error as Error).message }
        }
      },
    }
    const runner = new WorkflowRunner({ taskRunners: [echo, spawner], storageProvider: new MemoryStorageProvider() })
    await runner.recover()
    const handle = await runner.addWorkflow({ workflowID: "parent", tasks: { s: { task: "Spawn" } } })
    const info = await handle.result()
    assert.match(String(info.tasks[0]?.result), /^addWorkflow: unknown option "workflowId": did you mean "workflowID"\?/)
    await runner.stop()
  })

  it("accepts every key the types declare", async () => {
    const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: new MemoryStorageProvider() })
    await runner.addWorkflow({ workflowID: "w1", tasks: { a: { task: "Echo", data: 1 } }, delayMS: 1 })
    await runner.addWorkflow({ workflowID: "w2", tasks: [{ name: "a", task: "Echo", data: 1 }], startAt: 0 })
    await runner.addWorkflow({
      workflowID: "w3",
      tasks: [
        { name: "s", sleep: "1s" },
        { name: "u", sleepUntil: 0 },
        { name: "w", waitForEvent: { name: "n", key: "k", timeoutMS: "1m", onTimeout: "fail" } },
        { name: "c", workflow: { tasks: [{ name: "ca", task: "Echo" }], workflowID: "child", onFailure: "continue" } },
        { name: "p", parallel: { pa: { task: "Echo", data: 2 }, ps: { sleep: 1 } } },
      ],
    })
    assert.equal((await runner.listWorkflows()).length, 3)
    await runner.stop()
  })
})

describe("schedules refuse unknown keys", { timeout: 10_000 }, () => {
  const cases: Array<[string, unknown, RegExp]> = [
    [
      "catchupWindowMs",
      { id: "s", cron: "* * * * *", catchupWindowMs: 5, workflow: { tasks: { a: { task: "Echo" } } } },
      /^schedule "s": unknown option "catchupWindowMs": did you mean "catchupWindowMS"\? It takes id, cron, timezone, workflow, overlap, catchupWindowMS and paused$/,
    ],
    [
      "a workflowID in its workflow (each tick's ID is its own)",
      { id: "s", cron: "* * * * *", workflow: { workflowID: "x", tasks: { a: { task: "Echo" } } } },
      /^the workflow of schedule "s": unknown option "workflowID"\. It takes tasks$/,
    ],
    ["dta in a task of its workflow", { id: "s", cron: "* * * * *", workflow: { tasks: { a: { task: "Echo", dta: 1 } } } }, /^task "a": unknown option "dta": did you mean "data"\?/],
  ]
  for (const [what, definition, message] of cases) {
    it(`refuses ${what}`, async () => {
      const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: new SQLiteStorageProvider(":memory:") })
      await assert.rejects(runner.schedule(definition as never), refused(message))
      assert.deepEqual(await runner.listSchedules(), [])
      await runner.stop()
    })
  }
})

describe("sendEvent refuses unknown keys", () => {
  it("with a suggestion", async () => {
    const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: new MemoryStorageProvider() })
    await assert.rejects(runner.sendEvent({ nmae: "n" } as never), refused(/^sendEvent: unknown option "nmae": did you mean "name"\? It takes name, key, payload and eventID$/))
    await runner.stop()
  })
})

describe("constructors and stop/close refuse unknown options", () => {
  const storageProvider = new MemoryStorageProvider()
  it("new WorkflowRunner: concurency", () => {
    assert.throws(
      () => new WorkflowRunner({ taskRunners: [echo], storageProvider, concurency: 5 } as never),
      refused(/^new WorkflowRunner: unknown option "concurency": did you mean "concurrency"\? It takes taskRunners, storageProvider, /),
    )
  })
  it("new WorkflowRunner: storageprovider (before saying storageProvider is missing)", () => {
    assert.throws(() => new WorkflowRunner({ taskRunners: [echo], storageprovider: storageProvider } as never), refused(/unknown option "storageprovider": did you mean "storageProvider"\?/))
  })
  it("new WorkflowClient: knwonTasks", () => {
    assert.throws(
      () => new WorkflowClient({ storageProvider, knwonTasks: ["T"] } as never),
      refused(/^new WorkflowClient: unknown option "knwonTasks": did you mean "knownTasks"\? It takes storageProvider, knownTasks, maxPayloadBytes, pollIntervalMS, logger and clock$/),
    )
  })
  it("stop: timeoutMs", async () => {
    const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: new MemoryStorageProvider() })
    await assert.rejects(runner.stop({ timeoutMs: 5 } as never), refused(/^stop: unknown option "timeoutMs": did you mean "timeoutMS"\? It takes timeoutMS and closeStorage$/))
    await runner.stop({ timeoutMS: 5, closeStorage: true })
  })
  it("close: closestorage", async () => {
    const client = new WorkflowClient({ storageProvider: new MemoryStorageProvider() })
    await assert.rejects(client.close({ closestorage: false } as never), refused(/^close: unknown option "closestorage": did you mean "closeStorage"\? It takes closeStorage$/))
    await client.close({ closeStorage: true })
  })
  it("new SQLiteStorageProvider: tableprefix", () => {
    assert.throws(
      () => new SQLiteStorageProvider(":memory:", { tableprefix: "x_" } as never),
      refused(/^new SQLiteStorageProvider: unknown option "tableprefix": did you mean "tablePrefix"\? It takes tablePrefix, synchronous and busyTimeoutMS$/),
    )
  })
  it("new PostgresStorageProvider: schem, before creating its pool", () => {
    assert.throws(
      () => new PostgresStorageProvider("postgres://127.0.0.1:1/none", { schem: "jobs" } as never),
      refused(/^new PostgresStorageProvider: unknown option "schem": did you mean "schema"\? It takes schema, tablePrefix, notifications, poolConfig, logger, preparedStatements and writeBatchesInFlight$/),
    )
  })

  it("accept every option their types declare", async () => {
    const sqlite = new SQLiteStorageProvider(":memory:", { tablePrefix: "t_", synchronous: "NORMAL", busyTimeoutMS: 100 })
    const runner = new WorkflowRunner({
      taskRunners: [echo],
      storageProvider: sqlite,
      retryDelayMS: 10,
      retry: { backoff: "fixed" },
      logger: {},
      runnerID: "r",
      leaseMS: 3_000,
      heartbeatMS: 1_000,
      concurrency: 2,
      pollIntervalMS: 50,
      maxPayloadBytes: 10_000,
      retentionMS: 60_000,
      eventRetentionMS: 60_000,
      maxCrashes: 3,
      clock: Date.now,
    })
    const client = new WorkflowClient({ storageProvider: sqlite, knownTasks: ["Echo"], maxPayloadBytes: 10_000, pollIntervalMS: 50, logger: {}, clock: Date.now })
    await client.close({ closeStorage: false })
    await runner.stop({ timeoutMS: 100, closeStorage: true })
    const postgres = new PostgresStorageProvider("postgres://127.0.0.1:1/none", {
      schema: "s",
      tablePrefix: "p_",
      notifications: false,
      poolConfig: { max: 1 },
      logger: {},
      preparedStatements: false,
      writeBatchesInFlight: 2,
    })
    await postgres.pool.end()
  })
})
