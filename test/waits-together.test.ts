/**
 * Where the waiting steps meet (DESIGN §7), on every store: a child workflow
 * that waits for an event (the event wakes the child, the child's end wakes
 * the parent, results flow up); a child's wait and events sent before the
 * child was added; cancelling a parent whose child waits for an event; a
 * parallel step of two waiting children and a sleep, events sent in either
 * order; a workflow that waits for an event, then a child, then sleeps, as
 * getWorkflow shows it along the way; a schedule's workflow with a child
 * step and a wait; retryWorkflow of a parent whose child (step or parallel
 * member) failed; and a parent whose ended child was deleted before it read
 * the child's result.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowClient, WorkflowRunner, type TaskRunner, type WorkflowInfo } from "../src/index.js"
import { ALL_STORES, eventually, openStore, resultOf, startRunner } from "./helpers/runner.js"
import { onTestEnd } from "./helpers/wait.js"

/** Returns what getTaskResult gives for the label in its data. */
const readStep: TaskRunner<string, unknown, "ReadStep"> = { Name: "ReadStep", Execute: async (ctx) => ({ data: ctx.getTaskResult(ctx.data) ?? null }) }
const echo: TaskRunner<unknown, string, "Echo"> = { Name: "Echo", Execute: async (ctx) => ({ data: `${ctx.workflowID}:${ctx.name}` }) }

/** A task that waits until the test opens it. */
function gate(): { runner: TaskRunner<unknown, string, "Gate">; open(): void } {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return {
    runner: {
      Name: "Gate",
      Execute: async () => {
        await opened
        return { data: "opened" }
      },
    },
    open,
  }
}

/** Aborts its workflow while `failing.on` is true, else returns "fixed". */
function flaky(failing: { on: boolean }): TaskRunner<unknown, string, "Flaky"> {
  return { Name: "Flaky", Execute: async () => (failing.on ? { abort: "workflow" } : { data: "fixed" }) }
}

/** Waits until step `label` of workflow `id` is in a state starting with `prefix`; returns the state. */
async function stateOf(runner: Pick<WorkflowRunner, "getWorkflow">, id: string, label: string, prefix: string): Promise<string> {
  return eventually(
    async () => {
      const state = (await runner.getWorkflow(id))?.tasks.find((s) => s.name === label)?.state
      return state?.startsWith(prefix) ? state : undefined
    },
    10_000,
    `step "${label}" of "${id}" to be "${prefix}…"`,
  )
}

/** The workflow once it has ended (read back until then). */
function endOf(runner: Pick<WorkflowRunner, "getWorkflow">, id: string): Promise<WorkflowInfo> {
  return eventually(
    async () => {
      const info = await runner.getWorkflow(id)
      return info && info.status !== "pending" ? info : undefined
    },
    10_000,
    `workflow "${id}" to end`,
  )
}

