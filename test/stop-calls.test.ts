/**
 * Calls around `stop()` and `close()`: what was accepted before settles
 * (stored or failed) before storage closes, nothing reaches storage after
 * it closed, and calls made after are refused with RunnerStoppedError, not
 * a driver's error.
 */
import assert from "node:assert/strict"
import { describe, it, type TestContext } from "node:test"
import { RunnerStoppedError, WorkflowClient, WorkflowRunner, type TaskRunner } from "../src/index.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { ALL_STORES, MemoryLogger, type TestStore } from "./helpers/runner.js"
import { waitFor } from "./helpers/wait.js"

/** `storage`, recording the calls made after its `close()` was called. */
function watchClose(storage: StorageProvider): { storage: StorageProvider; callsAfterClose: string[] } {
  let closed = false
  const callsAfterClose: string[] = []
  const watched = new Proxy(storage, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== "function") return value
      const method = value as (...args: unknown[]) => unknown
      if (key === "close") {
        return () => {
          closed = true
          return method.call(target)
        }
      }
      return (...args: unknown[]) => {
        if (closed) callsAfterClose.push(String(key))
        return method.apply(target, args)
      }
    },
  })
  return { storage: watched, callsAfterClose }
}

/** How each of `promises` settled: "ok" or the error's name and message. */
function outcomes(promises: Array<Promise<unknown>>): Promise<string[]> {
  return Promise.all(promises.map((p) => p.then(() => "ok", (error: unknown) => `${(error as Error).name}: ${(error as Error).message}`)))
}

const echo: TaskRunner = { Name: "Echo", Execute: async (ctx) => ({ data: ctx.data }) }

/** A recovered runner on a fresh store of `store` that records the storage calls made after close(); the store is removed when `t` ends. */
async function watchedRunner(t: TestContext, store: TestStore): Promise<{ runner: WorkflowRunner; callsAfterClose: string[] }> {
  const { storage: raw, cleanup } = store.open()
  t.after(cleanup)
  const { storage, callsAfterClose } = watchClose(raw)
  const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: storage, runnerID: "stop-calls" })
  await runner.recover()
  return { runner, callsAfterClose }
}

for (const store of ALL_STORES) {
  describe(`calls around stop() and close() (${store.name})`, { timeout: 60_000, skip: store.skip }, () => {
    it("stop(): adds accepted before it are all stored and settle, whenever they were made; nothing reaches storage after it closed", async (t) => {
      const { runner, callsAfterClose } = await watchedRunner(t, store)
      await runner.addWorkflow({ tasks: { a: { task: "Echo", data: 0 } } })
      // More adds than the pool has connections, each taking a slot and releasing its lease as the runner stops.
      const early = Array.from({ length: 200 }, (_, i) => runner.addWorkflow({ workflowID: `early-${i}`, tasks: { a: { task: "Echo", data: i } } }))
      await new Promise((resolve) => setImmediate(resolve))
      await waitFor(runner.stop(), { what: "stop()", timeoutMS: 20_000 })
      const settled = await waitFor(outcomes(early), { what: "every add accepted before stop() to settle", timeoutMS: 10_000 })
      assert.deepEqual(
        settled.filter((o) => o !== "ok"),
        [],
        "every add accepted before stop() is stored",
      )
      assert.deepEqual(callsAfterClose, [], "no storage call after close()")
    })

    it("stop() just after an add on an idle runner: the add is stored, not failed by storage closing under it", async (t) => {
      const { runner, callsAfterClose } = await watchedRunner(t, store)
      await new Promise((resolve) => setTimeout(resolve, 100))
      const add = runner.addWorkflow({ workflowID: "late", tasks: { a: { task: "Echo", data: "late" } } })
      await runner.stop()
      assert.deepEqual(await outcomes([add]), ["ok"])
      assert.deepEqual(callsAfterClose, [])
    })

    it("close(): an add accepted before it is stored, and nothing reaches storage after it closed", async (t) => {
      const { storage: raw, cleanup } = store.open()
      t.after(cleanup)
      const { storage, callsAfterClose } = watchClose(raw)
      const client = new WorkflowClient({ storageProvider: storage })
      await client.getWorkflow("warm-up")
      const adds = Array.from({ length: 50 }, (_, i) => client.addWorkflow({ workflowID: `c-${i}`, tasks: { a: { task: "Echo", data: i } } }))
      await client.close()
      assert.deepEqual((await outcomes(adds)).filter((o) => o !== "ok"), [])
      assert.deepEqual(callsAfterClose, [])
    })

    it("after stop(), every call is refused with RunnerStoppedError (not a driver's error), and a clean stop logs no storage error", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const logger = new MemoryLogger()
      const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: storage, runnerID: "stop-calls", logger, pollIntervalMS: 20 })
      await runner.recover()
      const handle = await runner.addWorkflow({ workflowID: "done", tasks: { a: { task: "Echo", data: 1 } } })
      assert.equal((await handle.result()).status, "completed")
      // Result waiters of workflows this runner does not run poll storage until stop().
      const elsewhere = await runner.addWorkflow({ workflowID: "elsewhere", tasks: { a: { task: "Echo", data: 2 } }, delayMS: 60_000 })
      const waiting = elsewhere.result()
      await new Promise((resolve) => setTimeout(resolve, 60))
      await runner.stop()
      await assert.rejects(waiting, RunnerStoppedError)
      const calls: Array<[string, () => Promise<unknown>]> = [
        ["addWorkflow", () => runner.addWorkflow({ tasks: { a: { task: "Echo" } } })],
        ["getWorkflow", () => runner.getWorkflow("done")],
        ["listWorkflows", () => runner.listWorkflows()],
        ["cancelWorkflow", () => runner.cancelWorkflow("elsewhere")],
        ["retryWorkflow", () => runner.retryWorkflow("done")],
        ["deleteEndedWorkflows", () => runner.deleteEndedWorkflows(0)],
        ["sendEvent", () => runner.sendEvent({ name: "e", key: "k" })],
        ["listEvents", () => runner.listEvents()],
        ["listSchedules", () => runner.listSchedules()],
        ["getSchedule", () => runner.getSchedule("s")],
      ]
      for (const [name, call] of calls) {
        await assert.rejects(call(), (error: unknown) => error instanceof RunnerStoppedError, `${name} after stop()`)
      }
      assert.deepEqual(logger.at("error"), [], "a clean stop logs no error")
    })
  })
}
