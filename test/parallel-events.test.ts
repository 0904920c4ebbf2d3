/**
 * waitForEvent members of parallel steps (DESIGN §7), on every store: a wait
 * beside a task (the event wakes the parked workflow), two waits with
 * different keys and two waits for the same name (events sent in either
 * order, and before the step is reached: two different events taken),
 * timeouts ("continue" gives `{ timedOut: true }`, "fail" fails the workflow
 * and stops the other members), the deadline kept across a restart, and
 * cancel while waiting. The race across processes is in
 * parallel-events-race.test.ts.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowRunner, type TaskRunner } from "../src/index.js"
import { ALL_STORES, eventually, resultOf, startRunner } from "./helpers/runner.js"

/** A task that waits until the test releases it. */
function gate(released: Map<string, () => void>): TaskRunner<unknown, string, "Gate"> {
  return {
    Name: "Gate",
    Execute: async (ctx) => {
      await new Promise<void>((resolve) => released.set(ctx.workflowID, resolve))
      return { data: "passed" }
    },
  }
}

/** A task that runs until its signal fires, and records that it did. */
function untilStopped(stopped: Set<string>): TaskRunner<unknown, string, "UntilStopped"> {
  return {
    Name: "UntilStopped",
    Execute: (ctx) =>
      new Promise((_, reject) => {
        ctx.signal.addEventListener("abort", () => {
          stopped.add(ctx.workflowID)
          reject(new Error("stopped"))
        })
      }),
  }
}

const work: TaskRunner<number, number, "Work"> = { Name: "Work", Execute: async (ctx) => ({ data: ctx.data * 2 }) }

/** The parallel step at `tasks[0]` parked (no lease), with its member at `seq` waiting. */
async function parked(runner: WorkflowRunner, id: string, seq: number): Promise<void> {
  await eventually(
    async () => {
      const info = await runner.getWorkflow(id)
      return info?.lease === null && info.tasks[seq]?.status === "pending" && info.tasks[seq]?.state.startsWith("waiting") ? true : undefined
    },
    10_000,
    `${id} to park with member ${seq} waiting`,
  )
}

