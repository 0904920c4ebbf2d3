/**
 * Events (DESIGN §7), on every store: `sendEvent` from a runner, a client and
 * a task's context, and the `waitForEvent` step in both forms of `tasks`:
 * results, timeouts (`onTimeout` "continue" and "fail"), cancel while
 * waiting, idempotent `eventID`, an event sent before the wait started,
 * two waits taking two events, broadcast, old events not matched, no slot
 * while waiting, and what `getWorkflow` shows. The race across processes is
 * in events-race.test.ts; SIGKILL while waiting in events-crash.test.ts.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { SerializationError, ValidationError, WorkflowClient, type TaskRunner } from "../src/index.js"
import { ALL_STORES, eventually, startRunner } from "./helpers/runner.js"
import { waitFor } from "./helpers/wait.js"

/** Returns the result of the step named in its data, so a test sees what a later task reads. */
const readStep: TaskRunner<string, unknown, "ReadStep"> = {
  Name: "ReadStep",
  Execute: (ctx) => ({ data: ctx.getTaskResult(ctx.data) ?? null }),
}

/** Sends the event its data describes, with an eventID derived from its idempotency key. */
const sendFromTask: TaskRunner<{ name: string; key: string; payload: unknown }, unknown, "SendFromTask"> = {
  Name: "SendFromTask",
  Execute: async (ctx) => {
    const sent = await ctx.sendEvent({ ...ctx.data, eventID: `sent-by-${ctx.idempotencyKey}` })
    return { data: { eventID: sent.eventID, created: sent.created } }
  },
}

/** A task that waits until the test releases it (by workflow ID). */
function gate(released: Map<string, () => void>, started: Set<string>): TaskRunner<unknown, string, "Gate"> {
  return {
    Name: "Gate",
    Execute: async (ctx) => {
      started.add(ctx.workflowID)
      await new Promise<void>((resolve) => released.set(ctx.workflowID, resolve))
      return { data: "passed" }
    },
  }
}

const RUNNERS = [readStep, sendFromTask] as const

