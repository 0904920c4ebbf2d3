/**
 * Crash-loop protection (RELIABILITY.md #13): a task that takes its runner
 * process down (process.exit, an uncaught error) is failed after a bounded
 * number of recoveries, the loop stops, and every other workflow completes.
 * Real processes, one after another on one SQLite file, each recovering what
 * the last one left.
 */
import assert from "node:assert/strict"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { WorkflowRunner } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { SUSPECT_AFTER_RECOVERIES, SuspectLane } from "../src/runtime/crash-loop.js"
import { startFixture } from "./helpers/ledger.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"

const MAX_CRASHES = 5

const work = { Name: "Work", Execute: async () => ({}) }
const poison = { Name: "Poison", Execute: async () => ({ data: "cured" }) }

describe("crash-loop protection", { timeout: 120_000 }, () => {
  it("fails a task that kills its runner after a bounded number of lives; the others complete", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-crash-loop-"))
    const file = join(dir, "store.sqlite")
    try {
      const adder = new WorkflowRunner({ taskRunners: [work, poison], storageProvider: new SQLiteStorageProvider(file) })
      const innocent = Array.from({ length: 24 }, (_, i) => `ok-${String(i).padStart(2, "0")}`)
      // Added before the poisons and after them: innocents run beside the poisons in every life.
      for (const id of innocent.slice(0, 12)) {
        await adder.addWorkflow({ workflowID: id, tasks: { a: { task: "Work" }, b: { task: "Work" }, c: { task: "Work" } } })
      }
      await adder.addWorkflow({ workflowID: "exits", tasks: { first: { task: "Work" }, bad: { task: "Poison", data: "exit" }, after: { task: "Work" } } })
      await adder.addWorkflow({ workflowID: "throws", tasks: { bad: { task: "Poison", data: "uncaught" } } })
      for (const id of innocent.slice(12)) {
        await adder.addWorkflow({ workflowID: id, tasks: { a: { task: "Work" }, b: { task: "Work" }, c: { task: "Work" } } })
      }
      await adder.stop()

      // Each life recovers what the last left; a life that ends with code 0 found nothing pending.
      const lives: Array<number | null> = []
      for (let life = 0; life < 30; life++) {
        const child = startFixture("poison-worker", [file])
        const { code } = await child.exited
        lives.push(code)
        if (code === 0) break
        assert.equal(code, 1, `life ${life} ended with code ${code}: ${child.stderr()}`)
      }
      t.diagnostic(`exit codes of the lives: ${lives.join(", ")}`)
      assert.equal(lives.at(-1), 0, "the crash loop never stopped")
      // Each poison may be recovered twice before it is a suspect, then crash its runner MAX_CRASHES times on its own.
      const crashes = lives.filter((c) => c !== 0).length
      assert.ok(crashes <= 2 * (SUSPECT_AFTER_RECOVERIES + MAX_CRASHES), `${crashes} crashes`)

      const reader = new WorkflowRunner({ taskRunners: [work, poison], storageProvider: new SQLiteStorageProvider(file) })
      try {
        for (const id of ["exits", "throws"]) {
          const info = await reader.getWorkflow(id)
          assert.equal(info?.status, "failed", `${id} is ${info?.status}`)
          const bad = info!.tasks.find((task) => task.name === "bad")!
          assert.equal(bad.status, "failed")
          assert.match(bad.error ?? "", new RegExp(`runner died .* ${MAX_CRASHES} times in a row while task "bad" ran on its own`))
        }
        assert.equal((await reader.getWorkflow("exits"))?.tasks[0]?.status, "completed", "the task before the poison kept its result")
        for (const id of innocent) assert.equal((await reader.getWorkflow(id))?.status, "completed", `${id} did not complete`)

        // The poisons' tasks started only in lives counted against them: never more than the bound.
        const starts = readFileSync(`${file}.starts`, "utf8").trim().split("\n")
        for (const [id, seq] of [["exits", 1], ["throws", 0]] as const) {
          const poisonStarts = starts.filter((line) => line.startsWith(`${id} ${seq} `)).length
          assert.ok(poisonStarts <= SUSPECT_AFTER_RECOVERIES + MAX_CRASHES, `${id}'s poison task started ${poisonStarts} times`)
        }

        // Fixed and retried, it runs on from the failed task.
        assert.equal(await reader.retryWorkflow("exits"), true)
      } finally {
        await reader.stop()
      }
      const cured = new WorkflowRunner({ taskRunners: [work, poison], storageProvider: new SQLiteStorageProvider(file), pollIntervalMS: 50 })
      try {
        await cured.recover()
        const info = await (await cured.addWorkflow({ workflowID: "exits", tasks: { x: { task: "Work" } } })).result()
        assert.equal(info.status, "completed")
        assert.deepEqual(info.tasks.map((task) => task.status), ["completed", "completed", "completed"])
        assert.equal(info.tasks[1]?.result, "cured")
        assert.equal(info.crashes, 0)
        assert.equal(info.recoveries, 0)
      } finally {
        await cured.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("SuspectLane", () => {
  it("lets one execution in at a time, in arrival order, and drops a waiter whose signal fires", async () => {
    const lane = new SuspectLane(60_000)
    const order: string[] = []
    const first = await lane.acquire(new AbortController().signal)
    assert.ok(first)
    const gone = new AbortController()
    const waiting = [
      lane.acquire(new AbortController().signal).then((free) => (order.push("second"), free)),
      lane.acquire(gone.signal).then((free) => (order.push(free ? "aborted got in" : "aborted"), free)),
      lane.acquire(new AbortController().signal).then((free) => (order.push("third"), free)),
    ]
    gone.abort()
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(order, ["aborted"])
    first()
    first() // freeing twice frees once
    const second = await waiting[0]
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(order, ["aborted", "second"], "the third waits while the second holds the lane")
    second!()
    const third = await waiting[2]
    assert.ok(third)
    third()
    assert.deepEqual(order, ["aborted", "second", "third"])
  })
})

// The runner's and the lane's timers do not keep a process alive (an app's server does): these tests do.
const keepAlive = () => setInterval(() => {}, 1_000)

describe("SuspectLane turn limit", { timeout: 10_000 }, () => {
  it("lets the next suspect in once a turn has lasted turnLimitMS, even if its holder still runs", async () => {
    const alive = keepAlive()
    const lane = new SuspectLane(30)
    const holder = await lane.acquire(new AbortController().signal)
    const started = Date.now()
    const next = await lane.acquire(new AbortController().signal)
    assert.ok(next && Date.now() - started >= 25, `the next got in after ${Date.now() - started} ms`)
    holder!() // freeing a turn that already ended changes nothing
    let third = false
    void lane.acquire(new AbortController().signal).then(() => (third = true))
    await new Promise((resolve) => setTimeout(resolve, 5))
    assert.equal(third, false, "the second's turn still holds the lane")
    next()
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(third, true)
    clearInterval(alive)
  })
})

describe("suspects and a graceful stop", { timeout: 30_000 }, () => {
  it("counts no crash for a suspect stopped while it ran or while it waited its turn", async () => {
    const alive = keepAlive()
    const storage = new MemoryStorageProvider()
    // Two workflows taken over twice from runners that died: suspects for the next runner.
    await storage.insertWorkflowsAndTasks(["a", "b"].map((id) => ({ id, now: 0, tasks: [{ name: "w", task: "Wait", data: "null" }] })))
    for (const [i, token] of ["dead-1", "dead-2", "dead-3"].entries()) {
      await storage.claimWorkflows({ lease: { owner: token, token, expiresAt: 2 * i + 1 }, now: 2 * i, limit: 10, reclaimOwn: false })
    }
    let running = 0
    let started: (() => void) | undefined
    const first = new Promise<void>((resolve) => (started = resolve))
    const wait = {
      Name: "Wait",
      Execute: (ctx: { signal: AbortSignal }) =>
        new Promise<never>((_, reject) => {
          running++
          started?.()
          ctx.signal.addEventListener("abort", () => reject(new Error("stopped")), { once: true })
        }),
    }
    const runner = new WorkflowRunner({ taskRunners: [wait], storageProvider: storage, pollIntervalMS: 20 })
    await runner.recover()
    await first
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.equal(running, 1, "suspects run one at a time")
    await runner.stop({ timeoutMS: 20, closeStorage: false })
    for (const id of ["a", "b"]) {
      const stored = await storage.getWorkflow(id)
      assert.equal(stored?.workflow.status, "pending")
      assert.equal(stored?.workflow.leaseToken, null, `${id}'s lease was released`)
      assert.equal(stored?.workflow.crashes, 0, `${id}: a graceful stop is no crash`)
      assert.ok((stored?.workflow.recoveries ?? 0) >= 3, `${id} is still a suspect`)
    }
    clearInterval(alive)
  })
})
