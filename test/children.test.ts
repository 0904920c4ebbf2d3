/**
 * Child workflow steps (DESIGN §7), on every store: the step's result is the
 * child's `{ id, status, results }`; a failed or cancelled child fails the
 * parent unless `onFailure: "continue"`; cancelling a parent cancels its
 * pending descendants; a waiting parent holds no lease and no slot, and the
 * child's end wakes it without a poll; a re-run of the step never adds a
 * second child; typed runners check the child's steps too. The kill cases
 * are in children-crash.test.ts.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, WorkflowRunner, defineTask, type TaskRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { FaultInjectingStorage } from "../src/testing/faults.js"
import type { AwaitChildren, NewWorkflow, StorageProvider } from "../src/storage/provider.js"
import { ALL_STORES, eventually, openStore, resultOf, startRunner, stopOnEnd } from "./helpers/runner.js"

const echo: TaskRunner<unknown, string, "Echo"> = { Name: "Echo", Execute: async (ctx) => ({ data: `${ctx.workflowID}:${ctx.name}` }) }
const abort: TaskRunner<unknown, never, "Abort"> = { Name: "Abort", Execute: async () => ({ abort: "workflow" }) }
/** Returns what getTaskResult gives for the label in its data. */
const readBack: TaskRunner<string, unknown, "ReadBack"> = { Name: "ReadBack", Execute: async (ctx) => ({ data: ctx.getTaskResult(ctx.data) ?? null }) }

/** A runner whose task waits until `release()` is called. */
function gate(): { runner: TaskRunner<unknown, string, "Gate">; release(): void; started: Promise<void> } {
  let release!: () => void
  let started!: () => void
  const open = new Promise<void>((resolve) => (release = resolve))
  const startedPromise = new Promise<void>((resolve) => (started = resolve))
  return {
    runner: {
      Name: "Gate",
      Execute: async () => {
        started()
        await open
        return { data: "opened" }
      },
    },
    release,
    started: startedPromise,
  }
}