for (const store of ALL_STORES) {
  describe(`events (${store.name})`, { skip: store.skip ?? false, timeout: 60_000 }, () => {
    it("an order waits for its payment event: the step's result is the event; a later task reads it; getWorkflow shows the wait", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS)
      const handle = await runner.addWorkflow({
        workflowID: "order-1",
        tasks: { payment: { waitForEvent: { name: "payment", key: "order-1" } }, read: { task: "ReadStep", data: "payment" } },
      })
      const waiting = await eventually(async () => {
        const info = await runner.getWorkflow("order-1")
        return info?.tasks[0]?.state.startsWith("waiting") ? info : undefined
      }, 5_000, "the wait to start")
      assert.equal(waiting.tasks[0]?.kind, "waitForEvent")
      assert.equal(waiting.tasks[0]?.state, 'waiting for event "payment" with key "order-1" (no timeout)')
      assert.equal(waiting.tasks[0]?.wakeAt, null, "a wait without a timeout has no deadline")
      assert.equal(waiting.state, "waiting", "a waiting workflow holds no lease")

      const sent = await runner.sendEvent({ name: "payment", key: "order-1", payload: { amount: 42 }, eventID: "pay-1" })
      assert.equal(sent.created, true)
      assert.equal(sent.eventID, "pay-1")
      assert.equal(sent.woken, 1)
      const info = await waitFor(handle.result(), { timeoutMS: 10_000, what: "the order to complete after its payment event" })
      assert.equal(info.status, "completed")
      const expected = { name: "payment", key: "order-1", payload: { amount: 42 }, eventID: "pay-1", sentAt: sent.sentAt.toISOString() }
      assert.deepEqual(info.tasks[0]?.result, expected)
      assert.deepEqual(info.tasks[1]?.result, expected, "a later task reads the event as the step's result")
      assert.equal(info.tasks[0]?.state, "completed")
    })

    it("array form with timeouts: onTimeout 'continue' (default) gives { timedOut: true }; 'fail' fails the workflow", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS)
      const started = Date.now()
      const goesOn = await runner.addWorkflow({
        workflowID: "times-out",
        tasks: [
          { name: "wait", waitForEvent: { name: "never", timeoutMS: 300 } },
          { name: "read", task: "ReadStep", data: "wait" },
        ],
      })
      const fails = await runner.addWorkflow({
        workflowID: "times-out-and-fails",
        tasks: [
          { name: "wait", waitForEvent: { name: "never", key: "k", timeoutMS: "300ms", onTimeout: "fail" } },
          { name: "read", task: "ReadStep", data: "wait" },
        ],
      })
      const deadline = await eventually(async () => (await runner.getWorkflow("times-out"))?.tasks[0]?.wakeAt ?? undefined, 5_000, "the deadline")
      assert.ok(deadline.getTime() >= started + 300)
      assert.match((await runner.getWorkflow("times-out"))?.tasks[0]?.state ?? "", /^waiting for event "never" until \d{4}-/)

      const continued = await waitFor(goesOn.result(), { timeoutMS: 10_000, what: "the 'continue' workflow to end" })
      assert.equal(continued.status, "completed")
      assert.deepEqual(continued.tasks[0]?.result, { timedOut: true })
      assert.deepEqual(continued.tasks[1]?.result, { timedOut: true })
      assert.ok(Date.now() - started >= 300, "timed out before its timeout")

      const failed = await waitFor(fails.result(), { timeoutMS: 10_000, what: "the 'fail' workflow to end" })
      assert.equal(failed.status, "failed")
      assert.equal(failed.tasks[0]?.status, "failed")
      assert.match(failed.tasks[0]?.error ?? "", /timed out after 300 ms waiting for event "never" with key "k"/)
      assert.equal(failed.tasks[1]?.status, "pending", "the step after a failed wait must not run")
    })

    it("cancelWorkflow works while waiting; a later event does not revive it", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS)
      const handle = await runner.addWorkflow({ workflowID: "cancelled", tasks: { wait: { waitForEvent: { name: "go" } }, read: { task: "ReadStep", data: "wait" } } })
      await eventually(async () => ((await runner.getWorkflow("cancelled"))?.tasks[0]?.state.startsWith("waiting") ? true : undefined), 5_000, "the wait")
      assert.equal(await runner.cancelWorkflow("cancelled"), true)
      assert.equal((await waitFor(handle.result(), { timeoutMS: 5_000, what: "result() of the cancelled workflow" })).status, "cancelled")
      const sent = await runner.sendEvent({ name: "go" })
      assert.equal(sent.woken, 0, "a cancelled workflow must not be woken")
      await new Promise((resolve) => setTimeout(resolve, 200))
      const after = await runner.getWorkflow("cancelled")
      assert.equal(after?.status, "cancelled")
      assert.equal(after?.tasks[0]?.status, "pending")
      assert.equal(after?.tasks[1]?.status, "pending")
    })

    it("sending is idempotent by eventID: a repeated send stores and delivers nothing more", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS)
      const handle = await runner.addWorkflow({
        workflowID: "twice",
        tasks: { first: { waitForEvent: { name: "tick" } }, second: { waitForEvent: { name: "tick", timeoutMS: 500 } } },
      })
      const one = await runner.sendEvent({ name: "tick", payload: 1, eventID: "tick-1" })
      const again = await runner.sendEvent({ name: "tick", payload: 2, eventID: "tick-1" })
      assert.equal(one.created, true)
      assert.equal(again.created, false, "a repeated eventID must report the event as existing")
      assert.equal(again.seq, one.seq)
      assert.equal(again.sentAt.getTime(), one.sentAt.getTime())
      const info = await waitFor(handle.result(), { timeoutMS: 10_000, what: "the workflow to end" })
      assert.deepEqual((info.tasks[0]?.result as { payload: unknown }).payload, 1)
      assert.deepEqual(info.tasks[1]?.result, { timedOut: true }, "a repeated send must not deliver a second event")
      assert.equal((await runner.listEvents({ name: "tick" })).length, 1)
    })

    it("an event sent after the workflow was added but before its wait started is taken", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const released = new Map<string, () => void>()
      const started = new Set<string>()
      const runner = await startRunner(t, storage, [...RUNNERS, gate(released, started)])
      const handle = await runner.addWorkflow({ workflowID: "early", tasks: { gate: { task: "Gate" }, wait: { waitForEvent: { name: "early", key: "e" } } } })
      await eventually(() => (started.has("early") ? true : undefined), 5_000, "the gate task to start")
      const sent = await runner.sendEvent({ name: "early", key: "e", payload: "before the wait" })
      assert.equal(sent.woken, 0, "nothing was waiting yet")
      released.get("early")?.()
      const info = await waitFor(handle.result(), { timeoutMS: 10_000, what: "the workflow to take the early event" })
      assert.equal(info.status, "completed")
      assert.equal((info.tasks[1]?.result as { eventID: string }).eventID, sent.eventID)
    })

    it("two waits for one name take two different events, in the order sent", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS)
      const handle = await runner.addWorkflow({
        workflowID: "two-waits",
        tasks: [
          { name: "a", waitForEvent: { name: "step" } },
          { name: "b", waitForEvent: { name: "step" } },
        ],
      })
      const first = await runner.sendEvent({ name: "step", payload: "first" })
      const second = await runner.sendEvent({ name: "step", payload: "second" })
      const info = await waitFor(handle.result(), { timeoutMS: 10_000, what: "both waits to take an event" })
      assert.deepEqual(
        info.tasks.map((s) => (s.result as { eventID: string; payload: string }).payload),
        ["first", "second"],
      )
      assert.deepEqual(
        info.tasks.map((s) => (s.result as { eventID: string }).eventID),
        [first.eventID, second.eventID],
      )
    })

    it("broadcast: one event wakes every workflow waiting for it; other keys stay waiting", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS)
      const handles = await Promise.all(
        ["b1", "b2", "b3"].map((id) => runner.addWorkflow({ workflowID: id, tasks: { wait: { waitForEvent: { name: "deploy", key: "v2" } } } })),
      )
      const other = await runner.addWorkflow({ workflowID: "b-other", tasks: { wait: { waitForEvent: { name: "deploy", key: "v3", timeoutMS: 1_500 } } } })
      await eventually(async () => {
        const infos = await Promise.all(["b1", "b2", "b3"].map((id) => runner.getWorkflow(id)))
        return infos.every((i) => i?.tasks[0]?.state.startsWith("waiting")) ? true : undefined
      }, 5_000, "the three waits to start")
      const sent = await runner.sendEvent({ name: "deploy", key: "v2", payload: "go" })
      assert.equal(sent.woken, 3)
      for (const h of handles) {
        const info = await waitFor(h.result(), { timeoutMS: 10_000, what: `${h.id} to receive the broadcast event` })
        assert.equal((info.tasks[0]?.result as { eventID: string }).eventID, sent.eventID)
      }
      const rest = await waitFor(other.result(), { timeoutMS: 10_000, what: "the waiter of another key to time out" })
      assert.deepEqual(rest.tasks[0]?.result, { timedOut: true }, "an event of another key must not match")
    })

    it("events sent before the workflow was added are not matched", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS)
      await runner.sendEvent({ name: "old", key: "k", payload: "stale" })
      const handle = await runner.addWorkflow({ workflowID: "late", tasks: { wait: { waitForEvent: { name: "old", key: "k", timeoutMS: 400 } } } })
      const info = await waitFor(handle.result(), { timeoutMS: 10_000, what: "the workflow to end" })
      assert.deepEqual(info.tasks[0]?.result, { timedOut: true }, "an event sent before the workflow was added was taken")
    })

    it("a waiting workflow holds no slot: with concurrency 1, other workflows run while it waits", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS, { concurrency: 1 })
      const waiter = await runner.addWorkflow({ workflowID: "holder", tasks: { wait: { waitForEvent: { name: "release" } } } })
      await eventually(async () => ((await runner.getWorkflow("holder"))?.tasks[0]?.state.startsWith("waiting") ? true : undefined), 5_000, "the wait")
      const others = await Promise.all([1, 2, 3].map((i) => runner.addWorkflow({ workflowID: `other-${i}`, tasks: { read: { task: "ReadStep", data: "x" } } })))
      for (const o of others) assert.equal((await waitFor(o.result(), { timeoutMS: 10_000, what: `${o.id} to run while another waits` })).status, "completed")
      await runner.sendEvent({ name: "release" })
      assert.equal((await waitFor(waiter.result(), { timeoutMS: 10_000, what: "the waiter to end" })).status, "completed")
    })

    it("a task's ctx.sendEvent wakes another workflow; a client on the same store sends too", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS)
      const waiter = await runner.addWorkflow({
        workflowID: "listener",
        tasks: [
          { name: "fromTask", waitForEvent: { name: "ping", key: "p" } },
          { name: "fromClient", waitForEvent: { name: "ping", key: "p" } },
        ],
      })
      await runner.addWorkflow({ workflowID: "sender", tasks: { send: { task: "SendFromTask", data: { name: "ping", key: "p", payload: "from a task" } } } })
      await eventually(async () => ((await runner.getWorkflow("listener"))?.tasks[0]?.status === "completed" ? true : undefined), 10_000, "the task's event")
      const client = new WorkflowClient({ storageProvider: storage })
      const sent = await client.sendEvent({ name: "ping", key: "p", payload: "from a client" })
      const info = await waitFor(waiter.result(), { timeoutMS: 10_000, what: "the listener to end" })
      assert.equal((info.tasks[0]?.result as { eventID: string }).eventID, "sent-by-sender:0")
      assert.deepEqual((info.tasks[1]?.result as { payload: unknown; eventID: string }).eventID, sent.eventID)
      await client.close({ closeStorage: false })
    })

    it("a schedule's workflow may wait for an event: the stored definition keeps the step's kind and event", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS)
      await runner.schedule({ id: "nightly", cron: "0 3 * * *", workflow: { tasks: { go: { waitForEvent: { name: "go-ahead" } } } } })
      const fired = await runner.triggerSchedule("nightly")
      assert.ok(fired?.created)
      await eventually(async () => ((await runner.getWorkflow(fired.id))?.tasks[0]?.state.startsWith("waiting") ? true : undefined), 5_000, "the wait")
      const sent = await runner.sendEvent({ name: "go-ahead" })
      const info = await waitFor(fired.result(), { timeoutMS: 10_000, what: "the scheduled workflow to take its event" })
      assert.equal((info.tasks[0]?.result as { eventID: string }).eventID, sent.eventID)
    })

    it("retryWorkflow after a wait timed out with onTimeout 'fail' waits anew, and takes an event sent then", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS)
      const handle = await runner.addWorkflow({ workflowID: "retried", tasks: { wait: { waitForEvent: { name: "late", timeoutMS: 200, onTimeout: "fail" } } } })
      assert.equal((await waitFor(handle.result(), { timeoutMS: 10_000, what: "the wait to time out" })).status, "failed")
      assert.equal(await runner.retryWorkflow("retried"), true)
      const waiting = await eventually(async () => {
        const info = await runner.getWorkflow("retried")
        // The resumed step keeps its error until the runner parks it again (with a new deadline).
        return info?.status === "pending" && info.tasks[0]?.error === null && info.tasks[0]?.state.startsWith("waiting") ? info : undefined
      }, 5_000, "the resumed wait to wait again")
      assert.ok((waiting.tasks[0]?.wakeAt?.getTime() ?? 0) > Date.now() - 100, "the resumed wait kept its old, passed deadline")
      const sent = await runner.sendEvent({ name: "late" })
      const info = await eventually(async () => {
        const w = await runner.getWorkflow("retried")
        return w?.status === "completed" ? w : undefined
      }, 10_000, "the resumed workflow to take the event")
      assert.equal((info.tasks[0]?.result as { eventID: string }).eventID, sent.eventID)
    })

    it("eventRetentionMS: the runner deletes events sent longer ago than that", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS, { eventRetentionMS: 100 })
      await runner.sendEvent({ name: "old", eventID: "to-expire" })
      assert.equal((await runner.listEvents()).length, 1)
      await eventually(async () => ((await runner.listEvents()).length === 0 ? true : undefined), 5_000, "the old event to be deleted")
    })

    it("bad input is refused to the caller, and nothing is stored", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const runner = await startRunner(t, storage, RUNNERS, { maxPayloadBytes: 1_000 })
      await assert.rejects(runner.sendEvent({ name: "" }), ValidationError)
      await assert.rejects(runner.sendEvent({ name: "n", key: "" }), ValidationError)
      await assert.rejects(runner.sendEvent({ name: "n\u0000" }), ValidationError)
      await assert.rejects(runner.sendEvent({ name: "n", payload: { big: 1n } }), SerializationError)
      await assert.rejects(runner.sendEvent({ name: "n", payload: "x".repeat(2_000) }), SerializationError)
      await assert.rejects(runner.sendEvent({ name: "n", eventID: 5 } as never), ValidationError)
      assert.deepEqual(await runner.listEvents(), [])
      const refuse = (tasks: unknown) => assert.rejects(runner.addWorkflow({ tasks } as never), ValidationError)
      await refuse({ w: { waitForEvent: {} } })
      await refuse({ w: { waitForEvent: { name: "n", timeoutMS: -1 } } })
      await refuse({ w: { waitForEvent: { name: "n", onTimeout: "retry" } } })
      await refuse({ w: { waitForEvent: { name: "n", nmae: "typo" } } })
      await refuse({ w: { waitForEvent: { name: "n" }, task: "ReadStep" } })
      await refuse([{ name: "w", waitForEvent: { name: "n" }, data: 1 }])
      assert.deepEqual(await runner.listWorkflows(), [])
    })
  })
}
