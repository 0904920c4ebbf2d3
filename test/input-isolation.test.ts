/**
 * One caller's bad input never fails another caller's `addWorkflow`: input a
 * provider could refuse is refused before it joins a group-commit batch, and
 * an insert batch that fails because of one item is committed again in halves
 * so that only that item's caller gets the error.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { GroupCommitter } from "../src/group-commit.js"
import { StorageError, ValidationError, WorkflowRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import type { NewWorkflow } from "../src/storage/provider.js"
import { FaultInjectingStorage } from "../src/testing/faults.js"
import { ALL_STORES, eventually, startRunner } from "./helpers/runner.js"

const echo = { Name: "Echo", Execute: async () => ({ data: "done" }) }

describe("GroupCommitter with isolateFailures", () => {
  /** A commit that fails when it holds a "bad" item, or always during an outage; records every call. */
  function recordingCommit() {
    const calls: Array<{ items: string[]; afterFailure: boolean }> = []
    const state = { outage: false }
    const commit = async (items: string[], afterFailure: boolean) => {
      calls.push({ items, afterFailure })
      if (state.outage) throw new Error("storage is down")
      const bad = items.find((item) => item.startsWith("bad"))
      if (bad) throw new Error(`the store refuses ${bad}`)
      return items.map((item) => `ok:${item}`)
    }
    return { commit, calls, state }
  }

  const settle = (promises: Array<Promise<string>>) =>
    Promise.all(promises.map((p) => p.then((out) => out, (error: Error) => `error:${error.message}`)))

  /** Items are `key:n`; a key's writes must commit in order of n. */
  const keyOf = (item: string) => item.split(":")[0]!

  /** The good items in the order they were committed. */
  const committedItems = (calls: Array<{ items: string[] }>) =>
    calls.filter((call) => !call.items.some((i) => i.startsWith("bad"))).flatMap((call) => call.items)

  it("gives a bad item's error to its caller alone, and commits every other item once", async () => {
    const c = recordingCommit()
    const committer = new GroupCommitter(c.commit, { isolateFailures: true, keyOf })
    const items = ["a:0", "b:0", "c:0", "bad:0", "e:0", "f:0", "g:0", "h:0"]
    const outcomes = await settle(items.map((item) => committer.submit(item)))
    assert.deepEqual(outcomes, items.map((item) => (item === "bad:0" ? "error:the store refuses bad:0" : `ok:${item}`)))
    assert.deepEqual(c.calls[0], { items, afterFailure: false }, "first the whole batch")
    assert.ok(c.calls.slice(1).every((call) => call.afterFailure), "every later call says it follows a failure")
    assert.deepEqual([...committedItems(c.calls)].sort(), items.filter((i) => i !== "bad:0").sort(), "each good item committed once")
    assert.ok(c.calls.length <= 1 + 2 * Math.ceil(Math.log2(items.length)), `bisection, not one call per item: ${c.calls.length} calls`)
  })

  it("keeps each key's writes in submission order while it isolates a bad item", async () => {
    const c = recordingCommit()
    const committer = new GroupCommitter(c.commit, { isolateFailures: true, keyOf })
    const items = ["w1:0", "w2:0", "bad:0", "w1:1", "w3:0", "w2:1", "w1:2", "w4:0", "w3:1"]
    const outcomes = await settle(items.map((item) => committer.submit(item)))
    assert.equal(outcomes.filter((o) => o.startsWith("error:")).length, 1, `only the bad item fails: ${outcomes.join(", ")}`)
    const committed = committedItems(c.calls)
    for (const key of ["w1", "w2", "w3"]) {
      const mine = committed.filter((item) => keyOf(item) === key)
      assert.deepEqual(mine, items.filter((item) => keyOf(item) === key), `${key}'s writes committed once each, in order`)
    }
  })

  it("isolates a bad write among writes of one key, and commits that key's other writes in order", async () => {
    const c = recordingCommit()
    // One key for all: "bad" is a write of it too.
    const committer = new GroupCommitter(c.commit, { isolateFailures: true, keyOf: () => "w" })
    const items = ["w:0", "w:1", "bad:2", "w:3"]
    const outcomes = await settle(items.map((item) => committer.submit(item)))
    assert.deepEqual(outcomes, ["ok:w:0", "ok:w:1", "error:the store refuses bad:2", "ok:w:3"])
    assert.deepEqual(committedItems(c.calls), ["w:0", "w:1", "w:3"])
  })

  it("gives two bad items in one half each its own error, and commits the other half", async () => {
    const c = recordingCommit()
    const committer = new GroupCommitter(c.commit, { isolateFailures: true, keyOf })
    const outcomes = await settle(["bad1:0", "bad2:0", "c:0", "d:0"].map((item) => committer.submit(item)))
    assert.deepEqual(outcomes, ["error:the store refuses bad1:0", "error:the store refuses bad2:0", "ok:c:0", "ok:d:0"])
  })

  it("costs an outage only two extra calls, and gives every caller the error", async () => {
    const c = recordingCommit()
    c.state.outage = true
    const committer = new GroupCommitter(c.commit, { isolateFailures: true, keyOf })
    const outcomes = await settle(Array.from({ length: 100 }, (_, i) => committer.submit(`w${i}:0`)))
    assert.ok(outcomes.every((o) => o === "error:storage is down"))
    assert.equal(c.calls.length, 3, "the batch, then its two halves; both failed, so no further split")
  })

  it("without isolateFailures, fails the whole batch as before; with it, needs keyOf", async () => {
    const c = recordingCommit()
    const committer = new GroupCommitter(c.commit)
    const outcomes = await settle(["a:0", "bad:0", "c:0"].map((item) => committer.submit(item)))
    assert.deepEqual(outcomes, Array(3).fill("error:the store refuses bad:0"))
    assert.equal(c.calls.length, 1)
    assert.throws(() => new GroupCommitter(c.commit, { isolateFailures: true }), /keyOf is required with isolateFailures/)
  })
})