for (const store of ALL_STORES) {
  describe(`waits together (${store.name})`, { skip: store.skip ?? false, timeout: 90_000 }, () => {
    it("a child waits for an event: the event wakes the child, the child's end wakes the parent, the event flows up", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [readStep])
      const handle = await runner.addWorkflow({
        workflowID: "order",
        tasks: {
          payment: { workflow: { tasks: { paid: { waitForEvent: { name: "payment", key: "order" } } } } },
          after: { task: "ReadStep", data: "payment" },
        },
      })
      assert.equal(await stateOf(runner, "order/payment", "paid", "waiting"), 'waiting for event "payment" with key "order" (no timeout)')
      assert.equal(await stateOf(runner, "order", "payment", "waiting"), "waiting for child workflow order/payment")
      assert.equal((await runner.getWorkflow("order"))?.tasks[0]?.wakeAt, null, "a child step shows no wake time")
      const sent = await runner.sendEvent({ name: "payment", key: "order", payload: { amount: 42 }, eventID: "pay-1" })
      assert.equal(sent.woken, 1, "the event wakes the child (the parent waits for the child, not for the event)")
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      const event = { name: "payment", key: "order", payload: { amount: 42 }, eventID: "pay-1", sentAt: sent.sentAt.toISOString() }
      const expected = { id: "order/payment", status: "completed", results: { paid: event } }
      assert.deepEqual(info.tasks[0]?.result, expected)
      assert.deepEqual(info.tasks[1]?.result, expected, "a later step reads the child's result, with the event in it")
      assert.equal((await runner.getWorkflow("order/payment"))?.status, "completed")
    })

    it("a child's wait takes events sent after the child was added, not those sent while its parent ran earlier steps", async (t) => {
      const storage = openStore(t, store)
      const g = gate()
      const runner = await startRunner(t, storage, [g.runner])
      const handle = await runner.addWorkflow({
        workflowID: "late",
        tasks: { first: { task: "Gate" }, kid: { workflow: { tasks: { got: { waitForEvent: { name: "ping", key: "late" } } } } } },
      })
      await eventually(async () => (await runner.getWorkflow("late"))?.state === "running" || undefined, 10_000, "the parent to run its first step")
      assert.equal((await runner.sendEvent({ name: "ping", key: "late", payload: 1 })).woken, 0)
      g.open()
      await stateOf(runner, "late/kid", "got", "waiting for event")
      assert.equal((await runner.sendEvent({ name: "ping", key: "late", payload: 2 })).woken, 1)
      const info = await resultOf(handle)
      assert.equal((info.tasks[1]?.result as { results: { got: { payload: unknown } } }).results.got.payload, 2)
    })

    it("cancelling a parent while its child waits for an event cancels both; a later event wakes nothing", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [readStep])
      const handle = await runner.addWorkflow({
        workflowID: "p",
        tasks: { kid: { workflow: { tasks: { wait: { waitForEvent: { name: "go", key: "p" } } } } }, after: { task: "ReadStep", data: "kid" } },
      })
      await stateOf(runner, "p/kid", "wait", "waiting for event")
      await stateOf(runner, "p", "kid", "waiting for child")
      assert.equal(await runner.cancelWorkflow("p"), true)
      const info = await resultOf(handle)
      assert.equal(info.status, "cancelled")
      assert.equal((await runner.getWorkflow("p/kid"))?.status, "cancelled", "the waiting child is cancelled with its parent")
      const sent = await runner.sendEvent({ name: "go", key: "p" })
      assert.equal(sent.created, true)
      assert.equal(sent.woken, 0, "a cancelled child's wait takes no event")
      await new Promise((r) => setTimeout(r, 200))
      const child = await runner.getWorkflow("p/kid")
      assert.equal(child?.status, "cancelled")
      assert.equal(child?.tasks[0]?.status, "pending", "the cancelled wait took nothing")
      assert.equal((await runner.getWorkflow("p"))?.status, "cancelled")
    })

    for (const order of [["a", "b"], ["b", "a"]] as const) {
      it(`a parallel step of two children waiting for different events and a sleep: events sent ${order.join(" then ")}`, async (t) => {
        const storage = openStore(t, store)
        const runner = await startRunner(t, storage, [readStep])
        const id = `par-${order.join("")}`
        const handle = await runner.addWorkflow({
          workflowID: id,
          tasks: {
            all: {
              parallel: {
                a: { workflow: { tasks: { got: { waitForEvent: { name: "ev-a", key: id } } } } },
                b: { workflow: { tasks: { got: { waitForEvent: { name: "ev-b", key: id } } } } },
                nap: { sleep: 100 },
              },
            },
            after: { task: "ReadStep", data: "all" },
          },
        })
        await stateOf(runner, `${id}/a`, "got", "waiting for event")
        await stateOf(runner, `${id}/b`, "got", "waiting for event")
        const sent: Record<string, Date> = {}
        for (const which of order) {
          const s = await runner.sendEvent({ name: `ev-${which}`, key: id, payload: which, eventID: `${id}-${which}` })
          assert.equal(s.woken, 1, `event ${which} wakes child ${which}`)
          sent[which] = s.sentAt
          // The first child ends (and wakes the parent) before the second event: the parent parks again for the other.
          await eventually(async () => (await runner.getWorkflow(`${id}/${which}`))?.status === "completed", 10_000, `child ${which} to complete`)
        }
        const info = await resultOf(handle)
        assert.equal(info.status, "completed")
        const result = info.tasks[0]?.result as Record<string, { id: string; status: string; results: { got: { payload: unknown } } }>
        assert.deepEqual(Object.keys(result).sort(), ["a", "b", "nap"], "the parallel result has every member")
        for (const which of ["a", "b"] as const) {
          assert.equal(result[which]?.id, `${id}/${which}`)
          assert.equal(result[which]?.status, "completed")
          assert.deepEqual(result[which]?.results.got, {
            name: `ev-${which}`,
            key: id,
            payload: which,
            eventID: `${id}-${which}`,
            sentAt: sent[which]?.toISOString(),
          })
        }
        assert.ok("sleptUntil" in (result.nap as object))
        assert.deepEqual(info.tasks.find((s) => s.name === "after")?.result, result)
      })
    }

    it("wait for an event, then a child, then a sleep: getWorkflow shows each wait in turn, and the results", async (t) => {
      const storage = openStore(t, store)
      const g = gate()
      const runner = await startRunner(t, storage, [g.runner])
      const handle = await runner.addWorkflow({
        workflowID: "chain",
        tasks: {
          go: { waitForEvent: { name: "go", key: "chain", timeoutMS: "1h" } },
          kid: { workflow: { tasks: { work: { task: "Gate" } } } },
          nap: { sleep: "3s" },
        },
      })
      const waiting = await stateOf(runner, "chain", "go", "waiting for event")
      assert.match(waiting, /^waiting for event "go" with key "chain" until \d{4}-\d\d-\d\dT/)
      const during = await runner.getWorkflow("chain")
      assert.equal(during?.state, "waiting")
      assert.deepEqual(during?.tasks.map((s) => s.state).slice(1), ["pending", "pending"])
      const sent = await runner.sendEvent({ name: "go", key: "chain", payload: 1, eventID: "go-1" })
      assert.equal(sent.woken, 1)
      assert.equal(await stateOf(runner, "chain", "kid", "waiting"), "waiting for child workflow chain/kid")
      assert.equal((await runner.getWorkflow("chain"))?.tasks[0]?.state, "completed")
      g.open()
      const sleeping = await stateOf(runner, "chain", "nap", "sleeping until")
      const wakeAt = Date.parse(sleeping.slice("sleeping until ".length))
      assert.ok(wakeAt > Date.now() - 2_000, "the sleep counts from when it is reached")
      assert.equal((await runner.getWorkflow("chain"))?.tasks[1]?.state, "completed")
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      assert.deepEqual(info.tasks[0]?.result, { name: "go", key: "chain", payload: 1, eventID: "go-1", sentAt: sent.sentAt.toISOString() })
      assert.deepEqual(info.tasks[1]?.result, { id: "chain/kid", status: "completed", results: { work: "opened" } })
      assert.deepEqual(info.tasks[2]?.result, { sleptUntil: new Date(wakeAt).toISOString() })
      assert.deepEqual(info.tasks.map((s) => s.kind), ["waitForEvent", "workflow", "sleep"])
    })

    it("a schedule's workflow with a child step and a wait: the tick stores the step kinds, the child links to the tick", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [echo, readStep])
      await runner.schedule({
        id: "nightly",
        cron: "0 3 1 1 *",
        workflow: {
          tasks: {
            kid: { workflow: { tasks: { one: { task: "Echo" } } } },
            go: { waitForEvent: { name: "nightly-go", key: "k" } },
            after: { task: "ReadStep", data: "kid" },
          },
        },
      })
      const handle = await runner.triggerSchedule("nightly")
      assert.ok(handle)
      await stateOf(runner, handle.id, "go", "waiting for event")
      const stored = await storage.getWorkflow(handle.id)
      assert.deepEqual(stored?.tasks.map((s) => s.kind ?? "task"), ["workflow", "waitForEvent", "task"])
      const childID = `${handle.id}/kid`
      assert.equal((await storage.getWorkflow(childID))?.workflow.parentID, handle.id, "the tick's child links to the tick")
      assert.equal((await runner.sendEvent({ name: "nightly-go", key: "k" })).woken, 1, "the tick's wait is found by the event")
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      const expected = { id: childID, status: "completed", results: { one: `${childID}:one` } }
      assert.deepEqual(info.tasks[0]?.result, expected)
      assert.deepEqual(info.tasks[2]?.result, expected)
    })

    it("retryWorkflow of a parent whose child failed retries the child too, and the parent completes", async (t) => {
      const storage = openStore(t, store)
      const failing = { on: true }
      const runner = await startRunner(t, storage, [flaky(failing), readStep])
      const handle = await runner.addWorkflow({
        workflowID: "rp",
        tasks: { kid: { workflow: { tasks: { fix: { task: "Flaky" } } } }, after: { task: "ReadStep", data: "kid" } },
      })
      const failed = await resultOf(handle)
      assert.equal(failed.status, "failed")
      assert.match(failed.tasks[0]?.error ?? "", /child workflow "rp\/kid" failed/)
      assert.equal((await runner.getWorkflow("rp/kid"))?.status, "failed")
      failing.on = false
      assert.equal(await runner.retryWorkflow("rp"), true)
      const info = await endOf(runner, "rp")
      assert.equal(info.status, "completed", "the retried parent finds its child retried, not failed again")
      assert.deepEqual(info.tasks[0]?.result, { id: "rp/kid", status: "completed", results: { fix: "fixed" } })
      assert.equal((await runner.getWorkflow("rp/kid"))?.status, "completed")
    })

    it("retryWorkflow of a parent whose parallel member child failed retries that child, and the parallel step completes", async (t) => {
      const storage = openStore(t, store)
      const failing = { on: true }
      const runner = await startRunner(t, storage, [flaky(failing), echo])
      const handle = await runner.addWorkflow({
        workflowID: "rpp",
        tasks: { all: { parallel: { bad: { workflow: { tasks: { fix: { task: "Flaky" } } } }, good: { task: "Echo" } } } },
      })
      assert.equal((await resultOf(handle)).status, "failed")
      failing.on = false
      assert.equal(await runner.retryWorkflow("rpp"), true)
      const info = await endOf(runner, "rpp")
      assert.equal(info.status, "completed")
      assert.deepEqual(info.tasks[0]?.result, { bad: { id: "rpp/bad", status: "completed", results: { fix: "fixed" } }, good: "rpp:good" })
    })

    it("retryWorkflow of a parallel step whose two child members failed retries both children; the step's result has both", async (t) => {
      const storage = openStore(t, store)
      const failing = { on: true }
      const runner = await startRunner(t, storage, [flaky(failing)])
      const child = { workflow: { tasks: { fix: { task: "Flaky" as const } } } }
      const handle = await runner.addWorkflow({ workflowID: "two", tasks: { all: { parallel: { a: child, b: child } } } })
      assert.equal((await resultOf(handle)).status, "failed")
      // Both children fail; whether the parent saw one or both failed when it ended, one retry must bring both back.
      await eventually(async () => (await runner.getWorkflow("two/a"))?.status === "failed" && (await runner.getWorkflow("two/b"))?.status === "failed", 10_000, "both children to fail")
      failing.on = false
      assert.equal(await runner.retryWorkflow("two"), true)
      const info = await endOf(runner, "two")
      assert.equal(info.status, "completed", JSON.stringify(info.tasks.map((s) => [s.name, s.status, s.error])))
      assert.deepEqual(info.tasks[0]?.result, {
        a: { id: "two/a", status: "completed", results: { fix: "fixed" } },
        b: { id: "two/b", status: "completed", results: { fix: "fixed" } },
      })
    })

    for (const form of ["step", "parallel member"] as const) {
      it(`a parent whose ended child (${form}) was deleted before it read the result fails, naming the child, instead of adding it again`, async (t) => {
        const storage = openStore(t, store)
        const first = new WorkflowRunner({ taskRunners: [], storageProvider: storage, retryDelayMS: 10, pollIntervalMS: 50 })
        onTestEnd(t, "stop the first runner", () => first.stop({ timeoutMS: 200, closeStorage: false }))
        await first.recover()
        const kid = { workflow: { tasks: { wait: { waitForEvent: { name: "never" } } } } }
        await first.addWorkflow({ workflowID: "gone", tasks: form === "step" ? { kid } : { all: { parallel: { kid, nap: { sleep: 1 } } } } })
        await stateOf(first, "gone/kid", "wait", "waiting for event")
        await stateOf(first, "gone", form === "step" ? "kid" : "all", "waiting for")
        await first.stop({ closeStorage: false })
        // No runner: the child ends (cancelled, which wakes the parent) and is purged before the parent runs again.
        const client = new WorkflowClient({ storageProvider: storage })
        assert.equal(await client.cancelWorkflow("gone/kid"), true)
        await eventually(async () => (await client.deleteEndedWorkflows(0)) > 0 || undefined, 5_000, "the ended child to be deleted")
        assert.equal(await client.getWorkflow("gone/kid"), null)
        const runner = await startRunner(t, storage, [])
        const info = await endOf(runner, "gone")
        assert.equal(info.status, "failed")
        assert.match(info.tasks.find((s) => s.name === "kid")?.error ?? "", /child workflow "gone\/kid".*deleted/)
        assert.equal(await runner.getWorkflow("gone/kid"), null, "the child is not added again")
      })
    }
  })
}
