/**
 * The sleep step (DESIGN §7), on every store: `{ sleep }` and `{ sleepUntil }`
 * in both forms of `tasks`, results `{ sleptUntil }`, a sleeping workflow
 * holds no lease and no slot, `cancelWorkflow` and `stop()` while it sleeps,
 * and what `getWorkflow` shows. The restart case (SIGKILL while sleeping) is
 * in sleep-crash.test.ts.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, WorkflowRunner, type TaskRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { ALL_STORES, eventually, startRunner } from "./helpers/runner.js"

/** Records when each run started, by `${workflowID}/${label}`. */
function markRunner(started: Map<string, number>): TaskRunner<unknown, string, "Mark"> {
  return {
    Name: "Mark",
    Execute: async (ctx) => {
      started.set(`${ctx.workflowID}/${ctx.name}`, Date.now())
      return { data: ctx.name }
    },
  }
}

/** How long after a wake time a runner may take to notice it (timers and polls are ~50 ms in tests). */
const WAKE_SLACK_MS = 2_000

for (const store of ALL_STORES) {
  describe(`sleep steps (${store.name})`, { skip: store.skip ?? false, timeout: 60_000 }, () => {
    it("object form: { sleep } waits that long between tasks; the step's result is { sleptUntil }", async (t) => {
      const { storage, cleanup } = store.open()
      const started = new Map<string, number>()
      const runner = await startRunner(t, storage, [markRunner(started)])
      t.after(async () => {
        await runner.stop()
        await cleanup()
      })
      const handle = await runner.addWorkflow({
        workflowID: "object-form",
        tasks: { before: { task: "Mark" }, nap: { sleep: "400ms" }, after: { task: "Mark" } },
      })
      const info = await within(handle.result(), 10_000, "the workflow with a 400 ms sleep to end")
      assert.equal(info.status, "completed")
      const nap = info.tasks[1]!
      assert.equal(nap.kind, "sleep")
      assert.equal(nap.status, "completed")
      assert.equal(nap.state, "completed")
      assert.ok(nap.wakeAt, "a completed sleep keeps its wake time")
      assert.deepEqual(nap.result, { sleptUntil: nap.wakeAt.toISOString() })
      assert.deepEqual(nap.data, { sleep: 400 })
      const before = started.get("object-form/before")!
      const after = started.get("object-form/after")!
      assert.ok(after - before >= 400, `the task after the sleep started ${after - before} ms after the one before it; the sleep is 400 ms`)
      assert.ok(after >= nap.wakeAt.getTime(), "the task after the sleep started before the wake time")
      assert.ok(after - nap.wakeAt.getTime() < WAKE_SLACK_MS, `the task after the sleep started ${after - nap.wakeAt.getTime()} ms after the wake time`)
      assert.deepEqual(info.tasks.map((s) => s.kind), ["task", "sleep", "task"])
    })

    it("array form: { sleepUntil } (Date, ISO string, epoch ms) and { sleep } in ms; a time in the past wakes at once", async (t) => {
      const { storage, cleanup } = store.open()
      const started = new Map<string, number>()
      const runner = await startRunner(t, storage, [markRunner(started)])
      t.after(async () => {
        await runner.stop()
        await cleanup()
      })
      const until = new Date(Date.now() + 300)
      const handle = await runner.addWorkflow({
        workflowID: "array-form",
        tasks: [
          { name: "untilDate", sleepUntil: until },
          { name: "untilISO", sleepUntil: new Date(until.getTime() + 100).toISOString() },
          { name: "untilEpoch", sleepUntil: until.getTime() + 200 },
          { name: "past", sleepUntil: "2001-01-01T00:00:00Z" },
          { name: "ms", sleep: 100 },
          { name: "last", task: "Mark" },
        ],
      })
      const info = await within(handle.result(), 10_000, "the workflow of sleeps to end")
      assert.equal(info.status, "completed")
      const results = info.tasks.slice(0, 4).map((s) => s.result)
      assert.deepEqual(results, [
        { sleptUntil: until.toISOString() },
        { sleptUntil: new Date(until.getTime() + 100).toISOString() },
        { sleptUntil: new Date(until.getTime() + 200).toISOString() },
        { sleptUntil: "2001-01-01T00:00:00.000Z" },
      ])
      const ms = info.tasks[4]!
      assert.ok(ms.wakeAt && ms.wakeAt.getTime() >= until.getTime() + 200 + 100, "{ sleep } counts from when the step is reached")
      assert.ok(started.get("array-form/last")! >= ms.wakeAt.getTime(), "the last task started before the sleep ended")
    })

    it("a sleeping workflow holds no concurrency slot: with concurrency 1, a quick workflow runs while another sleeps", async (t) => {
      const { storage, cleanup } = store.open()
      const started = new Map<string, number>()
      const runner = await startRunner(t, storage, [markRunner(started)], { concurrency: 1 })
      t.after(async () => {
        await runner.stop()
        await cleanup()
      })
      await runner.addWorkflow({ workflowID: "sleeper", tasks: { first: { task: "Mark" }, nap: { sleep: "1h" }, never: { task: "Mark" } } })
      await eventually(async () => ((await runner.getWorkflow("sleeper"))?.tasks[1]?.wakeAt ? true : undefined), 5_000, "the sleeper to reach its sleep")
      const quick = await runner.addWorkflow({ workflowID: "quick", tasks: { only: { task: "Mark" } } })
      const info = await within(quick.result(), 5_000, "the quick workflow to run while the only slot's workflow sleeps")
      assert.equal(info.status, "completed")
      const sleeper = await runner.getWorkflow("sleeper")
      assert.equal(sleeper?.status, "pending")
      assert.equal(sleeper?.lease, null, "a sleeping workflow holds a lease")
      assert.equal(started.has("sleeper/never"), false, "the step after an hour's sleep ran")
    })

    it("cancelWorkflow works while it sleeps, and the steps after the sleep never run", async (t) => {
      const { storage, cleanup } = store.open()
      const started = new Map<string, number>()
      const runner = await startRunner(t, storage, [markRunner(started)])
      t.after(async () => {
        await runner.stop()
        await cleanup()
      })
      const handle = await runner.addWorkflow({ workflowID: "cancelled-sleeper", tasks: { nap: { sleep: 400 }, after: { task: "Mark" } } })
      await eventually(async () => ((await runner.getWorkflow("cancelled-sleeper"))?.tasks[0]?.wakeAt ? true : undefined), 5_000, "the sleep to start")
      assert.equal(await runner.cancelWorkflow("cancelled-sleeper"), true, "cancelWorkflow refused a sleeping workflow")
      const info = await within(handle.result(), 5_000, "result() of the cancelled sleeper")
      assert.equal(info.status, "cancelled")
      // Past the wake time: nothing wakes a cancelled workflow.
      await new Promise((r) => setTimeout(r, 700))
      assert.equal(started.has("cancelled-sleeper/after"), false, "a step after the sleep of a cancelled workflow ran")
      const stored = await runner.getWorkflow("cancelled-sleeper")
      assert.equal(stored?.status, "cancelled")
      assert.equal(stored?.tasks[0]?.status, "pending", "the sleep of a cancelled workflow was completed")
    })

    it("stop() does not wait for a sleeping workflow, which stays pending and sleeping", async (t) => {
      const { storage, cleanup } = store.open()
      const runner = await startRunner(t, storage, [markRunner(new Map())])
      let stopped = false
      t.after(async () => {
        if (!stopped) await runner.stop()
        await storage.close()
        await cleanup()
      })
      await runner.addWorkflow({ workflowID: "sleeps-through-stop", tasks: { nap: { sleep: "2d" }, after: { task: "Mark" } } })
      await eventually(async () => ((await runner.getWorkflow("sleeps-through-stop"))?.tasks[0]?.wakeAt ? true : undefined), 5_000, "the sleep to start")
      const began = Date.now()
      await within(runner.stop({ closeStorage: false }), 3_000, "stop() with a workflow sleeping for two days")
      stopped = true
      assert.ok(Date.now() - began < 3_000)
      const stored = await storage.getWorkflow("sleeps-through-stop")
      assert.equal(stored?.workflow.status, "pending")
      assert.equal(stored?.workflow.leaseToken, null, "a sleeping workflow holds a lease after stop()")
      assert.equal(stored?.tasks[0]?.status, "pending")
      assert.ok(typeof stored?.tasks[0]?.wakeAt === "number" && stored.tasks[0].wakeAt > Date.now() + 86_400_000, "the two-day wake time was lost")
    })

    it("getWorkflow shows each step's kind, the sleep's wake time and state, and the workflow waiting until then", async (t) => {
      const { storage, cleanup } = store.open()
      const runner = await startRunner(t, storage, [markRunner(new Map())])
      t.after(async () => {
        await runner.stop()
        await cleanup()
      })
      const reached = Date.now()
      await runner.addWorkflow({ workflowID: "shown", tasks: { first: { task: "Mark" }, nap: { sleep: "1h" }, later: { task: "Mark" } } })
      const info = await eventually(async () => {
        const w = await runner.getWorkflow("shown")
        return w?.tasks[1]?.wakeAt ? w : undefined
      }, 5_000, "the sleep to start")
      const nap = info.tasks[1]!
      const wakeAt = nap.wakeAt!.getTime()
      assert.ok(wakeAt >= reached + 3_600_000 && wakeAt < Date.now() + 3_600_000 + 1, "the wake time is an hour from when the step was reached")
      assert.deepEqual(
        info.tasks.map((s) => [s.name, s.kind, s.task, s.status, s.state]),
        [
          ["first", "task", "Mark", "completed", "completed"],
          ["nap", "sleep", "", "pending", `sleeping until ${new Date(wakeAt).toISOString()}`],
          ["later", "task", "Mark", "pending", "pending"],
        ],
      )
      assert.equal(info.tasks[2]?.wakeAt, null)
      assert.equal(info.state, "waiting")
      assert.equal(info.nextRunAt?.getTime(), wakeAt, "the workflow is claimable again at the wake time")
      assert.equal(info.lease, null)
    })
  })
}

