/**
 * `npm run example:reminder`: a sign-up that sends a welcome, sleeps, and
 * then sends a reminder, on the embedded SQLite default. The sleep is 3
 * seconds here so the example ends soon; in an app it would be `"2d"`.
 * While it sleeps the workflow holds no lease and no concurrency slot; the
 * wake time is stored, so a restart in between does not restart the sleep.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { WorkflowRunner, defineTask } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"

const dir = mkdtempSync(join(tmpdir(), "durabletasks-reminder-"))

const sendEmail = defineTask<{ to: string; template: "welcome" | "reminder" }, { sentAt: string }>()({
  Name: "SendEmail",
  Execute: async (ctx) => {
    console.log(`  ${new Date().toISOString()}  ${ctx.data.template} email to ${ctx.data.to}`)
    return { data: { sentAt: new Date().toISOString() } }
  },
})

const runner = new WorkflowRunner({ taskRunners: [sendEmail], storageProvider: new SQLiteStorageProvider(join(dir, "app.sqlite")) })
try {
  await runner.recover()
  const handle = await runner.addWorkflow({
    workflowID: "signup-ada",
    tasks: {
      welcome: { task: "SendEmail", data: { to: "ada@example.com", template: "welcome" } },
      wait: { sleep: "3s" }, // "2d" in an app
      reminder: { task: "SendEmail", data: { to: "ada@example.com", template: "reminder" } },
    },
  })
  await new Promise((r) => setTimeout(r, 500))
  const sleeping = await runner.getWorkflow(handle.id)
  console.log(`  step "wait": ${sleeping?.tasks[1]?.state}; the workflow is ${sleeping?.state}, lease ${JSON.stringify(sleeping?.lease)}`)
  const done = await handle.result()
  console.log(`  ${done.status}; "wait" resulted in ${JSON.stringify(done.tasks[1]?.result)}`)
} finally {
  await runner.stop()
  rmSync(dir, { recursive: true, force: true })
}
