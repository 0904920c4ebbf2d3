/**
 * Workflows claimed ahead (src/runtime/claimed-ahead.ts): how many the claim
 * loop holds, and that holding them never keeps work from other runners: a
 * workflow held behind long tasks is given back within about a poll
 * interval, and a stopping runner gives back all it holds at once.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowClient, WorkflowRunner } from "../src/index.js"
import { AHEAD_PER_FREED_SLOT, ClaimedAhead } from "../src/runtime/claimed-ahead.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import type { WorkflowWithTasks } from "../src/storage/provider.js"
import { claimedCount, recordClaims, type ClaimRecord } from "./helpers/claims.js"
import { onTestEnd, waitFor } from "./helpers/wait.js"

/** A claimed workflow as the claim loop sees it: `availableAt` is its lease's expiry. */
function claimed(id: string, leaseExpiresAt = 1_000_000): WorkflowWithTasks {
  return { workflow: { id, availableAt: leaseExpiresAt } } as unknown as WorkflowWithTasks
}

const ids = (ws: WorkflowWithTasks[]) => ws.map((w) => w.workflow.id)

describe("ClaimedAhead", () => {
  it("holds twice the smaller of the last two bursts of freed slots, none before slots first free, at most twice concurrency", () => {
    const ahead = new ClaimedAhead(10, 1_000, () => true)
    assert.equal(ahead.room(), 0, "nothing ahead before any slot freed")
    ahead.freed(10)
    assert.equal(ahead.room(), 0, "a runner just started (one burst seen) claims nothing ahead")
    ahead.freed(4)
    assert.equal(ahead.room(), 4 * AHEAD_PER_FREED_SLOT)
    ahead.freed(0)
    assert.equal(ahead.room(), 4 * AHEAD_PER_FREED_SLOT, "a fill with no free slot leaves the bursts as they were")
    ahead.freed(1)
    assert.equal(ahead.room(), 1 * AHEAD_PER_FREED_SLOT, "tasks ending one by one hold few ahead")
    ahead.freed(50)
    ahead.freed(50)
    assert.equal(ahead.room(), 10 * AHEAD_PER_FREED_SLOT, "capped at the concurrency's worth")
    ahead.put([claimed("a"), claimed("b")], 0)
    assert.equal(ahead.room(), 10 * AHEAD_PER_FREED_SLOT - 2, "what waits counts against the target")
  })

  it("starts the oldest first, and gives back those held too long or whose lease ends too soon", () => {
    let now = 0
    const leaseEndsAfter = 500
    const ahead = new ClaimedAhead(10, 1_000, (expiresAt) => expiresAt - 100 > now)
    ahead.put([claimed("a", leaseEndsAfter), claimed("b", 5_000)], 0)
    now = 100
    ahead.put([claimed("c", 5_000), claimed("d", 5_000)], now)
    now = 450
    const first = ahead.take(1, now)
    assert.deepEqual(first.release, ["a"], "a's lease ends within a heartbeat's margin: given back, not started")
    assert.deepEqual(ids(first.start), ["b"])
    now = 1_050
    const second = ahead.take(1, now)
    assert.deepEqual(second.release, [], "c was held 950 ms, within the hold")
    assert.deepEqual(ids(second.start), ["c"])
    now = 1_101
    const third = ahead.take(0, now)
    assert.deepEqual(third.release, ["d"], "d was held over 1,000 ms: given back even with no slot free")
    assert.deepEqual(third.start, [])
    assert.equal(ahead.size, 0)
  })

  it("holds a workflow claimed again once, with the newer lease; a dropped one is neither started nor given back", () => {
    const ahead = new ClaimedAhead(10, 1_000, () => true)
    ahead.put([claimed("a", 100), claimed("b")], 0)
    ahead.put([claimed("a", 900)], 10)
    assert.equal(ahead.size, 2)
    ahead.drop(["b"])
    const taken = ahead.take(5, 20)
    assert.deepEqual(taken.release, [])
    assert.deepEqual(
      taken.start.map((w) => [w.workflow.id, w.workflow.availableAt]),
      [["a", 900]],
    )
    ahead.put([claimed("x"), claimed("y")], 30)
    assert.deepEqual(ahead.takeAll().sort(), ["x", "y"])
    assert.equal(ahead.size, 0)
  })
})

/**
 * A memory store with `count` stored workflows of one task ("Job"), and a
 * record of every claim's limit and size.
 */
