/** Bad input is refused with an error that says what is wrong, before anything is written. */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { SerializationError, ValidationError, WorkflowRunner, type TaskRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { createDashboard } from "../src/dashboard/index.js"
import { WorkflowClient } from "../src/client.js"
import { validateLogger } from "../src/validate.js"

const echo: TaskRunner = { Name: "Echo", Execute: async (ctx) => ({ data: ctx.data }) }

describe("constructor options", () => {
  const storageProvider = new MemoryStorageProvider()
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["no storage provider", { taskRunners: [echo] }, /storageProvider is required/],
    ["duplicate runner names", { taskRunners: [echo, { ...echo }], storageProvider }, /two task runners are named "Echo"/],
    ["taskRunners not an array", { taskRunners: echo, storageProvider }, /taskRunners must be an array/],
    ["a runner without Execute", { taskRunners: [{ Name: "X" }], storageProvider }, /"X" has no Execute/],
    ["a runner without a Name", { taskRunners: [{ Execute: async () => ({}) }], storageProvider }, /Name must be a non-empty string/],
    ["negative retryDelayMS", { taskRunners: [echo], storageProvider, retryDelayMS: -1 }, /retryDelayMS must be a finite number >= 0, got -1/],
    ["non-numeric retryDelayMS", { taskRunners: [echo], storageProvider, retryDelayMS: "5000" }, /retryDelayMS must be a number, got "5000"/],
    ["NaN retryDelayMS", { taskRunners: [echo], storageProvider, retryDelayMS: NaN }, /retryDelayMS must be a number/],
    ["zero concurrency", { taskRunners: [echo], storageProvider, concurrency: 0 }, /concurrency must be a finite number > 0/],
    ["fractional concurrency", { taskRunners: [echo], storageProvider, concurrency: 1.5 }, /concurrency must be an integer/],
    ["empty runnerID", { taskRunners: [echo], storageProvider, runnerID: "" }, /runnerID must not be empty/],
    ["heartbeat not shorter than the lease", { taskRunners: [echo], storageProvider, leaseMS: 100, heartbeatMS: 100 }, /heartbeatMS \(100\) must be less than leaseMS/],
    ["unknown backoff", { taskRunners: [echo], storageProvider, retry: { backoff: "linear-ish" } }, /retry.backoff must be "fixed" or "exponential"/],
    ["bad runner timeout", { taskRunners: [{ ...echo, timeoutMS: -5 }], storageProvider }, /timeoutMS must be a finite number > 0/],
    ["zero maxCrashes", { taskRunners: [echo], storageProvider, maxCrashes: 0 }, /maxCrashes must be a finite number > 0/],
    ["fractional maxCrashes", { taskRunners: [echo], storageProvider, maxCrashes: 2.5 }, /maxCrashes must be an integer/],
    [
      "a provider asking for 0 write batches in flight",
      { taskRunners: [echo], storageProvider: Object.assign(new MemoryStorageProvider(), { writeBatchesInFlight: 0 }) },
      /storageProvider.writeBatchesInFlight must be an integer >= 1, got 0/,
    ],
  ]
  for (const [what, options, message] of cases) {
    it(`refuses ${what}`, () => {
      assert.throws(() => new WorkflowRunner(options as never), (e: unknown) => e instanceof ValidationError && message.test(e.message))
    })
  }
})