for (const store of ALL_STORES) {
  describe(`child workflow steps (${store.name})`, { skip: store.skip ?? false, timeout: 60_000 }, () => {
    it("object form: the child runs as its own workflow; the step's result is { id, status, results }, readable by label", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [echo, readBack])
      const handle = await runner.addWorkflow({
        workflowID: "order",
        tasks: {
          prep: { task: "Echo" },
          ship: { workflow: { tasks: { pack: { task: "Echo" }, label: { task: "Echo" } } } },
          after: { task: "ReadBack", data: "ship" },
        },
      })
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      const expected = { id: "order/ship", status: "completed", results: { pack: "order/ship:pack", label: "order/ship:label" } }
      assert.equal(info.tasks[1]?.kind, "workflow")
      assert.deepEqual(info.tasks[1]?.result, expected)
      assert.deepEqual(info.tasks[2]?.result, expected, "getTaskResult(label) reads the child's result")
      const child = await runner.getWorkflow("order/ship")
      assert.equal(child?.status, "completed")
      assert.equal((await storage.getWorkflow("order/ship"))?.workflow.parentID, "order")
    })

    it("array form with a given workflowID, and a grandchild: results nest", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [echo])
      const handle = await runner.addWorkflow({
        workflowID: "root",
        tasks: [
          {
            name: "mid",
            workflow: {
              workflowID: "given-id",
              tasks: [
                { name: "one", task: "Echo" },
                { name: "deep", workflow: { tasks: [{ name: "leaf", task: "Echo" }] } },
              ],
            },
          },
        ],
      })
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      assert.deepEqual(info.tasks[0]?.result, {
        id: "given-id",
        status: "completed",
        results: {
          one: "given-id:one",
          deep: { id: "given-id/deep", status: "completed", results: { leaf: "given-id/deep:leaf" } },
        },
      })
    })

    it("a child that fails fails its parent; the step's error names the child and its failed step", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [echo, abort])
      const handle = await runner.addWorkflow({
        workflowID: "failing",
        tasks: { kid: { workflow: { tasks: { boom: { task: "Abort" } } } }, never: { task: "Echo" } },
      })
      const info = await resultOf(handle)
      assert.equal(info.status, "failed")
      assert.equal(info.tasks[0]?.status, "failed")
      assert.match(info.tasks[0]?.error ?? "", /child workflow "failing\/kid" failed: step "boom"/)
      assert.equal(info.tasks[1]?.status, "pending", "the step after a failed child must not run")
      assert.equal((await runner.getWorkflow("failing/kid"))?.status, "failed")
    })

    it('onFailure: "continue": a failed child is the step\'s result and the parent goes on', async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [echo, abort])
      const handle = await runner.addWorkflow({
        workflowID: "tolerant",
        tasks: {
          kid: { workflow: { tasks: { ok: { task: "Echo" }, boom: { task: "Abort" } }, onFailure: "continue" } },
          next: { task: "Echo" },
        },
      })
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      assert.deepEqual(info.tasks[0]?.result, { id: "tolerant/kid", status: "failed", results: { ok: "tolerant/kid:ok" } })
      assert.equal(info.tasks[1]?.result, "tolerant:next")
    })

    it("a cancelled child fails its parent; cancelling a parent cancels its pending children and theirs", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [echo])
      const one = await runner.addWorkflow({ workflowID: "p1", tasks: { kid: { workflow: { tasks: { nap: { sleep: "1h" } } } } } })
      await eventually(async () => (await runner.getWorkflow("p1/kid"))?.tasks[0]?.state.startsWith("sleeping"), 10_000, "the child to sleep")
      assert.equal(await runner.cancelWorkflow("p1/kid"), true)
      const failed = await resultOf(one)
      assert.equal(failed.status, "failed")
      assert.match(failed.tasks[0]?.error ?? "", /child workflow "p1\/kid" cancelled/)

      const two = await runner.addWorkflow({
        workflowID: "p2",
        tasks: { kid: { workflow: { tasks: { grandkid: { workflow: { tasks: { nap: { sleep: "1h" } } } } } } } },
      })
      await eventually(async () => (await runner.getWorkflow("p2/kid/grandkid"))?.tasks[0]?.state.startsWith("sleeping"), 10_000, "the grandchild to sleep")
      const parent = await runner.getWorkflow("p2")
      assert.equal(parent?.tasks[0]?.state, "waiting for child workflow p2/kid")
      assert.equal(parent?.lease, null, "a parent waiting for its child must hold no lease")
      assert.equal(parent?.nextRunAt, null, "a parent waiting only for its child has no time to run at")
      assert.equal(await runner.cancelWorkflow("p2"), true)
      assert.equal((await resultOf(two)).status, "cancelled")
      assert.equal((await runner.getWorkflow("p2/kid"))?.status, "cancelled")
      assert.equal((await runner.getWorkflow("p2/kid/grandkid"))?.status, "cancelled")
    })

    it("a waiting parent holds no slot: with concurrency 1, parent and child both run; the child's end wakes the parent without a poll", async (t) => {
      const storage = openStore(t, store)
      const g = gate()
      // A poll of a minute: the parent must be woken by the child's end, not found by a poll.
      const runner = await startRunner(t, storage, [echo, g.runner], { concurrency: 1, pollIntervalMS: 60_000 })
      const handle = await runner.addWorkflow({ workflowID: "slot", tasks: { kid: { workflow: { tasks: { wait: { task: "Gate" } } } }, after: { task: "Echo" } } })
      await g.started
      const parent = await runner.getWorkflow("slot")
      assert.equal(parent?.lease, null)
      const releasedAt = Date.now()
      g.release()
      const info = await resultOf(handle, 5_000)
      assert.equal(info.status, "completed")
      const woke = info.tasks[1]!.updatedAt.getTime() - releasedAt
      assert.ok(woke < 3_000, `the parent went on ${woke} ms after its child ended`)
    })

    it("cancelling a child through the runner wakes its parent here at once, not at the next poll", async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [echo], { pollIntervalMS: 60_000 })
      const handle = await runner.addWorkflow({ workflowID: "cw", tasks: { kid: { workflow: { tasks: { nap: { sleep: "1h" } } } } } })
      await eventually(async () => (await runner.getWorkflow("cw"))?.tasks[0]?.state.startsWith("waiting for child"), 10_000, "the parent to wait")
      const cancelledAt = Date.now()
      assert.equal(await runner.cancelWorkflow("cw/kid"), true)
      const info = await resultOf(handle, 5_000)
      assert.equal(info.status, "failed")
      assert.ok(info.updatedAt.getTime() - cancelledAt < 3_000, `the parent ended ${info.updatedAt.getTime() - cancelledAt} ms after its child was cancelled`)
    })

    it("a re-run of the step never adds a second child (the first park failed after the child was added)", async (t) => {
      const inner = openStore(t, store)
      const inserted: string[] = []
      let failAwait = 1
      const storage: StorageProvider = Object.create(inner) as StorageProvider
      storage.close = async () => {} // openStore closes the inner store
      storage.insertWorkflowsAndTasks = async (workflows: NewWorkflow[]) => {
        const created = await inner.insertWorkflowsAndTasks(workflows)
        workflows.forEach((w, i) => created[i] && inserted.push(w.id))
        return created
      }
      storage.awaitChildren = async (park: AwaitChildren) => {
        if (failAwait-- > 0) throw new Error("connection reset (test)")
        return (inner.awaitChildren as NonNullable<StorageProvider["awaitChildren"]>).call(inner, park)
      }
      const runner = await startRunner(t, storage, [echo])
      const handle = await runner.addWorkflow({ workflowID: "again", tasks: { kid: { workflow: { tasks: { x: { task: "Echo" } } } } } })
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      assert.deepEqual(info.tasks[0]?.result, { id: "again/kid", status: "completed", results: { x: "again/kid:x" } })
      assert.deepEqual(inserted.filter((id) => id === "again/kid"), ["again/kid"], "the child was added more than once")
      assert.ok(failAwait <= 0, "the failing park was not tried")
    })
  })
}