async function storeWith(count: number): Promise<{ storage: MemoryStorageProvider; claims: ClaimRecord[] }> {
  const storage = new MemoryStorageProvider()
  const client = new WorkflowClient({ storageProvider: storage })
  for (let i = 0; i < count; i++) await client.addWorkflow({ workflowID: `w-${String(i).padStart(2, "0")}`, tasks: { only: { task: "Job" } } })
  return { storage, claims: recordClaims(storage) }
}

/**
 * Runner A (concurrency 2): its first four workflows end at once (two bursts
 * of two freed slots, so it claims ahead), the rest block until their signal
 * fires. Resolves once A holds workflows ahead behind its blocked tasks.
 */
async function runnerHoldingAhead(
  t: Parameters<typeof onTestEnd>[0],
  storage: MemoryStorageProvider,
  claims: readonly ClaimRecord[],
  pollIntervalMS: number,
): Promise<{ runner: WorkflowRunner; ranOnA: string[] }> {
  const ranOnA: string[] = []
  const runner = new WorkflowRunner({
    storageProvider: storage,
    runnerID: "A",
    concurrency: 2,
    pollIntervalMS,
    taskRunners: [
      {
        Name: "Job",
        Execute: async (ctx) => {
          ranOnA.push(ctx.workflowID)
          if (ranOnA.length <= 4) return {}
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }))
          throw new Error("stopped")
        },
      },
    ],
  })
  onTestEnd(t, "runner A stop", () => runner.stop({ timeoutMS: 0 }))
  await runner.recover()
  await waitFor(() => ranOnA.length === 6, { what: "runner A running two blocked tasks" })
  const claimedByA = claimedCount(claims)
  assert.ok(claimedByA > 6, `runner A should hold workflows ahead behind its blocked tasks; claims (limit/got): ${claims.map((c) => `${c.limit}/${c.got}`).join(" ")}`)
  return { runner, ranOnA }
}

/** Runner B: runs every "Job" at once; resolves with the IDs it ran. */
function runnerB(t: Parameters<typeof onTestEnd>[0], storage: MemoryStorageProvider): { runner: WorkflowRunner; ranOnB: string[] } {
  const ranOnB: string[] = []
  const runner = new WorkflowRunner({
    storageProvider: storage,
    runnerID: "B",
    pollIntervalMS: 50,
    taskRunners: [
      {
        Name: "Job",
        Execute: (ctx) => {
          ranOnB.push(ctx.workflowID)
          return {}
        },
      },
    ],
  })
  onTestEnd(t, "runner B stop", () => runner.stop({ timeoutMS: 0 }))
  return { runner, ranOnB }
}

describe("claiming ahead", () => {
  it("gives back workflows held behind long tasks within about a poll interval, so another runner runs them", async (t) => {
    const stored = 10
    const { storage, claims } = await storeWith(stored)
    const { ranOnA } = await runnerHoldingAhead(t, storage, claims, 200)
    const b = runnerB(t, storage)
    await b.runner.recover()
    // A's leases last 30 s: B gets A's held workflows this soon only because A gave them back.
    await waitFor(() => ranOnA.length + b.ranOnB.length === stored, {
      what: `runner B running what runner A held ahead (A ran ${ranOnA.length}, B ${b.ranOnB.length})`,
      timeoutMS: 3_000,
    })
    assert.equal(ranOnA.length, 6, `runner A started nothing more while its tasks were blocked: ${ranOnA.join(" ")}`)
    assert.equal(new Set([...ranOnA, ...b.ranOnB]).size, stored, "no workflow ran twice")
  })

  it("gives back every workflow held ahead when the runner stops", async (t) => {
    const stored = 10
    const { storage, claims } = await storeWith(stored)
    // A poll interval longer than the test: only the stop gives the held workflows back.
    const a = await runnerHoldingAhead(t, storage, claims, 60_000)
    await a.runner.stop({ timeoutMS: 0, closeStorage: false })
    const b = runnerB(t, storage)
    await b.runner.recover()
    const heldByA = stored - a.ranOnA.length
    await waitFor(() => b.ranOnB.length >= heldByA, {
      what: `runner B running the ${heldByA} workflows runner A held or left (B ran ${b.ranOnB.length})`,
      timeoutMS: 3_000,
    })
    assert.ok(
      b.ranOnB.every((id) => !a.ranOnA.slice(0, 4).includes(id)),
      `B ran none of the workflows A completed: A ${a.ranOnA.join(" ")}, B ${b.ranOnB.join(" ")}`,
    )
  })
})
