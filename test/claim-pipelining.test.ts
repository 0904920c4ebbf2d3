/**
 * How the claim loop refills slots:
 * - the slots that one write batch frees are filled by one claim: a batch
 *   settles many executions in the same turn of the event loop, and claiming
 *   for the first freed slot at once split every refill into a claim of 1 and
 *   a claim of the rest (measured on Postgres: half the claims and write
 *   batches then carried one workflow each);
 * - a slot is claimed for again as soon as its execution's last write is
 *   submitted, so the claim's round trip overlaps the write's; at most
 *   `LET_OFF_PER_SLOT` × `concurrency` executions are let off this way, up to
 *   twice `concurrency` more wait claimed ahead, and no more than
 *   `concurrency` tasks run at once.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowClient, WorkflowRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { claimedCount, recordClaims } from "./helpers/claims.js"
import { onTestEnd, waitFor } from "./helpers/wait.js"
import { LET_OFF_PER_SLOT } from "../src/runtime/executions.js"
import { AHEAD_PER_FREED_SLOT } from "../src/runtime/claimed-ahead.js"

/** A memory store whose write batches wait for `open()` while the gate is closed. */
function gatedStore(): { storage: MemoryStorageProvider; writesWaiting: () => number; open: () => void } {
  const storage = new MemoryStorageProvider()
  const apply = storage.applyWorkflowWrites.bind(storage)
  let waiting: Array<() => void> = []
  let gateOpen = false
  storage.applyWorkflowWrites = async (writes) => {
    if (!gateOpen) await new Promise<void>((resolve) => waiting.push(resolve))
    return apply(writes)
  }
  return {
    storage,
    writesWaiting: () => waiting.length,
    open: () => {
      gateOpen = true
      for (const resolve of waiting) resolve()
      waiting = []
    },
  }
}

describe("claim pipelining", () => {
  it("refills the slots a write batch frees with one claim, not one claim per freed slot", async (t) => {
    const storage = new MemoryStorageProvider()
    const concurrency = 10
    const stored = 60
    const client = new WorkflowClient({ storageProvider: storage })
    for (let i = 0; i < stored; i++) await client.addWorkflow({ workflowID: `w-${i}`, tasks: { only: { task: "Noop" } } })

    const claims = recordClaims(storage)
    let ended = 0
    const runner = new WorkflowRunner({
      storageProvider: storage,
      concurrency,
      taskRunners: [{ Name: "Noop", Execute: () => ({}) }],
    })
    runner.on("workflowEnded", () => ended++)
    onTestEnd(t, "runner.stop", () => runner.stop())
    await runner.recover()
    await waitFor(() => ended === stored, { what: `all ${stored} stored workflows ended` })

    const taking = claims.filter((c) => c.got > 0)
    const shown = claims.map((c) => `${c.limit}/${c.got}`).join(" ")
    // Each claim fills every freed slot (and, after the first, claims ahead): never a claim per freed slot.
    assert.ok(
      taking.every((c) => c.limit >= concurrency),
      `each claim should fill all ${concurrency} slots; claims (limit/got): ${shown}`,
    )
    assert.ok(taking.length <= stored / concurrency, `${taking.length} claims took work, at most ${stored / concurrency} expected; claims (limit/got): ${shown}`)
    assert.equal(taking[0]?.limit, concurrency, `a runner just started claims nothing ahead; claims (limit/got): ${shown}`)
  })

  it("claims for the slots whose last writes are in flight, up to a bound, and never runs more than concurrency tasks", async (t) => {
    const { storage, writesWaiting, open } = gatedStore()
    const concurrency = 5
    const client = new WorkflowClient({ storageProvider: storage })
    for (let i = 0; i < 40; i++) await client.addWorkflow({ workflowID: `w-${i}`, tasks: { only: { task: "Noop" } } })
    const claims = recordClaims(storage)
    let running = 0
    let mostRunning = 0
    let ended = 0
    const runner = new WorkflowRunner({
      storageProvider: storage,
      concurrency,
      taskRunners: [
        {
          Name: "Noop",
          Execute: async () => {
            mostRunning = Math.max(mostRunning, ++running)
            await new Promise((r) => setImmediate(r))
            running--
            return {}
          },
        },
      ],
    })
    runner.on("workflowEnded", () => ended++)
    onTestEnd(t, "runner.stop", async () => {
      open()
      await runner.stop()
    })
    await runner.recover()
    // The first write batch is held: its 5 workflows are let off, 5 more are claimed and run, and their
    // writes wait too, until LET_OFF_PER_SLOT × 5 are let off and 5 more hold the slots; a few more wait
    // claimed ahead (up to twice the concurrency); nothing more is claimed while writes are held.
    const executedAtMost = (1 + LET_OFF_PER_SLOT) * concurrency
    const heldAtMost = executedAtMost + AHEAD_PER_FREED_SLOT * concurrency
    await waitFor(() => (claimedCount(claims) >= executedAtMost && writesWaiting() >= 1 && running === 0 ? true : undefined), {
      what: `claims while the first batches' writes are in flight (claimed ${claimedCount(claims)})`,
    })
    await new Promise((r) => setTimeout(r, 100))
    const claimed = claimedCount(claims)
    assert.ok(claimed <= heldAtMost, `claimed ${claimed} while writes were held, at most ${heldAtMost} expected`)
    assert.equal(ended, 0)
    open()
    await waitFor(() => ended === 40, { what: "all 40 workflows ended" })
    assert.ok(mostRunning <= concurrency, `${mostRunning} tasks ran at once, concurrency ${concurrency}`)
  })
})
