/**
 * Parallel steps (DESIGN §7), on every store: members run at once (timing),
 * the step's result is `{ label: result }` and `getTaskResult(label)` reads a
 * member; each member keeps its own attempts; a member that aborts the
 * workflow fires the others' signals; a waiting member (a sleep, a child)
 * parks the workflow once the others are done; typed runners check members.
 * The kill case is in parallel-crash.test.ts.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, WorkflowRunner, defineTask, type TaskRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { ALL_STORES, eventually, openStore, resultOf, startRunner, stopOnEnd } from "./helpers/runner.js"

const WORK_MS = 400

/** Works WORK_MS, recording when each run started and ended. */
function worker(log: Array<{ name: string; start: number; end: number }>): TaskRunner<unknown, string, "Work"> {
  return {
    Name: "Work",
    Execute: async (ctx) => {
      const start = Date.now()
      await new Promise((r) => setTimeout(r, WORK_MS))
      log.push({ name: ctx.name, start, end: Date.now() })
      return { data: `${ctx.name} done` }
    },
  }
}
const read: TaskRunner<string, unknown, "Read"> = { Name: "Read", Execute: async (ctx) => ({ data: ctx.getTaskResult(ctx.data) ?? null }) }

for (const store of ALL_STORES) {
  describe(`parallel steps (${store.name})`, { skip: store.skip ?? false, timeout: 60_000 }, () => {
    it("members run at once; the step's result is { label: result }; getTaskResult reads a member and the step", async (t) => {
      const storage = openStore(t, store)
      const log: Array<{ name: string; start: number; end: number }> = []
      const runner = await startRunner(t, storage, [worker(log), read], { concurrency: 1 })
      const handle = await runner.addWorkflow({
        workflowID: "fan",
        tasks: {
          fetch: { parallel: { a: { task: "Work" }, b: { task: "Work" }, c: { task: "Work" } } },
          one: { task: "Read", data: "b" },
          all: { task: "Read", data: "fetch" },
        },
      })
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      const expected = { a: "a done", b: "b done", c: "c done" }
      assert.equal(info.tasks[0]?.kind, "parallel")
      assert.deepEqual(info.tasks[0]?.result, expected)
      assert.deepEqual(info.tasks.map((s) => s.name), ["fetch", "a", "b", "c", "one", "all"])
      assert.equal(info.tasks[4]?.result, "b done")
      assert.deepEqual(info.tasks[5]?.result, expected)
      // One slot (concurrency 1), three members of WORK_MS each: at once, not one after another.
      const latestStart = Math.max(...log.map((l) => l.start))
      const earliestEnd = Math.min(...log.map((l) => l.end))
      assert.ok(latestStart < earliestEnd, `members did not overlap: ${JSON.stringify(log)}`)
      // The members' own span (one after another: at least 3 × WORK_MS), not the whole workflow's, whose store writes a loaded machine slows.
      const span = Math.max(...log.map((l) => l.end)) - Math.min(...log.map((l) => l.start))
      assert.ok(span < 3 * WORK_MS, `three members of ${WORK_MS} ms took ${span} ms from the first start to the last end`)
    })

    it("each member keeps its own attempts; a member aborting only itself leaves no result and the step completes", async (t) => {
      const storage = openStore(t, store)
      let flaky = 0
      const runners = [
        { Name: "Flaky", retry: { maxAttempts: 3, delayMS: 10 }, Execute: async () => (++flaky < 3 ? Promise.reject(new Error(`flake ${flaky}`)) : { data: "steady" }) },
        { Name: "Skip", Execute: async () => ({ abort: "task" as const }) },
        { Name: "Ok", Execute: async () => ({ data: "ok" }) },
      ] satisfies TaskRunner[]
      const runner = await startRunner(t, storage, runners)
      const info = await resultOf(await runner.addWorkflow({ workflowID: "attempts", tasks: { p: { parallel: { f: { task: "Flaky" }, s: { task: "Skip" }, o: { task: "Ok" } } } } }))
      assert.equal(info.status, "completed")
      assert.deepEqual(info.tasks[0]?.result, { f: "steady", o: "ok" })
      assert.deepEqual(
        info.tasks.slice(1).map((s) => [s.name, s.status, s.attempts]),
        [
          ["f", "completed", 2],
          ["s", "failed", 0],
          ["o", "completed", 0],
        ],
      )
    })

    it("a member that aborts the workflow fires the other members' signals; the workflow fails and the next step never runs", async (t) => {
      const storage = openStore(t, store)
      let otherSignalled = false
      const runners = [
        { Name: "Boom", Execute: async () => (await new Promise((r) => setTimeout(r, 100)), { abort: "workflow" as const }) },
        {
          Name: "Long",
          Execute: async (ctx) => {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, 20_000)
              ctx.signal.addEventListener("abort", () => {
                otherSignalled = true
                clearTimeout(timer)
                resolve()
              })
            })
            throw new Error("stopped")
          },
        },
        { Name: "After", Execute: async () => ({ data: "ran" }) },
      ] satisfies TaskRunner[]
      const runner = await startRunner(t, storage, runners)
      const started = Date.now()
      const info = await resultOf(await runner.addWorkflow({ workflowID: "abort", tasks: { p: { parallel: { boom: { task: "Boom" }, long: { task: "Long" } } }, after: { task: "After" } } }))
      assert.equal(info.status, "failed")
      assert.ok(otherSignalled, "the other member's signal was not fired")
      assert.ok(Date.now() - started < 10_000, "the workflow waited for the other member instead of stopping it")
      assert.match(info.tasks[0]?.error ?? "", /member "boom"/)
      assert.equal(info.tasks[1]?.status, "failed")
      assert.equal(info.tasks[2]?.attempts, 0, "an interrupted member must not count an attempt")
      assert.equal(info.tasks[3]?.status, "pending", "the step after a failed parallel step ran")
    })

    it("a waiting member parks the workflow (no lease) once the others are done; sleeps and children finish the step", async (t) => {
      const storage = openStore(t, store)
      const log: Array<{ name: string; start: number; end: number }> = []
      const runner = await startRunner(t, storage, [worker(log)])
      const handle = await runner.addWorkflow({
        workflowID: "mixed",
        // The nap outlasts the task member by far, so the park is seen while it sleeps even on a loaded machine.
        tasks: { p: { parallel: { work: { task: "Work" }, nap: { sleep: 3_000 }, kid: { workflow: { tasks: { k: { task: "Work" } } } } } } },
      })
      const parked = await eventually(
        async () => {
          const w = await runner.getWorkflow("mixed")
          // Parked ("waiting": unleased, not claimable yet), not merely unleased: the child's end (its task is as long as the
          // member's) may have just woken the workflow, queued for its next claim, which shows its steps "pending".
          return w?.tasks[1]?.status === "completed" && w.state === "waiting" ? w : undefined
        },
        10_000,
        "the task member to end and the workflow to park",
      )
      assert.equal(parked.tasks[0]?.state, "waiting for its members")
      assert.match(parked.tasks[2]?.state ?? "", /^sleeping until /)
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      const result = info.tasks[0]?.result as Record<string, unknown>
      assert.deepEqual(Object.keys(result).sort(), ["kid", "nap", "work"])
      assert.deepEqual(result["kid"], { id: "mixed/kid", status: "completed", results: { k: "k done" } })
      assert.equal(log.filter((l) => l.name === "work").length, 1, "a member that had ended ran again after the park")
    })

    it("retryWorkflow after a member failed the workflow runs that member again (not the others) and completes the step", async (t) => {
      const storage = openStore(t, store)
      const runs: string[] = []
      let failing = true
      const runners = [
        { Name: "Once", Execute: async (ctx) => (runs.push(ctx.name), failing ? { abort: "workflow" as const } : { data: "fixed" }) },
        { Name: "Ok", Execute: async (ctx) => (runs.push(ctx.name), { data: "ok" }) },
      ] satisfies TaskRunner[]
      const runner = await startRunner(t, storage, runners)
      const first = await resultOf(await runner.addWorkflow({ workflowID: "retry-par", tasks: { p: { parallel: { bad: { task: "Once" }, good: { task: "Ok" } } }, next: { task: "Ok" } } }))
      assert.equal(first.status, "failed")
      failing = false
      assert.equal(await runner.retryWorkflow("retry-par"), true)
      const info = await eventually(async () => {
        const w = await runner.getWorkflow("retry-par")
        return w?.status === "completed" ? w : undefined
      }, 10_000, "the retried workflow to complete")
      assert.deepEqual(info.tasks[0]?.result, { bad: "fixed", good: "ok" })
      assert.deepEqual(runs.sort(), ["bad", "bad", "good", "next"], "a member that had completed ran again, or the failed one did not")
    })

    it("cancelWorkflow while a member sleeps cancels the workflow and its pending children", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [worker([])])
      const handle = await runner.addWorkflow({
        workflowID: "cancel-par",
        tasks: { p: { parallel: { nap: { sleep: "1h" }, kid: { workflow: { tasks: { n: { sleep: "1h" } } } } } } },
      })
      await eventually(async () => (await runner.getWorkflow("cancel-par/kid"))?.tasks[0]?.state.startsWith("sleeping"), 10_000, "the child to sleep")
      await eventually(async () => (await runner.getWorkflow("cancel-par"))?.lease === null, 10_000, "the parent to park")
      assert.equal(await runner.cancelWorkflow("cancel-par"), true)
      assert.equal((await resultOf(handle)).status, "cancelled")
      assert.equal((await runner.getWorkflow("cancel-par/kid"))?.status, "cancelled")
    })
  })
}