describe("child workflow steps: checks", () => {
  it("refuses malformed child steps and unknown runners inside them before anything is written", async (t) => {
    const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: new MemoryStorageProvider() })
    stopOnEnd(t, runner)
    const bad: unknown[] = [
      { kid: { workflow: { tasks: {} } } },
      { kid: { workflow: { tasks: { x: { task: "Nope" } } } } },
      { kid: { workflow: { tasks: { x: { task: "Echo" } }, onFailure: "ignore" } } },
      { kid: { workflow: { tasks: { x: { task: "Echo" } }, extra: 1 } } },
      { kid: { workflow: { tasks: { x: { task: "Echo" } } }, task: "Echo" } },
      { kid: { workflow: "no" } },
    ]
    for (const tasks of bad) {
      await assert.rejects(runner.addWorkflow({ tasks } as never), ValidationError, JSON.stringify(tasks))
    }
    assert.deepEqual(await runner.listWorkflows(), [])
  })

  it("a provider without the children capability refuses child steps (and sleeps inside them need waits) before anything is written", async () => {
    const inner = new MemoryStorageProvider()
    const without = (supports: string[]): StorageProvider =>
      Object.create(inner, { capabilities: { value: { contract: 1, supports } } }) as StorageProvider
    const plain = new WorkflowRunner({ taskRunners: [echo], storageProvider: without(["crash-counts", "status-reads", "waits"]) })
    await assert.rejects(
      plain.addWorkflow({ workflowID: "refused", tasks: { kid: { workflow: { tasks: { x: { task: "Echo" } } } } } }),
      /the child workflow step "kid" needs a storage provider with the "children" capability/,
    )
    const noWaits = new WorkflowRunner({ taskRunners: [echo], storageProvider: without(["children"]) })
    await assert.rejects(
      noWaits.addWorkflow({ workflowID: "refused", tasks: { kid: { workflow: { tasks: { nap: { sleep: "1h" } } } } } }),
      /the sleep step "nap" needs a storage provider with the "waits" capability/,
    )
    assert.equal(await inner.getWorkflow("refused"), null, "a refused workflow was written")
  })

  it("through FaultInjectingStorage: a failed park of the parent is tried again, and the child is added once", async (t) => {
    const storage = new FaultInjectingStorage(new MemoryStorageProvider())
    storage.failNext("awaitChildren")
    const runner = await startRunner(t, storage, [echo])
    const info = await resultOf(await runner.addWorkflow({ workflowID: "faulty", tasks: { kid: { workflow: { tasks: { x: { task: "Echo" } } } } } }))
    assert.deepEqual(info.tasks[0]?.result, { id: "faulty/kid", status: "completed", results: { x: "faulty/kid:x" } })
    assert.ok(storage.stats().calls.awaitChildren >= 1)
  })

  it("typed runners check the steps of a child workflow at compile time", async (t) => {
    const double = defineTask<number, number>()({ Name: "Double", Execute: async (ctx) => ({ data: ctx.data * 2 }) })
    const runner = new WorkflowRunner({ taskRunners: [double], storageProvider: new MemoryStorageProvider() })
    stopOnEnd(t, runner)
    await runner.recover()
    const compileTimeChecks = async () => {
      // @ts-expect-error: Double takes a number, also inside a child workflow
      await runner.addWorkflow({ tasks: { kid: { workflow: { tasks: { a: { task: "Double", data: "21" } } } } } })
      // @ts-expect-error: no runner named Nope, also inside a child workflow
      await runner.addWorkflow({ tasks: [{ name: "kid", workflow: { tasks: [{ name: "a", task: "Nope", data: 1 }] } }] })
    }
    void compileTimeChecks
    const info = await resultOf(await runner.addWorkflow({ tasks: { kid: { workflow: { tasks: { a: { task: "Double", data: 21 } } } } } }))
    assert.deepEqual((info.tasks[0]?.result as { results: unknown }).results, { a: 42 })
  })
})
