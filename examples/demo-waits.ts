/**
 * `npm run demo:waits`: a workflow sleeps, then waits for an event sent from
 * ANOTHER process, and survives a kill while it waits.
 *
 * This process adds the workflow through a `WorkflowClient` (it has no task
 * code) and starts a runner in a child process. Once the workflow waits for
 * its event, the runner is killed with SIGKILL. This process then sends the
 * event (no runner is alive: it is stored, and the parked workflow is made
 * claimable), starts a new runner process, and the workflow completes with
 * the event as the wait's result. SQLite file, about 5 seconds.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { WorkflowClient, WorkflowRunner } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"

const [mode, file] = process.argv.slice(2)
if (mode === "runner" && file) await runnerProcess(file)
else await main()

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "durabletasks-demo-waits-"))
  const file = join(dir, "demo.sqlite")
  const client = new WorkflowClient({ storageProvider: new SQLiteStorageProvider(file), pollIntervalMS: 100 })
  const show = async (what: string) => {
    const w = await client.getWorkflow("order-7")
    console.log(`  [${what}] ${w?.status} (${w?.state ?? "ended"}): ${w?.tasks.map((s) => `${s.name}=${s.state}`).join(", ")}`)
  }
  let child: ChildProcess | undefined
  try {
    console.log(`durabletasks demo:waits, database ${file}\n`)
    const handle = await client.addWorkflow({
      workflowID: "order-7",
      tasks: [
        { name: "cooloff", sleep: "1s" },
        { name: "payment", waitForEvent: { name: "payment", key: "order-7", timeoutMS: "1h" } },
        { name: "ship", task: "Ship", data: { orderID: "order-7" } },
      ],
    })
    console.log(`process ${process.pid} added order-7 (sleep 1s, wait for "payment", ship)`)
    child = startRunner(file)
    await until(async () => (await client.getWorkflow("order-7"))?.tasks[0]?.state.startsWith("sleeping") === true)
    await show("sleeping")
    await until(async () => (await client.getWorkflow("order-7"))?.tasks[1]?.state.startsWith("waiting") === true)
    await show("waiting ")
    child.kill("SIGKILL")
    await new Promise((resolve) => child?.once("exit", resolve))
    console.log(`\nrunner process ${child.pid} killed with SIGKILL while order-7 waits\n`)
    const sent = await client.sendEvent({ name: "payment", key: "order-7", payload: { amount: 42 }, eventID: "psp-7" })
    console.log(`process ${process.pid} sent "payment" (key order-7): stored at seq ${sent.seq}, woke ${sent.woken} waiting workflow(s)`)
    await show("event in ")
    child = startRunner(file)
    const done = await handle.result()
    console.log(`\norder-7 ${done.status}; "payment" resulted in ${JSON.stringify(done.tasks[1]?.result)}`)
    await show("done    ")
  } finally {
    child?.kill("SIGTERM")
    await client.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

function startRunner(file: string): ChildProcess {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "runner", file], { stdio: "inherit" })
  console.log(`runner process ${child.pid} started`)
  return child
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error("the demo did not get there within 10 s")
}

async function runnerProcess(file: string): Promise<void> {
  const runner = new WorkflowRunner({
    taskRunners: [
      {
        Name: "Ship",
        Execute: (ctx) => {
          console.log(`  runner ${process.pid}: shipping ${JSON.stringify(ctx.data)}, paid ${JSON.stringify(ctx.getTaskResult("payment"))}`)
          return { data: "shipped" }
        },
      },
    ],
    storageProvider: new SQLiteStorageProvider(file),
    pollIntervalMS: 100,
  })
  process.on("SIGTERM", () => void runner.stop().then(() => process.exit(0)))
  await runner.recover()
}
