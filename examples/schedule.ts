/**
 * `npm run example:schedule`: a schedule every 2 seconds and a delayed start,
 * on the embedded SQLite default. Two runners share the file, as two
 * processes would; each tick runs once, whichever runner fires it.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { WorkflowRunner, defineTask } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"

const dir = mkdtempSync(join(tmpdir(), "durabletasks-schedule-"))
const file = join(dir, "schedule.sqlite")

const report = defineTask<{ kind: string }, string>()({
  Name: "Report",
  Execute: async (ctx) => {
    console.log(`  ${new Date().toISOString()}  ${ctx.workflowID}`)
    return { data: `${ctx.data.kind} done` }
  },
})

const runners = ["a", "b"].map(
  (runnerID) => new WorkflowRunner({ taskRunners: [report], storageProvider: new SQLiteStorageProvider(file), runnerID, pollIntervalMS: 200 }),
)
try {
  for (const runner of runners) {
    // Every runner declares it at start; the stored definition is replaced only when it changes.
    await runner.schedule({
      id: "status-report",
      cron: "*/2 * * * * *", // every 2 seconds (6 fields: seconds first)
      workflow: { tasks: { report: { task: "Report", data: { kind: "status" } } } },
      overlap: "skip",
    })
    await runner.recover()
  }
  const [a] = runners as [WorkflowRunner<readonly [typeof report]>]
  const later = await a.addWorkflow({ workflowID: "one-off", delayMS: 3_000, tasks: { report: { task: "Report", data: { kind: "one-off" } } } })
  console.log("a schedule every 2 s on two runners, and a workflow that starts in 3 s:")
  await new Promise((r) => setTimeout(r, 7_000))
  await later.result()
  const info = await a.getSchedule("status-report")
  console.log(`\nnext fire ${info?.nextFireAt?.toISOString()}, last ${info?.lastWorkflow?.id} (${info?.lastWorkflow?.status}), skipped ${info?.skippedTicks}`)
} finally {
  for (const runner of runners) await runner.stop()
  rmSync(dir, { recursive: true, force: true })
}
