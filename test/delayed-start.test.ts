/**
 * Delayed start: `addWorkflow({ startAt | delayMS })` stores the workflow at
 * once, runs it no earlier than its start time, holds no lease and no slot
 * while it waits, and survives a restart of the runner in between.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, WorkflowClient, WorkflowRunner, type TaskRunner } from "../src/index.js"
import { ALL_STORES, eventually, startRunner } from "./helpers/runner.js"

/** A runner that records when (wall clock) each workflow's task started. */
function recordingRunner(): { runner: TaskRunner; startedAt: Map<string, number> } {
  const startedAt = new Map<string, number>()
  return {
    startedAt,
    runner: {
      Name: "Record",
      Execute: async (ctx) => {
        startedAt.set(ctx.workflowID, Date.now())
        return { data: "ran" }
      },
    },
  }
}

for (const store of ALL_STORES) {
  describe(`delayed start (${store.name})`, { timeout: 30_000, skip: store.skip }, () => {
    it("runs no earlier than startAt, and shows the workflow waiting until then", async (t) => {
      const { storage, cleanup } = store.open()
      const { runner: task, startedAt } = recordingRunner()
      const runner = await startRunner(t, storage, [task])
      try {
        const startAt = new Date(Date.now() + 600)
        const handle = await runner.addWorkflow({ workflowID: "later", startAt, tasks: { a: { task: "Record" } } })
        const waiting = await runner.getWorkflow("later")
        assert.equal(waiting?.state, "waiting", "a delayed workflow waits, unleased")
        assert.equal(waiting?.lease, null)
        assert.equal(waiting?.nextRunAt?.getTime(), startAt.getTime())
        const info = await Promise.race([
          handle.result(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the delayed workflow did not run within 5 s of startAt")), 5_600)),
        ])
        assert.equal(info.status, "completed")
        const started = startedAt.get("later")
        assert.ok(started !== undefined, "the task never started")
        assert.ok(started >= startAt.getTime(), `the task started ${startAt.getTime() - started} ms before startAt`)
      } finally {
        await runner.stop()
        await cleanup()
      }
    })

    it("holds no concurrency slot while it waits", async (t) => {
      const { storage, cleanup } = store.open()
      const { runner: task, startedAt } = recordingRunner()
      const runner = await startRunner(t, storage, [task], { concurrency: 1 })
      try {
        await runner.addWorkflow({ workflowID: "far-future", delayMS: 3_600_000, tasks: { a: { task: "Record" } } })
        await runner.addWorkflow({ workflowID: "other-later", startAt: Date.now() + 3_600_000, tasks: { a: { task: "Record" } } })
        const now = await runner.addWorkflow({ workflowID: "now", tasks: { a: { task: "Record" } } })
        const info = await Promise.race([
          now.result(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error("a waiting delayed workflow held the only slot")), 5_000)),
        ])
        assert.equal(info.status, "completed")
        const far = await runner.getWorkflow("far-future")
        assert.equal(far?.status, "pending")
        assert.equal(far?.lease, null, "a delayed workflow holds no lease")
        assert.ok(!startedAt.has("far-future"), "ran before its start time")
      } finally {
        await runner.stop()
        await cleanup()
      }
    })

    it("survives a restart of the runner before its start time", async (t) => {
      const { storage, cleanup } = store.open()
      const { runner: task, startedAt } = recordingRunner()
      let first: WorkflowRunner | undefined = await startRunner(t, storage, [task])
      let second: WorkflowRunner | undefined
      try {
        const startAt = Date.now() + 700
        await first.addWorkflow({ workflowID: "across-restart", startAt, tasks: { a: { task: "Record" } } })
        // The runner that added it (and set a timer for it) goes away; the start time lives in storage only.
        await first.stop({ closeStorage: false })
        first = undefined
        second = await startRunner(t, storage, [task])
        const info = await eventually(
          async () => {
            const w = await second?.getWorkflow("across-restart")
            return w?.status === "completed" ? w : undefined
          },
          5_000,
          "the delayed workflow to complete after the restart",
        )
        assert.equal(info.tasks[0]?.result, "ran")
        const started = startedAt.get("across-restart")
        assert.ok(started !== undefined && started >= startAt, "the task started before startAt")
      } finally {
        await first?.stop({ closeStorage: false })
        await second?.stop()
        await cleanup()
      }
    })

    it("takes delayMS and ISO strings from a client with no task code", async (t) => {
      const { storage, cleanup } = store.open()
      const client = new WorkflowClient({ storageProvider: storage })
      const { runner: task, startedAt } = recordingRunner()
      let runner: WorkflowRunner | undefined
      try {
        const before = Date.now()
        await client.addWorkflow({ workflowID: "by-delay", delayMS: 400, tasks: { a: { task: "Record" } } })
        const iso = new Date(Date.now() + 400).toISOString()
        await client.addWorkflow({ workflowID: "by-iso", startAt: iso, tasks: { a: { task: "Record" } } })
        assert.equal((await client.getWorkflow("by-iso"))?.nextRunAt?.toISOString(), iso)
        runner = await startRunner(t, storage, [task])
        await eventually(() => (startedAt.size === 2 ? true : undefined), 5_000, "both delayed workflows to start")
        assert.ok(startedAt.get("by-delay")! >= before + 400, "delayMS was not waited out")
        assert.ok(startedAt.get("by-iso")! >= Date.parse(iso), "startAt (ISO) was not waited out")
      } finally {
        await runner?.stop({ closeStorage: false })
        await client.close()
        await cleanup()
      }
    })

    it("refuses bad start times before writing anything", async () => {
      const { storage, cleanup } = store.open()
      const client = new WorkflowClient({ storageProvider: storage })
      try {
        const tasks = { a: { task: "Record" } }
        const bad: Array<[Record<string, unknown>, RegExp]> = [
          [{ startAt: new Date(Date.now() + 1000), delayMS: 5 }, /startAt or delayMS, not both/],
          [{ delayMS: -1 }, /delayMS must be a finite number >= 0/],
          [{ delayMS: Number.NaN }, /delayMS must be a number/],
          [{ delayMS: Infinity }, /delayMS must be a finite number/],
          [{ startAt: "tomorrow" }, /startAt is not a valid point in time/],
          [{ startAt: new Date("nope") }, /startAt is not a valid point in time/],
          [{ startAt: {} }, /startAt must be a Date, an ISO 8601 string or epoch milliseconds/],
        ]
        for (const [extra, message] of bad) {
          await assert.rejects(
            client.addWorkflow({ workflowID: "bad-start", tasks, ...extra } as Parameters<typeof client.addWorkflow>[0]),
            (error: unknown) => error instanceof ValidationError && message.test(error.message),
            `not refused: ${JSON.stringify(extra)}`,
          )
        }
        assert.equal(await client.getWorkflow("bad-start"), null, "a refused workflow was written")
      } finally {
        await client.close()
        await cleanup()
      }
    })
  })
}