for (const store of ALL_STORES) {
  describe(`addWorkflow input isolation (${store.name})`, { skip: store.skip ?? false }, () => {
    for (const [what, badID] of [
      ["U+0000", "bad-\u0000-id"],
      ["a lone surrogate", "bad-\ud800-id"],
    ] as const) {
      it(`two adds in one tick, one with ${what} in its ID: the good one is stored, the bad one alone is refused with a ValidationError`, async (t) => {
        const { storage, cleanup } = store.open()
        const runner = await startRunner(t, storage, [echo])
        try {
          const [good, bad] = await Promise.allSettled([
            runner.addWorkflow({ workflowID: "innocent", tasks: { a: { task: "Echo" } } }),
            runner.addWorkflow({ workflowID: badID, tasks: { a: { task: "Echo" } } }),
          ])
          assert.equal(good.status, "fulfilled", `the innocent add failed: ${good.status === "rejected" ? String(good.reason) : ""}`)
          assert.equal(good.value.created, true)
          assert.equal(bad.status, "rejected", "the bad add was acknowledged")
          assert.ok(bad.reason instanceof ValidationError, `a ValidationError, got ${String(bad.reason)}`)
          assert.equal((await good.value.result()).status, "completed")
          assert.deepEqual((await runner.listWorkflows()).map((w) => w.id), ["innocent"], "only the innocent workflow was stored")
        } finally {
          await runner.stop()
          await cleanup()
        }
      })
    }
  })
}

describe("an insert the store refuses for one workflow (fault-injecting provider)", () => {
  /** A memory store that refuses, as a real store might for a reason the runner cannot check, any batch holding a "refused-" ID. */
  class RefusingStorage extends MemoryStorageProvider {
    insertBatches = 0
    override async insertWorkflowsAndTasks(workflows: NewWorkflow[]): Promise<boolean[]> {
      this.insertBatches++
      const refused = workflows.find((w) => w.id.startsWith("refused-"))
      if (refused) throw new Error(`value too long for this store in workflow "${refused.id}" (injected)`)
      return super.insertWorkflowsAndTasks(workflows)
    }
  }

  for (const started of [true, false]) {
    it(`fails only its own addWorkflow; the others in its batch are stored and run (runner ${started ? "started" : "not started"})`, async () => {
      const storage = new RefusingStorage()
      const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: storage, pollIntervalMS: 50 })
      try {
        if (started) await runner.recover()
        const ids = Array.from({ length: 10 }, (_, i) => (i === 6 ? "refused-6" : `fine-${i}`))
        const outcomes = await Promise.allSettled(ids.map((workflowID) => runner.addWorkflow({ workflowID, tasks: { a: { task: "Echo" } } })))
        outcomes.forEach((outcome, i) => {
          if (ids[i] === "refused-6") {
            assert.equal(outcome.status, "rejected")
            assert.ok(outcome.reason instanceof StorageError, `a StorageError, got ${String(outcome.reason)}`)
            assert.match(outcome.reason.message, /could not store workflow "refused-6".*value too long/)
          } else {
            assert.equal(outcome.status, "fulfilled", `${ids[i]} failed with another's error: ${outcome.status === "rejected" ? String(outcome.reason) : ""}`)
            assert.equal(outcome.value.created, true)
          }
        })
        assert.ok(storage.insertBatches < ids.length, `bisected (${storage.insertBatches} insert calls), not one call per workflow`)
        if (!started) await runner.recover()
        for (const id of ids.filter((id) => id !== "refused-6")) {
          const info = await eventually(async () => {
            const w = await runner.getWorkflow(id)
            return w?.status === "completed" ? w : undefined
          }, 5_000, `${id} to complete`)
          assert.equal(info.tasks[0]?.result, "done")
        }
        assert.equal(await runner.getWorkflow("refused-6"), null)
      } finally {
        await runner.stop()
      }
    })
  }

  it("a batch whose insert took effect but lost its reply: the adds resolve and their workflows start at once, not after a lease", async () => {
    const storage = new FaultInjectingStorage(new MemoryStorageProvider())
    // Default leaseMS (30 s): a workflow left leased to nobody would wait that long.
    const runner = new WorkflowRunner({ taskRunners: [echo], storageProvider: storage, pollIntervalMS: 50 })
    try {
      await runner.recover()
      storage.failNext("insertWorkflowsAndTasks", 1, "lostReply")
      const handles = await Promise.all(
        Array.from({ length: 4 }, (_, i) => runner.addWorkflow({ workflowID: `lost-reply-${i}`, tasks: { a: { task: "Echo" } } })),
      )
      const infos = await eventually(async () => {
        const all = await Promise.all(handles.map((h) => runner.getWorkflow(h.id)))
        return all.every((w) => w?.status === "completed") ? all : undefined
      }, 5_000, "the workflows of the lost-reply batch to complete within seconds")
      assert.equal(infos.length, 4)
    } finally {
      await runner.stop()
    }
  })
})
