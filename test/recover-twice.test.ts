/**
 * One executor per workflow within a process: recover() called twice (at once,
 * and while workflows run), and addWorkflow(id) again while that ID runs here.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowRunner } from "../src/index.js"
import { STORES, eventually, resultOf } from "./helpers/runner.js"

const LEASE_MS = 5_000

for (const store of STORES) {
  describe(`one executor per workflow in a process (${store.name})`, () => {
    it("recover() twice at once, and again while workflows run (with retries due at once): no workflow gets two executors", { timeout: 20_000 }, async () => {
      const { storage, cleanup } = store.open()
      const running = new Map<string, number>()
      const starts = new Map<string, Array<[number, number]>>()
      let overlaps = 0
      let recoversDuringRun = 0
      const runner: WorkflowRunner = new WorkflowRunner({
        taskRunners: [
          {
            Name: "Step",
            Execute: async (ctx) => {
              const now = (running.get(ctx.workflowID) ?? 0) + 1
              running.set(ctx.workflowID, now)
              if (now > 1) overlaps++
              const list = starts.get(ctx.workflowID) ?? []
              list.push([ctx.seq, ctx.attempt])
              starts.set(ctx.workflowID, list)
              if (ctx.seq === 0 && recoversDuringRun < 20) {
                recoversDuringRun++
                void runner.recover()
              }
              await new Promise((r) => setTimeout(r, Math.random() * 4))
              running.set(ctx.workflowID, running.get(ctx.workflowID)! - 1)
              if (ctx.seq === 1 && ctx.attempt === 0) throw new Error("transient: retried at once")
              return { data: ctx.seq }
            },
          },
        ],
        storageProvider: storage,
        concurrency: 4,
        retryDelayMS: 0,
        pollIntervalMS: 5,
        leaseMS: LEASE_MS,
      })
      try {
        const ids = Array.from({ length: 30 }, (_, i) => `twice-${i}`)
        const handles = await Promise.all(
          ids.map((id) => runner.addWorkflow({ workflowID: id, tasks: { a: { task: "Step" }, b: { task: "Step" }, c: { task: "Step" } } })),
        )
        const begun = Date.now()
        await Promise.all([runner.recover(), runner.recover()])
        const infos = await Promise.all(handles.map((h) => resultOf(h)))
        const elapsed = Date.now() - begun
        assert.ok(infos.every((i) => i.status === "completed"))
        assert.equal(overlaps, 0, "no workflow ever had two tasks running at once")
        for (const id of ids) {
          assert.deepEqual(starts.get(id), [[0, 0], [1, 0], [1, 1], [2, 0]], `${id}: each attempt started once, in order`)
        }
        assert.ok(recoversDuringRun > 0)
        // A workflow dropped by a second executor path would wait for its lease to expire.
        assert.ok(elapsed < LEASE_MS, `all ended in ${elapsed} ms; none waited for a lease to expire`)
      } finally {
        await runner.stop({ timeoutMS: 500 })
        await cleanup()
      }
    })

    it("addWorkflow(id) again, many times, while that ID runs here: no second executor", { timeout: 20_000 }, async () => {
      const { storage, cleanup } = store.open()
      const gates = [deferred(), deferred()]
      const starts: number[] = []
      const runner = new WorkflowRunner({
        taskRunners: [{ Name: "Gated", Execute: async (ctx) => (starts.push(ctx.seq), await gates[ctx.seq]!.promise, { data: ctx.seq }) }],
        storageProvider: storage,
        retryDelayMS: 0,
        pollIntervalMS: 5,
      })
      try {
        await runner.recover()
        const input = { workflowID: "busy", tasks: { a: { task: "Gated" as const }, b: { task: "Gated" as const } } }
        const first = await runner.addWorkflow(input)
        assert.equal(first.created, true)
        await eventually(() => (starts.length === 1 ? true : undefined), 5_000, "task 0 to start")
        const again = await Promise.all([...Array.from({ length: 10 }, () => runner.addWorkflow(input)), runner.recover().then(() => null)])
        assert.ok(again.every((h) => h === null || (h.created === false && h.id === "busy")))
        gates[0]!.resolve()
        await eventually(() => (starts.length === 2 ? true : undefined), 5_000, "task 1 to start")
        const more = await Promise.all(Array.from({ length: 10 }, () => runner.addWorkflow(input)))
        assert.ok(more.every((h) => !h.created))
        // Time for a wrong second executor to show up: polls run every 5 ms.
        await new Promise((r) => setTimeout(r, 100))
        gates[1]!.resolve()
        const info = await resultOf(first)
        assert.equal(info.status, "completed")
        assert.deepEqual(starts, [0, 1], "each task ran once")
        assert.deepEqual(info.tasks.map((t) => t.result), [0, 1])
      } finally {
        for (const gate of gates) gate.resolve()
        await runner.stop({ timeoutMS: 500 })
        await cleanup()
      }
    })
  })
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {}
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}
