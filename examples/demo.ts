/**
 * `npm run demo`: a four-step order workflow on the embedded SQLite default.
 * The first process kills itself (SIGKILL) in the middle of step 3; a second
 * process recovers and finishes from that step. Steps 1 and 2 are not run again.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { WorkflowRunner, defineTask } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"

const [mode, dir] = process.argv.slice(2)

if (mode === "worker" && dir) await worker(dir)
else await main()

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "durabletasks-demo-"))
  console.log(`durabletasks demo: database ${join(dir, "demo.sqlite")}\n`)
  for (let life = 1; ; life++) {
    console.log(`--- process ${life} starts`)
    const code = await new Promise<number | string>((resolve) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "worker", dir], { stdio: "inherit" })
      child.on("exit", (code, signal) => resolve(signal ?? code ?? 0))
    })
    if (code === 0) break
    console.log(`--- process ${life} died (${code}); starting another one\n`)
    if (life >= 3) throw new Error("the demo did not finish after 3 processes")
  }
  rmSync(dir, { recursive: true, force: true })
}

async function worker(dir: string): Promise<void> {
  const log = (line: string) => console.log(`[pid ${process.pid}] ${line}`)
  const step = (n: number, what: string) =>
    defineTask<{ orderID: string }, string>()({
      Name: what,
      Execute: async (ctx) => {
        log(`step ${n} ${what}: running (attempt ${ctx.attempt}, idempotency key ${ctx.idempotencyKey})`)
        await new Promise((r) => setTimeout(r, 300))
        const crashMarker = join(dir, "crashed")
        if (n === 3 && !existsSync(crashMarker)) {
          writeFileSync(crashMarker, "")
          log(`step ${n} ${what}: the process is killed in the middle of this step (SIGKILL)`)
          process.kill(process.pid, "SIGKILL")
        }
        log(`step ${n} ${what}: done`)
        return { data: `${what} ok for ${ctx.data.orderID}` }
      },
    })
  const runner = new WorkflowRunner({
    taskRunners: [step(1, "ReserveStock"), step(2, "ChargeCard"), step(3, "ShipOrder"), step(4, "SendReceipt")],
    retryDelayMS: 1000,
    storageProvider: new SQLiteStorageProvider(join(dir, "demo.sqlite")),
    logger: { error: (m) => log(`error: ${m}`), warn: (m) => log(`warn: ${m}`) },
  })
  await runner.recover()
  const order = { orderID: "order-42" }
  const handle = await runner.addWorkflow({
    workflowID: "order-42",
    tasks: {
      reserve: { task: "ReserveStock", data: order },
      charge: { task: "ChargeCard", data: order },
      ship: { task: "ShipOrder", data: order },
      receipt: { task: "SendReceipt", data: order },
    },
  })
  log(handle.created ? `workflow ${handle.id} added and stored` : `workflow ${handle.id} already stored: recovering it`)
  const info = await handle.result()
  log(`workflow ${info.id} ${info.status}:`)
  for (const t of info.tasks) log(`  ${t.seq} ${t.name.padEnd(8)} ${t.status.padEnd(9)} ${JSON.stringify(t.result)}`)
  await runner.stop()
}
