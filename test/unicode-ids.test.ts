/**
 * Strings that storage keys or compares (workflow IDs, task labels, runner
 * names, runnerID) must be well-formed Unicode without U+0000, on every
 * provider alike; data and results, stored as JSON, carry lone surrogates
 * and U+0000 and round-trip exactly.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, WorkflowRunner, type TaskRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { ALL_STORES, startRunner } from "./helpers/runner.js"

const echo: TaskRunner = { Name: "Echo", Execute: async (ctx) => ({ data: { seen: ctx.data, extra: "out-\ud83d-\u0000-\udc00" } }) }

const isValidationError = (message: RegExp) => (error: unknown) => error instanceof ValidationError && message.test(error.message)

/** Each bad string, what to call it, and the message that names its flaw. */
const BAD_STRINGS: ReadonlyArray<[string, string, RegExp]> = [
  ["a lone high surrogate (a string cut inside an emoji)", "lone-\ud800", /not well-formed Unicode: a lone surrogate U\+D800 at index 5/],
  ["a lone low surrogate", "lone-\udc00-x", /not well-formed Unicode: a lone surrogate U\+DC00 at index 5/],
  ["a high surrogate at the end of a longer string", "✓ 𝄞 \ud83d", /lone surrogate U\+D83D at index 5/],
  ["U+0000", "nul-\u0000-id", /contains U\+0000 \(NUL\) at index 4/],
]

describe("Node.js 20 facts the design relies on", () => {
  it("JSON.stringify escapes lone surrogates and U+0000, so stored JSON is always well-formed text", () => {
    assert.equal(JSON.stringify("a\ud800b\u0000"), '"a\\ud800b\\u0000"')
    assert.equal(JSON.parse(JSON.stringify("a\ud800b\u0000")), "a\ud800b\u0000")
    assert.equal(typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed, "function")
  })
})

for (const store of ALL_STORES) {
  describe(`ill-formed and NUL-bearing names (${store.name})`, { skip: store.skip ?? false }, () => {
    for (const [what, bad, message] of BAD_STRINGS) {
      it(`refuses ${what} in a workflow ID, a label or a runner name, acknowledges nothing and stores nothing`, async (t) => {
        const { storage, cleanup } = store.open()
        const runner = await startRunner(t, storage, [echo])
        try {
          await assert.rejects(runner.addWorkflow({ workflowID: bad, tasks: { a: { task: "Echo" } } }), isValidationError(message))
          await assert.rejects(runner.addWorkflow({ workflowID: "label-obj", tasks: { [bad]: { task: "Echo" } } }), isValidationError(/task label/))
          await assert.rejects(
            runner.addWorkflow({ workflowID: "label-arr", tasks: [{ name: bad, task: "Echo" }] }),
            isValidationError(/the name of tasks\[0\]/),
          )
          await assert.rejects(runner.addWorkflow({ workflowID: "runner-name", tasks: { a: { task: bad } } }), isValidationError(/the runner name of task "a"/))
          assert.deepEqual(await runner.listWorkflows(), [], "nothing was stored")
          // An ID that can never exist is refused clearly, not looked up.
          await assert.rejects(runner.getWorkflow(bad), isValidationError(message))
          await assert.rejects(runner.cancelWorkflow(bad), isValidationError(message))
          await assert.rejects(runner.retryWorkflow(bad), isValidationError(message))
          await assert.rejects(runner.listWorkflows({ afterID: bad }), isValidationError(/afterID/))
        } finally {
          await runner.stop()
          await cleanup()
        }
      })
    }

    it("never conflates two IDs that differ only in their lone surrogate: both are refused", async (t) => {
      const { storage, cleanup } = store.open()
      const runner = await startRunner(t, storage, [echo])
      try {
        for (const id of ["lone-\ud800", "lone-\udbff"]) {
          await assert.rejects(runner.addWorkflow({ workflowID: id, tasks: { a: { task: "Echo" } } }), ValidationError)
        }
        assert.deepEqual(await runner.listWorkflows(), [])
      } finally {
        await runner.stop()
        await cleanup()
      }
    })

    it("stores and returns well-formed non-ASCII IDs and labels unchanged", async (t) => {
      const { storage, cleanup } = store.open()
      const runner = await startRunner(t, storage, [echo])
      try {
        const id = "order-✓-𝄞-😀-ü"
        const handle = await runner.addWorkflow({ workflowID: id, tasks: { "étape-😀": { task: "Echo", data: 1 } } })
        const info = await handle.result()
        assert.equal(info.id, id)
        assert.equal(info.tasks[0]?.name, "étape-😀")
        assert.deepEqual((await runner.listWorkflows()).map((w) => w.id), [id])
      } finally {
        await runner.stop()
        await cleanup()
      }
    })

    it("round-trips data and results whose strings hold lone surrogates and U+0000", async (t) => {
      const { storage, cleanup } = store.open()
      const runner = await startRunner(t, storage, [echo])
      try {
        const data = { cut: "emoji-\ud83d", low: "\udc00", nul: "a\u0000b", key: { "k\u0000\ud800": ["\ud800\udc00", "\u0000"] } }
        const handle = await runner.addWorkflow({ workflowID: "json-strings", tasks: { a: { task: "Echo", data } } })
        const info = await handle.result()
        assert.equal(info.status, "completed")
        assert.deepEqual(info.tasks[0]?.data, data, "data read back unchanged")
        assert.deepEqual(info.tasks[0]?.result, { seen: data, extra: "out-\ud83d-\u0000-\udc00" }, "the task saw the data unchanged, and its result came back unchanged")
      } finally {
        await runner.stop()
        await cleanup()
      }
    })
  })
}

describe("runner options and runner names", () => {
  for (const [what, bad, message] of BAD_STRINGS) {
    it(`refuse ${what} in a TaskRunner Name and in runnerID`, () => {
      const storageProvider = new MemoryStorageProvider()
      assert.throws(
        () => new WorkflowRunner({ taskRunners: [{ Name: bad, Execute: async () => ({}) }], storageProvider }),
        isValidationError(new RegExp(`taskRunners\\[0\\]\\.Name .*${message.source}`)),
      )
      assert.throws(() => new WorkflowRunner({ taskRunners: [echo], storageProvider, runnerID: bad }), isValidationError(/runnerID/))
    })
  }

  it("refuse an ill-formed ID in a spawn from a task, as the task's own error", async (t) => {
    const storage = new MemoryStorageProvider()
    const spawner: TaskRunner = {
      Name: "Spawner",
      Execute: async (ctx) => {
        await ctx.addWorkflow({ workflowID: `${ctx.workflowID}-\ud800`, tasks: { a: { task: "Echo" } } })
        return {}
      },
    }
    const runner = await startRunner(t, storage, [spawner, echo], { retry: { maxAttempts: 1 } })
    try {
      const info = await (await runner.addWorkflow({ workflowID: "parent", tasks: { spawn: { task: "Spawner" } } })).result()
      assert.equal(info.status, "failed")
      assert.match(info.tasks[0]?.error ?? "", /not well-formed Unicode/)
      assert.deepEqual((await runner.listWorkflows()).map((w) => w.id), ["parent"])
    } finally {
      await runner.stop()
    }
  })
})