describe("addWorkflow input", { timeout: 10_000 }, () => {
  const bigint = 10n
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  const cases: Array<[string, unknown, RegExp, typeof ValidationError | typeof SerializationError]> = [
    ["no tasks", { tasks: {} }, /^a workflow needs at least one task; tasks is empty$/, ValidationError],
    ["an empty array of tasks", { tasks: [] }, /^a workflow needs at least one task; tasks is empty$/, ValidationError],
    ["tasks missing", {}, /^tasks must be an object of \{ label: \{ task, data \} \} or an array of \{ name, task, data \}, got undefined$/, ValidationError],
    ["an array task without a name", { tasks: [{ task: "Echo" }] }, /tasks\[0\] needs a "name"/, ValidationError],
    ["tasks as a string", { tasks: "Echo" }, /^tasks must be an object .*, got "Echo"$/, ValidationError],
    ["a task that is not an object", { tasks: { a: "Echo" } }, /task "a" must be an object/, ValidationError],
    ["a task naming no runner", { tasks: { a: { data: 1 } } }, /task "a" must name its runner/, ValidationError],
    ["an unregistered runner", { tasks: { a: { task: "Nope" } } }, /names runner "Nope", which is not registered/, ValidationError],
    ["an empty workflow ID", { workflowID: "", tasks: { a: { task: "Echo" } } }, /workflowID must not be empty/, ValidationError],
    ["a numeric workflow ID", { workflowID: 42, tasks: { a: { task: "Echo" } } }, /workflowID must be a string, got number 42/, ValidationError],
    ["data with a BigInt", { tasks: { a: { task: "Echo", data: { n: bigint } } } }, /data of task "a" contains a BigInt at n/, SerializationError],
    ["data with a function", { tasks: { a: { task: "Echo", data: [() => 1] } } }, /contains a function at 0/, SerializationError],
    ["data with a cycle", { tasks: { a: { task: "Echo", data: cyclic } } }, /contains a cycle at self/, SerializationError],
    ["data with a Map", { tasks: { a: { task: "Echo", data: new Map() } } }, /contains a Map/, SerializationError],
    ["data with NaN", { tasks: { a: { task: "Echo", data: { x: NaN } } } }, /contains NaN/, SerializationError],
    ["data over the size limit", { tasks: { a: { task: "Echo", data: "x".repeat(2_000) } } }, /over the limit of 1000 \(option maxPayloadBytes\)/, SerializationError],
    ["input that is not an object", null, /^addWorkflow takes \{ workflowID\?, tasks \}, got null$/, ValidationError],
    ["no input at all", undefined, /^addWorkflow takes \{ workflowID\?, tasks \}, got undefined$/, ValidationError],
  ]
  for (const [what, input, message, type] of cases) {
    it(`refuses ${what} and writes nothing`, async () => {
      const storage = new SQLiteStorageProvider(":memory:")
      const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: storage, maxPayloadBytes: 1000 })
      await assert.rejects(runner.addWorkflow(input as never), (e: unknown) => e instanceof type && message.test((e as Error).message))
      assert.deepEqual(await storage.listWorkflows({ limit: 10 }), [])
      assert.equal((storage.db.prepare("SELECT COUNT(*) AS n FROM durabletasks_tasks").get() as { n: number }).n, 0)
      await runner.stop()
    })
  }

  it("accepts what JSON carries: nested objects, unicode, null, a Date as its ISO string", async () => {
    const storage = new MemoryStorageProvider()
    const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: storage })
    const when = new Date("2026-01-02T03:04:05.000Z")
    const shared = { k: 1 }
    const handle = await runner.addWorkflow({ tasks: { a: { task: "Echo", data: { when, s: "✓", n: null, twice: [shared, shared] } } } })
    const info = await runner.getWorkflow(handle.id)
    assert.deepEqual(info?.tasks[0]?.data, { when: "2026-01-02T03:04:05.000Z", s: "✓", n: null, twice: [{ k: 1 }, { k: 1 }] })
    await runner.stop()
  })
})

