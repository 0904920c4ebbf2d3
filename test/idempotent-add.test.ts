/** Adding by ID is idempotent: in one process, across processes, and with a different payload. */
import assert from "node:assert/strict"
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { ALL_STORES, openStore, resultOf, startRunner } from "./helpers/runner.js"
import { nextEvent, onTestEnd } from "./helpers/wait.js"

for (const store of ALL_STORES) {
  describe(`idempotent add (${store.name})`, { skip: store.skip }, () => {
    it("50 parallel adds of one ID: one workflow, one task set, one execution, the same ID for all", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let running = 0
      let maxRunning = 0
      let executions = 0
      const runner = await startRunner(t, storage, [
        {
          Name: "Once",
          Execute: async () => {
            executions++
            maxRunning = Math.max(maxRunning, ++running)
            await new Promise((r) => setTimeout(r, 20))
            running--
            return { data: "done" }
          },
        },
      ])
      const handles = await Promise.all(
        Array.from({ length: 50 }, () => runner.addWorkflow({ workflowID: "order-42", tasks: { once: { task: "Once" } } })),
      )
      assert.equal(handles.filter((h) => h.created).length, 1)
      assert.ok(handles.every((h) => h.id === "order-42"))
      const infos = await Promise.all(handles.map((h) => resultOf(h)))
      assert.ok(infos.every((i) => i.status === "completed" && i.tasks.length === 1))
      assert.equal(executions, 1)
      assert.equal(maxRunning, 1)
    })

    it("adding an existing ID with a different payload leaves the stored workflow unchanged", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const runner = await startRunner(t, storage, [{ Name: "Echo", Execute: async (ctx) => ({ data: ctx.data }) }])
      const first = await runner.addWorkflow({ workflowID: "same", tasks: { a: { task: "Echo", data: "original" } } })
      await resultOf(first)
      const second = await runner.addWorkflow({ workflowID: "same", tasks: { x: { task: "Echo", data: "other" }, y: { task: "Echo" } } })
      assert.equal(second.created, false)
      const info = await resultOf(second)
      assert.deepEqual(info.tasks.map((t) => [t.name, t.data, t.result]), [["a", "original", "original"]])
    })

    it("adding the ID of a workflow running in this process starts no second executor", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      let executions = 0
      let release: () => void = () => {}
      const gate = new Promise<void>((r) => (release = r))
      const runner = await startRunner(t, storage, [{ Name: "Slow", Execute: async () => (executions++, await gate, { data: 1 }) }])
      onTestEnd(t, "open the gate", release)
      const started = nextEvent(runner, "taskStarted", { what: "the slow task starting" })
      const first = await runner.addWorkflow({ workflowID: "busy", tasks: { s: { task: "Slow" } } })
      await started
      const again = await runner.addWorkflow({ workflowID: "busy", tasks: { s: { task: "Slow" } } })
      assert.equal(again.created, false)
      release()
      await resultOf(first)
      assert.equal(executions, 1)
    })
  })
}

describe("idempotent add across processes (sqlite)", () => {
  it("two processes adding the same IDs at once create each workflow once", { timeout: 60_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-idem-"))
    onTestEnd(t, "remove the store", () => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, "store.sqlite")
    new SQLiteStorageProvider(file).db.close()
    const script = fileURLToPath(new URL("./fixtures/add-same-ids.js", import.meta.url))
    const run = promisify(execFile)
    // A process that hangs is killed (and fails the test) rather than holding the file open.
    const outputs = await Promise.all([1, 2].map(() => run(process.execPath, [script, file, "40"], { timeout: 30_000, killSignal: "SIGKILL" })))
    const created = outputs.map((o) => JSON.parse(o.stdout) as boolean[])
    for (let i = 0; i < 40; i++) {
      assert.equal(Number(created[0]![i]) + Number(created[1]![i]), 1, `workflow ${i} created ${Number(created[0]![i]) + Number(created[1]![i])} times`)
    }
    const storage = new SQLiteStorageProvider(file)
    onTestEnd(t, "close the store", () => storage.close())
    const rows = storage.db.prepare("SELECT workflow_id, COUNT(*) AS n FROM durabletasks_tasks GROUP BY workflow_id").all() as Array<{ n: number }>
    assert.equal(rows.length, 40)
    assert.ok(rows.every((r) => r.n === 2))
  })
})
