/**
 * Typed tasks: `defineTask<In, Out>` makes `addWorkflow` check each task's
 * runner name and data at compile time. The `@ts-expect-error` lines are the
 * test: `npm test` compiles this file first, and an expected error that does
 * not happen fails the build.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowRunner, defineTask, type TaskRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { resultOf, stopOnEnd } from "./helpers/runner.js"

const sendEmail = defineTask<{ to: string; subject: string }, { messageID: string }>()({
  Name: "SendEmail",
  Execute: async (ctx) => ({ data: { messageID: `${ctx.data.to}:${ctx.data.subject}` } }),
})
const double = defineTask<number, number>()({
  Name: "Double",
  Prepare: async () => 2,
  Execute: async (ctx) => ({ data: ctx.data * (ctx.preparedData ?? 1) }),
})

describe("typed tasks", () => {
  it("check runner names and data at compile time, and run as usual", { timeout: 10_000 }, async (t) => {
    const runner = new WorkflowRunner({ taskRunners: [sendEmail, double], storageProvider: new MemoryStorageProvider() })
    stopOnEnd(t, runner)
    await runner.recover()
    const handle = await runner.addWorkflow({
      tasks: {
        welcome: { task: "SendEmail", data: { to: "ada@example.com", subject: "hi" } },
        twice: { task: "Double", data: 21 },
      },
    })
    const compileTimeChecks = async () => {
      // @ts-expect-error: data of SendEmail lacks `subject`
      await runner.addWorkflow({ tasks: { a: { task: "SendEmail", data: { to: "x" } } } })
      // @ts-expect-error: Double takes a number
      await runner.addWorkflow({ tasks: { a: { task: "Double", data: "21" } } })
      // @ts-expect-error: no runner named SendSMS
      await runner.addWorkflow({ tasks: { a: { task: "SendSMS", data: 1 } } })
      // @ts-expect-error: typed data is required
      await runner.addWorkflow({ tasks: { a: { task: "Double" } } })
      // A waitForEvent step is typed beside typed tasks, in both forms.
      await runner.addWorkflow({ tasks: { paid: { waitForEvent: { name: "paid", key: "o-1", timeoutMS: "1h", onTimeout: "fail" } }, twice: { task: "Double", data: 2 } } })
      await runner.addWorkflow({ tasks: [{ name: "paid", waitForEvent: { name: "paid" } }] })
      // @ts-expect-error: onTimeout is "continue" or "fail"
      await runner.addWorkflow({ tasks: { paid: { waitForEvent: { name: "paid", onTimeout: "retry" } } } })
      // @ts-expect-error: a waitForEvent step names its event
      await runner.addWorkflow({ tasks: { paid: { waitForEvent: { key: "o-1" } } } })
      // @ts-expect-error: a waitForEvent step takes no data
      await runner.addWorkflow({ tasks: { paid: { waitForEvent: { name: "paid" }, data: 1 } } })
      // @ts-expect-error: sendEvent needs a name
      await runner.sendEvent({ key: "o-1" })
    }
    void compileTimeChecks
    const info = await resultOf(handle)
    assert.deepEqual(info.tasks.map((task) => task.result), [{ messageID: "ada@example.com:hi" }, 42])
  })

  it("keep plain object runners working, with a typed context", { timeout: 10_000 }, async (t) => {
    const lookups: unknown[] = []
    const runner = new WorkflowRunner({
      taskRunners: [
        { Name: "Make", Execute: async () => ({ data: { n: 1 } }) },
        { Name: "Read", Execute: async (ctx) => { lookups.push(ctx.getTaskResult("make"), ctx.data); return {} } },
      ],
      storageProvider: new MemoryStorageProvider(),
    })
    stopOnEnd(t, runner)
    await runner.recover()
    await resultOf(await runner.addWorkflow({ tasks: { make: { task: "Make" }, read: { task: "Read", data: ["anything"] } } }))
    assert.deepEqual(lookups, [{ n: 1 }, ["anything"]])
    // Runners built at run time (TaskRunner[]) accept any name at compile time; the runtime check remains.
    const dynamic: TaskRunner[] = [{ Name: "Make", Execute: async () => ({}) }]
    const loose = new WorkflowRunner({ taskRunners: dynamic, storageProvider: new MemoryStorageProvider() })
    stopOnEnd(t, loose)
    await assert.rejects(loose.addWorkflow({ tasks: { a: { task: "Other" } } }), /not registered/)
  })
})
