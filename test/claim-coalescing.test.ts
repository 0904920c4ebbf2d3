/**
 * The claim loop fills the slots that one write batch frees with one claim:
 * a batch settles many executions in the same turn of the event loop, and
 * claiming for the first freed slot at once would split every refill into a
 * claim of 1 and a claim of the rest (measured on Postgres: half the claims
 * and write batches then carried one workflow each).
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowClient, WorkflowRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import type { ClaimRequest } from "../src/storage/provider.js"
import { onTestEnd, waitFor } from "./helpers/wait.js"

describe("claim coalescing", () => {
  it("refills the slots a write batch frees with one claim, not one claim per freed slot", async (t) => {
    const storage = new MemoryStorageProvider()
    const concurrency = 10
    const stored = 60
    const client = new WorkflowClient({ storageProvider: storage })
    for (let i = 0; i < stored; i++) await client.addWorkflow({ workflowID: `w-${i}`, tasks: { only: { task: "Noop" } } })

    const claims: Array<{ limit: number; got: number }> = []
    const claim = storage.claimWorkflows.bind(storage)
    storage.claimWorkflows = async (request: ClaimRequest) => {
      const got = await claim(request)
      claims.push({ limit: request.limit, got: got.length })
      return got
    }
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
    assert.deepEqual(
      taking.map((c) => c.limit),
      Array.from({ length: stored / concurrency }, () => concurrency),
      `each claim should fill all ${concurrency} slots; claims (limit/got): ${claims.map((c) => `${c.limit}/${c.got}`).join(" ")}`,
    )
  })
})