describe("parallel steps: checks", () => {
  it("refuses empty, nested and clashing members before anything is written", async (t) => {
    const runner = new WorkflowRunner({ taskRunners: [read], storageProvider: new MemoryStorageProvider() })
    stopOnEnd(t, runner)
    const bad: Array<[unknown, RegExp]> = [
      [{ p: { parallel: {} } }, /has no members/],
      [{ p: { parallel: [] } }, /must be \{ parallel: \{ label: step/],
      [{ p: { parallel: { q: { parallel: { a: { task: "Read" } } } } } }, /itself parallel/],
      [{ p: { parallel: { paid: { waitForEvent: { name: "paid" } }, kid: { workflow: { tasks: { r: { task: "Read" } } } } } } }, /"paid".*and a child workflow member \("kid"\)/],
      [{ p: { parallel: { paid: { waitForEvent: { name: "paid", nope: 1 } } } } }, /waitForEvent of step "paid": unknown option "nope"/],
      [{ a: { task: "Read" }, p: { parallel: { a: { task: "Read" } } } }, /two steps labelled "a"/],
      [{ p: { parallel: { a: { task: "Nope" } } } }, /not registered/],
      [{ p: { parallel: { a: { task: "Read" } }, task: "Read" } }, /both "parallel" and "task"/],
    ]
    for (const [tasks, message] of bad) await assert.rejects(runner.addWorkflow({ tasks } as never), (e: unknown) => e instanceof ValidationError && message.test(e.message))
    assert.deepEqual(await runner.listWorkflows(), [])
  })

  it("typed runners check members at compile time", async (t) => {
    const double = defineTask<number, number>()({ Name: "Double", Execute: async (ctx) => ({ data: ctx.data * 2 }) })
    const runner = new WorkflowRunner({ taskRunners: [double], storageProvider: new MemoryStorageProvider() })
    stopOnEnd(t, runner)
    await runner.recover()
    const compileTimeChecks = async () => {
      // @ts-expect-error: Double takes a number, also as a member
      await runner.addWorkflow({ tasks: { p: { parallel: { a: { task: "Double", data: "2" } } } } })
      // @ts-expect-error: a parallel step is no member of another
      await runner.addWorkflow({ tasks: { p: { parallel: { q: { parallel: { a: { task: "Double", data: 2 } } } } } } })
    }
    void compileTimeChecks
    const info = await resultOf(await runner.addWorkflow({ tasks: [{ name: "p", parallel: { a: { task: "Double", data: 2 }, b: { task: "Double", data: 5 } } }] }))
    assert.deepEqual(info.tasks[0]?.result, { a: 4, b: 10 })
  })
})
