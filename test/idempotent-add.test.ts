/** Adding by ID is idempotent: in one process, across processes, and with a different payload. */
import assert from "node:assert/strict"
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { WorkflowRunner } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { ALL_STORES, startRunner } from "./helpers/runner.js"

for (const store of ALL_STORES) {
  describe(`idempotent add (${store.name})`, { timeout: 30_000, skip: store.skip }, () => {
    it("50 parallel adds of one ID: one workflow, one task set, one execution, the same ID for all", async () => {
      const { storage, cleanup } = store.open()
      let running = 0
      let maxRunning = 0
      let executions = 0
      const runner = await startRunner(storage, [
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
      const infos = await Promise.all(handles.map((h) => h.result()))
      assert.ok(infos.every((i) => i.status === "completed" && i.tasks.length === 1))
      assert.equal(executions, 1)
      assert.equal(maxRunning, 1)
      await runner.stop()
      await cleanup()
    })

    it("adding an existing ID with a different payload leaves the stored workflow unchanged", async () => {
      const { storage, cleanup } = store.open()
      const runner = await startRunner(storage, [{ Name: "Echo", Execute: async (ctx) => ({ data: ctx.data }) }])
      const first = await runner.addWorkflow({ workflowID: "same", tasks: { a: { task: "Echo", data: "original" } } })
      await first.result()
      const second = await runner.addWorkflow({ workflowID: "same", tasks: { x: { task: "Echo", data: "other" }, y: { task: "Echo" } } })
      assert.equal(second.created, false)
      const info = await second.result()
      assert.deepEqual(info.tasks.map((t) => [t.name, t.data, t.result]), [["a", "original", "original"]])
      await runner.stop()
      await cleanup()
    })

    it("adding the ID of a workflow running in this process starts no second executor", async () => {
      const { storage, cleanup } = store.open()
      let executions = 0
      let release: () => void = () => {}
      const gate = new Promise<void>((r) => (release = r))
      const runner = await startRunner(storage, [{ Name: "Slow", Execute: async () => (executions++, await gate, { data: 1 }) }])
      const started = new Promise((r) => runner.once("taskStarted", r))
      const first = await runner.addWorkflow({ workflowID: "busy", tasks: { s: { task: "Slow" } } })
      await started
      const again = await runner.addWorkflow({ workflowID: "busy", tasks: { s: { task: "Slow" } } })
      assert.equal(again.created, false)
      release()
      await first.result()
      assert.equal(executions, 1)
      await runner.stop()
      await cleanup()
    })
  })
}

describe("idempotent add across processes (sqlite)", { timeout: 60_000 }, () => {
  it("two processes adding the same IDs at once create each workflow once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dt-idem-"))
    const file = join(dir, "store.sqlite")
    new SQLiteStorageProvider(file).db.close()
    const script = fileURLToPath(new URL("./fixtures/add-same-ids.js", import.meta.url))
    const run = promisify(execFile)
    const outputs = await Promise.all([run(process.execPath, [script, file, "40"]), run(process.execPath, [script, file, "40"])])
    const created = outputs.map((o) => JSON.parse(o.stdout) as boolean[])
    for (let i = 0; i < 40; i++) {
      assert.equal(Number(created[0]![i]) + Number(created[1]![i]), 1, `workflow ${i} created ${Number(created[0]![i]) + Number(created[1]![i])} times`)
    }
    const storage = new SQLiteStorageProvider(file)
    const runner = new WorkflowRunner({ taskRunners: [{ Name: "Echo", Execute: async () => ({}) }], storageProvider: storage })
    const rows = storage.db.prepare("SELECT workflow_id, COUNT(*) AS n FROM durabletasks_tasks GROUP BY workflow_id").all() as Array<{ n: number }>
    assert.equal(rows.length, 40)
    assert.ok(rows.every((r) => r.n === 2))
    await runner.stop()
    rmSync(dir, { recursive: true, force: true })
  })
})