for (const store of ALL_STORES) {
  describe(`parallel waitForEvent members (${store.name})`, { skip: store.skip ?? false, timeout: 60_000 }, () => {
    it("a wait member beside a task member: the task runs, the workflow parks, the event wakes it; the result holds both", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, [work])
      const handle = await runner.addWorkflow({
        workflowID: "order",
        tasks: { both: { parallel: { paid: { waitForEvent: { name: "paid", key: "order" } }, ship: { task: "Work", data: 21 } } } },
      })
      await parked(runner, "order", 1)
      const info = await runner.getWorkflow("order")
      assert.equal(info?.tasks[2]?.status, "completed", "the task member ran while the wait member waited")
      assert.equal(info?.tasks[1]?.kind, "waitForEvent")
      const sent = await runner.sendEvent({ name: "paid", key: "order", payload: { amount: 5 }, eventID: "paid-1" })
      assert.equal(sent.woken, 1, "the send wakes the workflow parked at its parallel step")
      const done = await resultOf(handle)
      assert.equal(done.status, "completed")
      assert.deepEqual(done.tasks[0]?.result, {
        paid: { name: "paid", key: "order", payload: { amount: 5 }, eventID: "paid-1", sentAt: sent.sentAt.toISOString() },
        ship: 42,
      })
    })

    it("two wait members with different keys: events sent in reverse order while parked; each member takes its own", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, [work])
      const handle = await runner.addWorkflow({
        workflowID: "keys",
        tasks: { p: { parallel: { a: { waitForEvent: { name: "pay", key: "a" } }, b: { waitForEvent: { name: "pay", key: "b" } } } } },
      })
      await parked(runner, "keys", 2)
      assert.equal((await runner.sendEvent({ name: "pay", key: "b", payload: "B", eventID: "b" })).woken, 1)
      // The first event wakes the workflow: member b takes it, a waits again (the workflow parks again).
      await eventually(async () => ((await runner.getWorkflow("keys"))?.tasks[2]?.status === "completed" ? true : undefined), 10_000, "b to take its event")
      await parked(runner, "keys", 1)
      await runner.sendEvent({ name: "pay", key: "a", payload: "A", eventID: "a" })
      const done = await resultOf(handle)
      const result = done.tasks[0]?.result as Record<string, { payload: string; eventID: string }>
      assert.equal(result.a?.eventID, "a")
      assert.equal(result.b?.eventID, "b")
    })

    it("two wait members for the same name take two different events, sent before the step is reached", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const released = new Map<string, () => void>()
      const runner = await startRunner(t, storage, [gate(released)])
      const handle = await runner.addWorkflow({
        workflowID: "same",
        tasks: { before: { task: "Gate" }, p: { parallel: { x: { waitForEvent: { name: "tick" } }, y: { waitForEvent: { name: "tick" } } } } },
      })
      await eventually(() => (released.has("same") ? true : undefined), 10_000, "the gate")
      await runner.sendEvent({ name: "tick", payload: 1, eventID: "t1" })
      await runner.sendEvent({ name: "tick", payload: 2, eventID: "t2" })
      released.get("same")?.()
      const done = await resultOf(handle)
      assert.equal(done.status, "completed")
      const result = done.tasks[1]?.result as Record<string, { eventID: string }>
      assert.deepEqual([result.x?.eventID, result.y?.eventID], ["t1", "t2"], "each member takes its own event, in member order")
    })

    it("two wait members for the same name, parked: one event wakes one member, the next the other", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, [work])
      const handle = await runner.addWorkflow({
        workflowID: "same-parked",
        tasks: { p: { parallel: { x: { waitForEvent: { name: "tock" } }, y: { waitForEvent: { name: "tock" } } } } },
      })
      await parked(runner, "same-parked", 2)
      await runner.sendEvent({ name: "tock", payload: 1, eventID: "k1" })
      await eventually(async () => ((await runner.getWorkflow("same-parked"))?.tasks[1]?.status === "completed" ? true : undefined), 10_000, "x to take k1")
      await parked(runner, "same-parked", 2)
      assert.equal((await runner.sendEvent({ name: "tock", payload: 2, eventID: "k2" })).woken, 1)
      const done = await resultOf(handle)
      const result = done.tasks[0]?.result as Record<string, { eventID: string }>
      assert.deepEqual([result.x?.eventID, result.y?.eventID], ["k1", "k2"])
    })

    it("timeouts: 'continue' gives { timedOut: true } with the deadline kept across a restart; 'fail' fails the workflow and stops the other members", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const stopped = new Set<string>()
      const first = new WorkflowRunner({ taskRunners: [work, untilStopped(stopped)], storageProvider: storage, retryDelayMS: 10, pollIntervalMS: 50 })
      await first.recover()
      const timesOut = { workflowID: "times-out", tasks: { p: { parallel: { t: { waitForEvent: { name: "never", timeoutMS: 1_500 } }, w: { task: "Work" as const, data: 1 } } } } }
      await first.addWorkflow(timesOut)
      const deadline = await eventually(async () => (await first.getWorkflow("times-out"))?.tasks[1]?.wakeAt ?? undefined, 10_000, "the member's deadline")
      await parked(first, "times-out", 1)
      await first.stop({ timeoutMS: 1_000, closeStorage: false })
      const runner = await startRunner(t, storage, [work, untilStopped(stopped)])
      const fails = await runner.addWorkflow({
        workflowID: "fails",
        tasks: { p: { parallel: { t: { waitForEvent: { name: "never", key: "k", timeoutMS: 300, onTimeout: "fail" } }, long: { task: "UntilStopped" } } } },
      })
      const again = await runner.addWorkflow(timesOut)
      assert.equal(again.created, false)
      const continued = await resultOf(again)
      assert.equal(continued.status, "completed")
      assert.deepEqual(continued.tasks[0]?.result, { t: { timedOut: true }, w: 2 })
      assert.equal(continued.tasks[1]?.wakeAt?.getTime(), deadline.getTime(), "the deadline stored on first reach is kept by the runner that took over")
      assert.ok(Date.now() >= deadline.getTime(), "timed out before its deadline")

      const failed = await resultOf(fails)
      assert.equal(failed.status, "failed")
      assert.equal(failed.tasks[1]?.status, "failed")
      assert.match(failed.tasks[1]?.error ?? "", /timed out after 300 ms waiting for event "never" with key "k"/)
      assert.ok(stopped.has("fails"), "the other member's signal fired when the wait failed the workflow")
    })

    it("retryWorkflow after a wait member failed the workflow on timeout: the member waits anew and takes a later event", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, [work])
      const handle = await runner.addWorkflow({
        workflowID: "retry-wait",
        tasks: { p: { parallel: { go: { waitForEvent: { name: "late", timeoutMS: 800, onTimeout: "fail" } }, w: { task: "Work", data: 3 } } } },
      })
      const failed = await resultOf(handle)
      assert.equal(failed.status, "failed")
      assert.equal(failed.tasks[2]?.status, "completed")
      assert.equal(await runner.retryWorkflow("retry-wait"), true)
      // Right after the retry the member is pending with its old deadline: the run again stores a new one, counted from the retry.
      const old = failed.tasks[1]?.wakeAt?.getTime() ?? 0
      await eventually(async () => ((await runner.getWorkflow("retry-wait"))?.tasks[1]?.wakeAt?.getTime() ?? 0) > old ? true : undefined, 10_000, "a new deadline")
      await parked(runner, "retry-wait", 1)
      assert.equal((await runner.sendEvent({ name: "late", eventID: "late-1" })).woken, 1)
      const done = await eventually(async () => {
        const info = await runner.getWorkflow("retry-wait")
        return info?.status === "completed" ? info : undefined
      }, 10_000, "the retried workflow to complete")
      assert.deepEqual(Object.keys(done.tasks[0]?.result as object).sort(), ["go", "w"])
      assert.equal((done.tasks[0]?.result as { go: { eventID: string } }).go.eventID, "late-1")
    })

    it("cancelWorkflow while a member waits; a later event wakes nothing", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, [work])
      const handle = await runner.addWorkflow({
        workflowID: "cancel-wait",
        tasks: { p: { parallel: { go: { waitForEvent: { name: "go" } }, w: { task: "Work", data: 1 } } } },
      })
      await parked(runner, "cancel-wait", 1)
      assert.equal(await runner.cancelWorkflow("cancel-wait"), true)
      assert.equal((await resultOf(handle)).status, "cancelled")
      assert.equal((await runner.sendEvent({ name: "go" })).woken, 0, "a cancelled workflow must not be woken")
      await new Promise((resolve) => setTimeout(resolve, 200))
      const after = await runner.getWorkflow("cancel-wait")
      assert.equal(after?.status, "cancelled")
      assert.equal(after?.tasks[1]?.status, "pending")
    })
  })
}
