/**
 * A task's `ctx.signal` is one signal for the whole attempt, with or without
 * a timeout: a listener removed through `ctx.signal` is removed from the
 * signal it was added to, and the signal fires when the attempt times out.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type { TaskRunner } from "../src/index.js"
import { STORES, openStore, resultOf, startRunner } from "./helpers/runner.js"

const memory = STORES.find((s) => s.name === "memory") ?? STORES[0]!

describe("ctx.signal", () => {
  for (const timeoutMS of [undefined, 150]) {
    it(`is the same signal on every read (timeoutMS ${String(timeoutMS)})`, { timeout: 10_000 }, async (t) => {
      const storage = openStore(t, memory)
      const seen: { same?: boolean; prepareSame?: boolean } = {}
      const runner: TaskRunner = {
        Name: "Reads",
        ...(timeoutMS === undefined ? {} : { timeoutMS }),
        Execute: async (ctx) => {
          seen.same = ctx.signal === ctx.signal
          return {}
        },
      }
      const r = await startRunner(t, storage, [runner])
      await resultOf(await r.addWorkflow({ workflowID: "w", tasks: { one: { task: "Reads" } } }))
      assert.equal(seen.same, true)
    })
  }

  it("removes through ctx.signal a listener added through it (with a timeout)", { timeout: 10_000 }, async (t) => {
    const storage = openStore(t, memory)
    let fired = 0
    const runner: TaskRunner = {
      Name: "Listens",
      timeoutMS: 100,
      retry: { maxAttempts: 1 },
      Execute: async (ctx) => {
        const onAbort = () => fired++
        ctx.signal.addEventListener("abort", onAbort)
        ctx.signal.removeEventListener("abort", onAbort)
        // Wait for the timeout to fire the signal.
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }))
        return {}
      },
    }
    const r = await startRunner(t, storage, [runner])
    await resultOf(await r.addWorkflow({ workflowID: "w", tasks: { one: { task: "Listens" } } }))
    assert.equal(fired, 0, "the removed listener fired: ctx.signal gave a different signal on each read")
  })
})
