/**
 * Crash-loop protection (RELIABILITY.md #13): a task that takes its runner
 * process down (process.exit, an uncaught error) is failed after a bounded
 * number of recoveries, the loop stops, and every other workflow completes.
 * Real processes, one after another on one SQLite file, each recovering what
 * the last one left.
 *
 * The bounds are the README's promises, written out here as numbers rather
 * than computed from the library's constants: if the code moves, the test
 * must not move with it.
 */
import assert from "node:assert/strict"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it, type TestContext } from "node:test"
import { WorkflowRunner } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { SuspectLane } from "../src/runtime/crash-loop.js"
import { startFixture } from "./helpers/ledger.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { stopOnEnd } from "./helpers/runner.js"
import { onTestEnd, waitFor } from "./helpers/wait.js"

/** README: "after maxCrashes (default 5) deaths during it, the workflow is failed". */
const MAX_CRASHES = 5
/** README: "From the second time [a workflow is taken over in a row], the workflow is a suspect": it starts at most twice before. */
const STARTS_BEFORE_SUSPECT = 2
/** README: tasks that process.exit(1) and throw uncaught "are failed after at most 14 lives". */
const MAX_LIVES = 14
/** README: "and all 24 workflows around them complete". */
const INNOCENTS = 24

const work = { Name: "Work", Execute: async () => ({}) }
const poison = { Name: "Poison", Execute: async () => ({ data: "cured" }) }

describe("crash-loop protection", () => {
  it("fails a task that kills its runner after a bounded number of lives; the others complete", { timeout: 120_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-crash-loop-"))
    onTestEnd(t, "remove the store", () => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, "store.sqlite")
    const adder = new WorkflowRunner({ taskRunners: [work, poison], storageProvider: new SQLiteStorageProvider(file) })
    stopOnEnd(t, adder)
    const innocent = Array.from({ length: INNOCENTS }, (_, i) => `ok-${String(i).padStart(2, "0")}`)
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
      onTestEnd(t, `kill life ${life}`, () => child.process.kill("SIGKILL"))
      const { code } = await waitFor(child.exited, { what: `life ${life} ending (it exits when nothing is pending)`, timeoutMS: 30_000 })
      lives.push(code)
      if (code === 0) break
      assert.equal(code, 1, `life ${life} ended with code ${code}: ${child.stderr()}`)
    }
    t.diagnostic(`exit codes of the lives: ${lives.join(", ")}`)
    assert.equal(lives.at(-1), 0, "the crash loop never stopped")
    const crashes = lives.filter((c) => c !== 0).length
    assert.ok(crashes <= MAX_LIVES, `${crashes} lives crashed; the README promises at most ${MAX_LIVES}`)

    const reader = new WorkflowRunner({ taskRunners: [work, poison], storageProvider: new SQLiteStorageProvider(file) })
    stopOnEnd(t, reader)
    for (const id of ["exits", "throws"]) {
      const info = await reader.getWorkflow(id)
      assert.equal(info?.status, "failed", `${id} is ${info?.status}`)
      const bad = info!.tasks.find((task) => task.name === "bad")!
      assert.equal(bad.status, "failed")
      assert.match(bad.error ?? "", new RegExp(`runner died .* ${MAX_CRASHES} times in a row while task "bad" ran on its own`))
    }
    assert.equal((await reader.getWorkflow("exits"))?.tasks[0]?.status, "completed", "the task before the poison kept its result")
    for (const id of innocent) assert.equal((await reader.getWorkflow(id))?.status, "completed", `${id} did not complete`)

    // Each poison task started at most twice before it was a suspect, then once per death counted against it.
    const starts = readFileSync(`${file}.starts`, "utf8").trim().split("\n")
    for (const [id, seq] of [["exits", 1], ["throws", 0]] as const) {
      const poisonStarts = starts.filter((line) => line.startsWith(`${id} ${seq} `)).length
      assert.ok(poisonStarts <= STARTS_BEFORE_SUSPECT + MAX_CRASHES, `${id}'s poison task started ${poisonStarts} times`)
    }

    // Fixed and retried, it runs on from the failed task.
    assert.equal(await reader.retryWorkflow("exits"), true)
    await reader.stop()
    const cured = new WorkflowRunner({ taskRunners: [work, poison], storageProvider: new SQLiteStorageProvider(file), pollIntervalMS: 50 })
    stopOnEnd(t, cured)
    await cured.recover()
    const info = await waitFor((await cured.addWorkflow({ workflowID: "exits", tasks: { x: { task: "Work" } } })).result(), {
      what: "the retried workflow completing",
      timeoutMS: 10_000,
    })
    assert.equal(info.status, "completed")
    assert.deepEqual(info.tasks.map((task) => task.status), ["completed", "completed", "completed"])
    assert.equal(info.tasks[1]?.result, "cured")
    assert.equal(info.crashes, 0)
    assert.equal(info.recoveries, 0)
  })
})

