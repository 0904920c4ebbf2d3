/**
 * `npm run example:fan-out`: an import job that fans out to one child
 * workflow per file, on the embedded SQLite default. The parent adds its
 * children as the members of a parallel step and waits for them holding no
 * lease and no slot; each child's end wakes it (in the same transaction),
 * and its result carries every child's `{ id, status, results }`. Children
 * are ordinary workflows: any runner sharing the store may run them.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { WorkflowRunner, defineTask } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"

const dir = mkdtempSync(join(tmpdir(), "durabletasks-fan-out-"))

const importFile = defineTask<{ file: string }, { rows: number }>()({
  Name: "ImportFile",
  Execute: async (ctx) => {
    await new Promise((r) => setTimeout(r, 200))
    return { data: { rows: ctx.data.file.length * 100 } }
  },
})
const report = defineTask<null, string>()({
  Name: "Report",
  Execute: async (ctx) => {
    const files = ctx.getTaskResult("files") as Record<string, { results: { import: { rows: number } } }>
    const rows = Object.values(files).reduce((sum, child) => sum + child.results.import.rows, 0)
    return { data: `imported ${rows} rows from ${Object.keys(files).length} files` }
  },
})

const runner = new WorkflowRunner({ taskRunners: [importFile, report], storageProvider: new SQLiteStorageProvider(join(dir, "app.sqlite")) })
try {
  await runner.recover()
  const files = ["jan.csv", "feb.csv", "march.csv"]
  const handle = await runner.addWorkflow({
    workflowID: "import-2030-q1",
    tasks: {
      // One child workflow per file, all at once; each is the workflow "import-2030-q1/<label>".
      files: { parallel: Object.fromEntries(files.map((file) => [file.replace(".csv", ""), { workflow: { tasks: { import: { task: "ImportFile", data: { file } } } } }])) },
      report: { task: "Report", data: null },
    },
  })
  const done = await handle.result()
  console.log(`  ${done.status}: ${String(done.tasks.at(-1)?.result)}`)
  for (const child of await runner.listWorkflows({ limit: 10 })) console.log(`  ${child.id}  ${child.status}`)
} finally {
  await runner.stop()
  rmSync(dir, { recursive: true, force: true })
}