describe("other methods", { timeout: 10_000 }, () => {
  it("validate their arguments", async () => {
    const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: new MemoryStorageProvider() })
    await assert.rejects(runner.getWorkflow(5 as never), /workflowID must be a string/)
    await assert.rejects(runner.cancelWorkflow("" as never), /workflowID must not be empty/)
    await assert.rejects(runner.retryWorkflow(undefined as never), /workflowID must be a string/)
    await assert.rejects(runner.listWorkflows({ status: "done" as never }), /status must be one of pending, completed, failed, cancelled/)
    await assert.rejects(runner.listWorkflows({ limit: 0 }), /limit must be a finite number > 0/)
    await assert.rejects(runner.listWorkflows({ limit: 5000 }), /limit must be at most 1000/)
    await assert.rejects(runner.deleteEndedWorkflows(-1), /olderThanMS must be a finite number >= 0/)
    await runner.stop()
  })

  it("SQLiteStorageProvider refuses a table prefix that could inject SQL", () => {
    assert.throws(() => new SQLiteStorageProvider(":memory:", { tablePrefix: "x; DROP TABLE y; --" }), /tablePrefix "x; DROP TABLE y; --" is invalid/)
    assert.throws(() => new SQLiteStorageProvider(":memory:", { synchronous: "OFF" as never }), /synchronous must be "FULL" or "NORMAL"/)
  })
})

describe("logger option", () => {
  /** Bad loggers, and the message each is refused with (the option is named "logger" here). */
  const bad: Array<[string, unknown, RegExp]> = [
    ["a number", 5, /^logger must be an object with optional debug, info, warn and error functions \(console works\), got number 5$/],
    ["a string", "str", /^logger must be an object .*, got "str"$/],
    ["null", null, /^logger must be an object .*, got null$/],
    ["an array", [], /^logger must be an object .*, got an array$/],
    ["a function", () => {}, /^logger must be an object .*, got a function$/],
    ["an object whose methods are numbers", { error: 5, warn: 5, info: 5, debug: 5 }, /^logger\.debug must be a function \(or absent\), got number 5$/],
    ["an object whose error is a string", { info: () => {}, error: "x" }, /^logger\.error must be a function \(or absent\), got "x"$/],
  ]
  const good: Array<[string, unknown]> = [
    ["console", console],
    ["an empty object", {}],
    ["an object with some methods", { info: () => {}, warn: undefined }],
    ["a class instance", new (class { error(): void {} })()],
  ]

  for (const [what, logger, message] of bad) {
    it(`validateLogger refuses ${what}`, () => {
      assert.throws(() => validateLogger(logger), (e: unknown) => e instanceof ValidationError && message.test(e.message))
    })
  }
  for (const [what, logger] of good) {
    it(`validateLogger accepts ${what}`, () => assert.equal(validateLogger(logger), logger))
  }
  it("validateLogger passes undefined (no logger)", () => assert.equal(validateLogger(undefined), undefined))

  it("PostgresStorageProvider refuses a bad logger before creating its pool", () => {
    for (const [, logger, message] of bad) {
      assert.throws(
        () => new PostgresStorageProvider("postgres://127.0.0.1:1/none", { logger: logger as never }),
        (e: unknown) => e instanceof ValidationError && message.test(e.message),
      )
    }
  })

  it("createDashboard refuses a bad logger", () => {
    const client = new WorkflowClient({ storageProvider: new MemoryStorageProvider() })
    for (const [, logger, message] of bad) {
      assert.throws(() => createDashboard({ client, logger: logger as never }), (e: unknown) => e instanceof ValidationError && message.test(e.message))
    }
  })

  it("WorkflowRunner refuses a bad logger", () => {
    for (const [, logger, message] of bad) {
      assert.throws(
        () => new WorkflowRunner({ taskRunners: [echo], storageProvider: new MemoryStorageProvider(), logger: logger as never }),
        (e: unknown) => e instanceof ValidationError && message.test(e.message),
      )
    }
  })
  it("WorkflowClient refuses a bad logger", () => {
    for (const [, logger, message] of bad) {
      assert.throws(
        () => new WorkflowClient({ storageProvider: new MemoryStorageProvider(), logger: logger as never }),
        (e: unknown) => e instanceof ValidationError && message.test(e.message),
      )
    }
  })
})