/** Workflows of one task "Wait", each abandoned by `takeovers` dead runners in a row (their leases expired). */
async function abandoned(storage: MemoryStorageProvider, ids: string[], takeovers: number): Promise<void> {
  await storage.insertWorkflowsAndTasks(ids.map((id) => ({ id, now: 0, tasks: [{ name: "w", task: "Wait", data: "null" }] })))
  for (let i = 0; i < takeovers; i++) {
    const token = `dead-${i}`
    const claimed = await storage.claimWorkflows({ lease: { owner: token, token, expiresAt: 2 * i + 1 }, now: 2 * i, limit: 100, reclaimOwn: false })
    assert.deepEqual(claimed.map((w) => w.workflow.id).sort(), [...ids].sort())
  }
}

describe("suspects", () => {
  it("a workflow taken over a second time in a row is a suspect: it runs alone among suspects, its attempt counted; taken over once, it runs freely", { timeout: 20_000 }, async (t) => {
    const storage = new MemoryStorageProvider()
    // Claimed by two dead runners in a row: the live runner's claim is the second takeover.
    await abandoned(storage, ["twice-a", "twice-b"], 2)
    // Claimed by one dead runner (after the others, so that claim takes only these): the live runner's claim is the first takeover.
    await abandoned(storage, ["once-a", "once-b"], 1)
    const started: string[] = []
    const crashesAtStart = new Map<string, number>()
    const gates = new Map<string, () => void>()
    const wait = {
      Name: "Wait",
      Execute: async (ctx: { workflowID: string }) => {
        started.push(ctx.workflowID)
        crashesAtStart.set(ctx.workflowID, (await storage.getWorkflow(ctx.workflowID))!.workflow.crashes ?? 0)
        await new Promise<void>((resolve) => gates.set(ctx.workflowID, resolve))
        return { data: "done" }
      },
    }
    const runner = new WorkflowRunner({ taskRunners: [wait], storageProvider: storage, pollIntervalMS: 20 })
    stopOnEnd(t, runner)
    onTestEnd(t, "open every gate", () => gates.forEach((open) => open()))
    await runner.recover()
    await waitFor(() => started.length >= 3 && gates.size >= 3, { what: "both once-abandoned workflows and one suspect starting" })
    // Time for a wrong second suspect to start: polls run every 20 ms.
    await new Promise((resolve) => setTimeout(resolve, 150))
    const suspects = started.filter((id) => id.startsWith("twice-"))
    assert.equal(suspects.length, 1, `suspects run one at a time; started: ${started.join(", ")}`)
    assert.deepEqual(started.filter((id) => id.startsWith("once-")).sort(), ["once-a", "once-b"], "taken over once: not a suspect, runs at once")
    assert.equal(crashesAtStart.get("once-a"), 0, "no attempt counted for a workflow taken over once")
    assert.equal(crashesAtStart.get(suspects[0]!), 1, "a suspect's attempt is counted in storage before its task starts")

    // Its outcome stored, the next suspect takes its turn.
    gates.get(suspects[0]!)!()
    const other = suspects[0] === "twice-a" ? "twice-b" : "twice-a"
    await waitFor(() => started.includes(other), { what: `the other suspect (${other}) starting once the first's outcome is stored` })
    assert.equal(crashesAtStart.get(other), 1)
    assert.equal((await storage.getWorkflow(suspects[0]!))?.workflow.crashes, 0, "a stored outcome clears the count")
    assert.equal((await storage.getWorkflow(suspects[0]!))?.workflow.status, "completed")
  })
})

describe("SuspectLane", () => {
  it("lets one execution in at a time, in arrival order, and drops a waiter whose signal fires", { timeout: 5_000 }, async () => {
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

// The lane's timers do not keep a process alive (an app's server does): these tests do, until they end.
const keepAlive = (t: TestContext) => {
  const alive = setInterval(() => {}, 1_000)
  onTestEnd(t, "let the process exit", () => clearInterval(alive))
}

describe("SuspectLane turn limit", () => {
  it("lets the next suspect in once a turn has lasted turnLimitMS, even if its holder still runs", { timeout: 5_000 }, async (t) => {
    keepAlive(t)
    const lane = new SuspectLane(30)
    // Measured from before the turn begins: a pause after it would only shorten the wait seen.
    const started = Date.now()
    const holder = await lane.acquire(new AbortController().signal)
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
  })
})

describe("suspects and a graceful stop", () => {
  it("counts no crash for a suspect stopped while it ran or while it waited its turn", { timeout: 20_000 }, async (t) => {
    keepAlive(t)
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
    stopOnEnd(t, runner)
    await runner.recover()
    await waitFor(first, { what: "the first suspect starting" })
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.equal(running, 1, "suspects run one at a time")
    await waitFor(runner.stop({ timeoutMS: 20, closeStorage: false }), { what: "stop() interrupting the suspect" })
    for (const id of ["a", "b"]) {
      const stored = await storage.getWorkflow(id)
      assert.equal(stored?.workflow.status, "pending")
      assert.equal(stored?.workflow.leaseToken, null, `${id}'s lease was released`)
      assert.equal(stored?.workflow.crashes, 0, `${id}: a graceful stop is no crash`)
      assert.ok((stored?.workflow.recoveries ?? 0) >= 3, `${id} is still a suspect`)
    }
  })
})
