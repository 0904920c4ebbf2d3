/**
 * A clock that jumps (the `clock` option) by an hour either way: during a
 * retry delay, while tasks run, and around the retention sweep.
 *
 * Leases, retry times and retention are wall-clock times in storage, so:
 * - forward: due retries fire at once, once. Leases look expired to every
 *   runner, so a task running at that instant may be stopped (the lease
 *   guard fires its signal) or have its result refused (the workflow was
 *   claimed afresh), and runs once more, at once. Nothing overlaps, nothing
 *   whose result is stored runs again.
 * - backward: nothing runs twice; a retry already scheduled becomes due only
 *   when the clock reaches its stored time again (it is delayed by the jump).
 * - retention never deletes a pending workflow, whatever the clock says.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type { TaskRunner, WorkflowRunner } from "../src/index.js"
import { STORES, eventually, openStore, resultOf, startRunner } from "./helpers/runner.js"
import { nextEvent, onTestEnd, waitFor } from "./helpers/wait.js"

const HOUR = 3_600_000

/** A clock the test can move. */
function jumpingClock() {
  let offset = 0
  return { now: () => Date.now() + offset, jump: (ms: number) => (offset += ms) }
}

interface Run {
  key: string
  event: "start" | "end"
  aborted?: boolean
}

/** Overlaps, and starts after the result was stored (taskCompleted), in one global order. */
function check(runs: Run[], storedAt: Map<string, number>): { overlaps: string[]; rerunAfterStored: string[] } {
  const overlaps: string[] = []
  const rerunAfterStored: string[] = []
  const open = new Set<string>()
  runs.forEach((r, i) => {
    if (r.event === "start") {
      if (open.has(r.key)) overlaps.push(`${r.key} at ${i}`)
      open.add(r.key)
      const at = storedAt.get(r.key)
      if (at !== undefined && i >= at) rerunAfterStored.push(`${r.key} at ${i}`)
    } else open.delete(r.key)
  })
  return { overlaps, rerunAfterStored }
}

function watchStored(runner: WorkflowRunner, runs: Run[]): Map<string, number> {
  const storedAt = new Map<string, number>()
  runner.on("taskCompleted", (e) => storedAt.set(`${e.workflowID}#${e.seq}`, runs.length))
  return storedAt
}

/** A task of `ms` that stops at once when its signal fires. */
function timedTask(runs: Run[], ms: number): TaskRunner {
  return {
    Name: "Timed",
    Execute: (ctx) =>
      new Promise((resolve, reject) => {
        const key = `${ctx.workflowID}#${ctx.seq}`
        runs.push({ key, event: "start" })
        const onAbort = () => {
          clearTimeout(timer)
          runs.push({ key, event: "end", aborted: true })
          reject(ctx.signal.reason)
        }
        const timer = setTimeout(() => {
          ctx.signal.removeEventListener("abort", onAbort)
          runs.push({ key, event: "end" })
          resolve({ data: key })
        }, ms)
        ctx.signal.addEventListener("abort", onAbort, { once: true })
      }),
  }
}