describe("sleep steps: input checks", () => {
  const runner = new WorkflowRunner({ taskRunners: [markRunner(new Map())], storageProvider: new MemoryStorageProvider() })
  const refused = async (tasks: unknown, message: RegExp) => {
    await assert.rejects(runner.addWorkflow({ tasks } as never), (error: unknown) => error instanceof ValidationError && message.test(error.message))
  }

  it("refuses bad durations and dates with a message that says what is wrong", async () => {
    await refused({ nap: { sleep: "1 hour" } }, /sleep of step "nap" "1 hour" is not a duration: use milliseconds.*"90s"/)
    await refused({ nap: { sleep: "1w" } }, /is not a duration/)
    await refused({ nap: { sleep: -5 } }, /sleep of step "nap" must be a finite number of milliseconds >= 0/)
    await refused({ nap: { sleep: Number.NaN } }, /finite number of milliseconds/)
    await refused({ nap: { sleep: null } }, /must be milliseconds \(a number\) or a string/)
    await refused({ nap: { sleep: "200y" } }, /not a duration/)
    await refused({ nap: { sleep: 1e15 } }, /longer than 100 years/)
    await refused({ nap: { sleepUntil: "tomorrow" } }, /sleepUntil of step "nap" is not a valid point in time/)
    await refused({ nap: { sleepUntil: new Date(Number.NaN) } }, /not a valid point in time/)
    await refused({ nap: { sleepUntil: 1e17 } }, /out of the range of a Date/)
    await refused([{ name: "nap", sleepUntil: true }], /must be a Date, an ISO 8601 string or epoch milliseconds/)
  })

  it("refuses a step that is neither a task nor a known kind, or is two kinds at once", async () => {
    await refused({ odd: { wait: "1h" } }, /step "odd" is neither a task nor a step of a known kind.*\{ sleep: ms/)
    await refused([{ name: "odd" }], /step "odd" is neither a task nor a step of a known kind/)
    await refused({ both: { task: "Mark", sleep: "1h" } }, /step "both" has both "task" and "sleep"/)
    await refused({ both: { sleep: "1h", sleepUntil: new Date() } }, /has both "sleep" and "sleepUntil"/)
    await refused({ nap: { sleep: "1h", data: 1 } }, /is a sleep and takes no "data"/)
  })

  it("a provider without the waits capability refuses sleep steps before anything is written, and still takes tasks", async () => {
    const inner = new MemoryStorageProvider()
    const withoutWaits: StorageProvider = Object.create(inner, {
      capabilities: { value: { contract: 1, supports: ["crash-counts", "status-reads", "inspection"] } },
    }) as StorageProvider
    const plain = new WorkflowRunner({ taskRunners: [markRunner(new Map())], storageProvider: withoutWaits })
    await assert.rejects(
      plain.addWorkflow({ workflowID: "refused", tasks: { a: { task: "Mark" }, nap: { sleep: "1h" } } }),
      /the sleep step "nap" needs a storage provider with the "waits" capability/,
    )
    assert.equal(await plain.getWorkflow("refused"), null, "a refused workflow was written")
    assert.equal((await plain.addWorkflow({ workflowID: "tasks-only", tasks: { a: { task: "Mark" } } })).created, true)
  })

  it("a sleep whose stored definition cannot be read fails its workflow with an error saying so (not retried forever)", async (t) => {
    const storage = new MemoryStorageProvider()
    await storage.insertWorkflowsAndTasks([{ id: "damaged", now: Date.now(), tasks: [{ name: "nap", task: "", data: '{"sleep":"soon"}', kind: "sleep" }] }])
    const damaged = await startRunner(t, storage, [markRunner(new Map())])
    t.after(() => damaged.stop())
    const info = await eventually(
      async () => {
        const w = await damaged.getWorkflow("damaged")
        return w && w.status !== "pending" ? w : undefined
      },
      5_000,
      "the workflow with a damaged sleep to end",
    )
    assert.equal(info.status, "failed")
    assert.match(info.tasks[0]?.error ?? "", /step "nap" of workflow "damaged" is a sleep with a stored definition this durabletasks cannot read/)
  })

  it("a schedule's workflow may sleep: the stored definition keeps the step's kind", async (t) => {
    const storage = new MemoryStorageProvider()
    const scheduler = await startRunner(t, storage, [markRunner(new Map())])
    t.after(() => scheduler.stop())
    await scheduler.schedule({ id: "nightly", cron: "0 3 * * *", workflow: { tasks: { nap: { sleep: "1h" }, a: { task: "Mark" } } } })
    const fired = await scheduler.triggerSchedule("nightly")
    assert.ok(fired?.created)
    const info = await eventually(async () => {
      const w = await scheduler.getWorkflow(fired.id)
      return w?.tasks[0]?.wakeAt ? w : undefined
    }, 5_000, "the scheduled workflow's sleep to start")
    assert.deepEqual(info.tasks.map((s) => s.kind), ["sleep", "task"])
    assert.match(info.tasks[0]!.state, /^sleeping until /)
  })

  it("types: a typed runner takes sleep steps beside tasks and still checks task data", () => {
    const compileTimeChecks = async () => {
      await runner.addWorkflow({ tasks: { a: { task: "Mark" }, nap: { sleep: "90s" }, until: { sleepUntil: new Date() } } })
      await runner.addWorkflow({ tasks: [{ name: "nap", sleep: 5_000 }, { name: "a", task: "Mark" }] })
      // @ts-expect-error: not a duration
      await runner.addWorkflow({ tasks: { nap: { sleep: "1 hour" } } })
      // @ts-expect-error: a step is a task or a sleep, not both
      await runner.addWorkflow({ tasks: { nap: { sleep: "1h", task: "Mark" } } })
      // @ts-expect-error: no runner named Other, even beside a sleep
      await runner.addWorkflow({ tasks: { nap: { sleep: "1h" }, a: { task: "Other" } } })
    }
    assert.equal(typeof compileTimeChecks, "function")
  })
})

/** Resolves with `promise`, or fails saying what did not happen within `timeoutMS`. */
async function within<T>(promise: Promise<T>, timeoutMS: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMS} ms waiting for ${what}`)), timeoutMS)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