for (const store of STORES) {
  describe(`clock jumps (${store.name})`, () => {
    it("+1 h during a 1-minute retry delay: the retry fires at once, exactly once", { timeout: 30_000 }, async (t) => {
      const storage = openStore(t, store)
      const clock = jumpingClock()
      const attempts: number[] = []
      const runner = await startRunner(
        t,
        storage,
        [{ Name: "FailOnce", Execute: async (ctx) => (attempts.push(ctx.attempt), ctx.attempt === 0 ? Promise.reject(new Error("first try fails")) : { data: "ok" }) }],
        { clock: clock.now, retryDelayMS: 60_000, leaseMS: 3_000 },
      )
      const failed = nextEvent(runner, "taskFailed", { what: "the first attempt failing" })
      const handle = await runner.addWorkflow({ tasks: { t: { task: "FailOnce" } } })
      await failed
      const waiting = await runner.getWorkflow(handle.id)
      assert.equal(waiting?.status, "pending")
      assert.ok(waiting.nextRunAt && waiting.nextRunAt.getTime() >= clock.now() + 50_000, "the retry is a minute away")
      const jumpedAt = Date.now()
      clock.jump(HOUR)
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      assert.ok(Date.now() - jumpedAt < 5_000, `the retry fired soon after the jump (${Date.now() - jumpedAt} ms), not a minute later`)
      assert.deepEqual(attempts, [0, 1], "one retry")
      await new Promise((r) => setTimeout(r, 300)) // the original wake-up timers and polls find nothing more to run
      assert.deepEqual(attempts, [0, 1])
    })

    it("−1 h during a retry delay: the retry fires once, when the clock is back at its due time; never twice", { timeout: 30_000 }, async (t) => {
      const storage = openStore(t, store)
      const clock = jumpingClock()
      const attempts: number[] = []
      const runner = await startRunner(
        t,
        storage,
        [{ Name: "FailOnce", Execute: async (ctx) => (attempts.push(ctx.attempt), ctx.attempt === 0 ? Promise.reject(new Error("first try fails")) : { data: "ok" }) }],
        { clock: clock.now, retryDelayMS: 200, leaseMS: 3_000 },
      )
      const failed = nextEvent(runner, "taskFailed", { what: "the first attempt failing" })
      const handle = await runner.addWorkflow({ tasks: { t: { task: "FailOnce" } } })
      await failed
      clock.jump(-HOUR)
      // Past the real retry delay the retry is not due by the clock: the workflow stays pending and visible.
      await new Promise((r) => setTimeout(r, 500))
      const waiting = await runner.getWorkflow(handle.id)
      assert.equal(waiting?.status, "pending")
      assert.equal(waiting.tasks[0]!.attempts, 1, "the failed attempt is recorded")
      assert.deepEqual(attempts, [0])
      clock.jump(HOUR) // the clock catches up
      const info = await resultOf(handle)
      assert.equal(info.status, "completed")
      assert.deepEqual(attempts, [0, 1], "the retry ran exactly once")
    })

    for (const jump of [HOUR, -HOUR]) {
      it(`${jump > 0 ? "+" : "−"}1 h while tasks run: no overlap, no re-run of a stored result${jump > 0 ? "; a task holding a pre-jump lease may run once more" : "; every task runs once"}`, { timeout: 30_000 }, async (t) => {
        const storage = openStore(t, store)
        const clock = jumpingClock()
        const runs: Run[] = []
        // Tasks outlast a heartbeat, so the lease guard sees the jump while they run.
        const runner = await startRunner(t, storage, [timedTask(runs, 400)], { clock: clock.now, leaseMS: 5_000, heartbeatMS: 300 })
        const storedAt = watchStored(runner, runs)
        const handles = await Promise.all(
          Array.from({ length: 4 }, (_, w) =>
            runner.addWorkflow({ workflowID: `w${w}`, tasks: Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`t${i}`, { task: "Timed" }])) }),
          ),
        )
        await eventually(() => (runs.filter((r) => r.event === "end").length >= 4 ? true : undefined), 5_000, "tasks to run")
        const runningAtJump = new Set<string>()
        for (const r of runs) r.event === "start" ? runningAtJump.add(r.key) : runningAtJump.delete(r.key)
        // The tasks that held a lease from before the jump: running, or their result not yet stored (its write in flight).
        const heldAtJump = new Set(runs.filter((r) => r.event === "start" && !storedAt.has(r.key)).map((r) => r.key))
        clock.jump(jump)
        const jumpedAt = Date.now()
        const infos = await Promise.all(handles.map((h) => resultOf(h)))
        const took = Date.now() - jumpedAt
        assert.deepEqual(infos.map((i) => i.status), Array(4).fill("completed"))

        const { overlaps, rerunAfterStored } = check(runs, storedAt)
        assert.deepEqual(overlaps, [], "no task ran twice at once")
        assert.deepEqual(rerunAfterStored, [], "no task ran again after its result was stored")
        const starts = new Map<string, number>()
        for (const r of runs) if (r.event === "start") starts.set(r.key, (starts.get(r.key) ?? 0) + 1)
        const again = [...starts].filter(([, n]) => n > 1).map(([key]) => key)
        if (jump < 0) assert.deepEqual(again, [], "every task ran once")
        else {
          // Only a workflow whose lease dates from before the jump is claimed afresh, and in it only the task under way at
          // that moment (started before the jump, or just after under the old lease) is stopped by its signal, or has its
          // result refused, and runs again, once; the fresh claim goes on from there, so every other task runs once.
          const heldWorkflows = new Set([...heldAtJump].map((key) => key.split("#")[0]))
          const rerunWorkflows = again.map((key) => key.split("#")[0] as string)
          assert.deepEqual(
            rerunWorkflows.filter((w) => !heldWorkflows.has(w)),
            [],
            `only workflows holding a pre-jump lease run a task again (held: ${[...heldAtJump].join(", ")}; again: ${again.join(", ")})`,
          )
          assert.equal(new Set(rerunWorkflows).size, rerunWorkflows.length, `at most one task per workflow runs again: ${again.join(", ")}`)
          assert.ok(again.every((key) => starts.get(key) === 2), `at most once more: ${JSON.stringify([...starts].filter(([, n]) => n > 1))}`)
        }
        // 3 tasks of 400 ms are left per workflow; waiting out a 5 s lease would show.
        assert.ok(took < 4_000, `the rest ran without waiting for leases to expire (${took} ms)`)
        t.diagnostic(`running at the jump: ${runningAtJump.size}; holding a pre-jump lease: ${heldAtJump.size}; run again: ${again.length}; the rest took ${took} ms`)
      })
    }

    it("retention across ±1 h jumps deletes only ended workflows older than retentionMS, never pending ones", { timeout: 30_000 }, async (t) => {
      const storage = openStore(t, store)
      const clock = jumpingClock()
      let release: () => void = () => {}
      const gate = new Promise<void>((r) => (release = r))
      const runner = await startRunner(
        t,
        storage,
        [
          { Name: "Done", Execute: async () => ({ data: 1 }) },
          { Name: "Block", Execute: async () => (await gate, { data: 2 }) },
          { Name: "FailOnce", Execute: async (ctx) => (ctx.attempt === 0 ? Promise.reject(new Error("retry in 2 h")) : { data: 3 }) },
        ],
        // The sweep runs every second (retentionMS / 10, at least 1 s).
        { clock: clock.now, retentionMS: 5_000, retryDelayMS: 2 * HOUR, leaseMS: 3_000 },
      )
      onTestEnd(t, "open the gate", release)
      const done = await runner.addWorkflow({ workflowID: "done", tasks: { a: { task: "Done" } } })
      await resultOf(done)
      const retryFailed = nextEvent(runner, "taskFailed", { what: "FailOnce's first attempt failing" })
      const waitingResult = (await runner.addWorkflow({ workflowID: "waiting", tasks: { a: { task: "FailOnce" } } })).result()
      await retryFailed
      const started = nextEvent(runner, "taskStarted", { what: "the blocking task starting", filter: (e) => e.workflowID === "running" })
      const running = await runner.addWorkflow({ workflowID: "running", tasks: { a: { task: "Block" } } })
      await started

      // Backward: the ended workflow now looks changed in the future; nothing is deleted.
      clock.jump(-HOUR)
      assert.equal(await runner.deleteEndedWorkflows(0), 0)
      await new Promise((r) => setTimeout(r, 1_300)) // at least one periodic sweep
      assert.deepEqual((await runner.listWorkflows()).map((w) => w.id).sort(), ["done", "running", "waiting"])

      // Forward past the retention age (an hour ahead of real time): the ended one goes, the pending ones stay.
      clock.jump(2 * HOUR)
      await eventually(async () => ((await runner.getWorkflow("done")) === null ? true : undefined), 5_000, "the periodic sweep to delete the ended workflow")
      assert.equal(await runner.deleteEndedWorkflows(0), 0, "nothing else has ended")
      const waiting = await runner.getWorkflow("waiting")
      const stillRunning = await runner.getWorkflow("running")
      assert.ok(waiting && stillRunning, "pending workflows are never deleted")
      assert.equal(stillRunning.status, "pending")

      release()
      assert.equal((await resultOf(running)).status, "completed")
      clock.jump(2 * HOUR) // past the retry's due time
      assert.equal((await waitFor(waitingResult, { what: "the retry due in 2 h running after the jump" })).status, "completed")
    })
  })
}
