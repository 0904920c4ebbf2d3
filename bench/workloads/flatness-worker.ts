/**
 * Child process of bench/flatness.ts: one runner process, with retention on,
 * that runs whatever the parent's producer adds to the schema.
 *
 * Protocol (lines): it prints `{"ready":true}` once its storage is open; on
 * `go` from stdin it starts its runner (`recover()`); it then reports
 * `{"ended":n,"failed":f,"lastEndAt":t,"storageErrors":e,"rssMB":m}` every
 * 100 ms while its count of ended workflows changes (t: epoch ms of its
 * latest end, sub-millisecond); on `stop` it stops its runner, prints
 * `{"stopped":true,"cpuMS":…}` and exits.
 *
 * Usage: node flatness-worker.js '<json options>'
 */
import { createInterface } from "node:readline"
import { WorkflowRunner, type AnyTaskRunner } from "../../src/index.js"
import { PostgresStorageProvider } from "../../src/storage/postgres.js"
import { noop } from "./common.js"

interface Options {
  connectionString: string
  schema: string
  runnerID: string
  concurrency: number
  poolSize: number
  /** The runner's `retentionMS`; 0 for none. */
  retentionMS: number
}

const o = JSON.parse(process.argv[2]!) as Options
const say = (message: object) => process.stdout.write(JSON.stringify(message) + "\n")
const epochMS = () => performance.timeOrigin + performance.now()

const storage = new PostgresStorageProvider(o.connectionString, { schema: o.schema, poolConfig: { max: o.poolSize } })
const runner = new WorkflowRunner<readonly AnyTaskRunner[]>({
  taskRunners: [noop],
  storageProvider: storage,
  runnerID: o.runnerID,
  concurrency: o.concurrency,
  ...(o.retentionMS > 0 ? { retentionMS: o.retentionMS } : {}),
})
let ended = 0
let failed = 0
let lastEndAt = 0
let storageErrors = 0
runner.on("workflowEnded", ({ status }) => {
  if (status !== "completed") failed++
  ended++
  lastEndAt = epochMS()
})
runner.on("storageError", () => storageErrors++)
await storage.init()
const report = () => say({ ended, failed, lastEndAt, storageErrors, rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) })
let reported = -1
let reporter: NodeJS.Timeout | undefined
say({ ready: true })

const cpuBefore = process.cpuUsage()
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "go") {
    await runner.recover()
    reporter = setInterval(() => {
      if (ended === reported) return
      reported = ended
      report()
    }, 100)
  } else if (line === "stop") {
    clearInterval(reporter)
    const cpu = process.cpuUsage(cpuBefore)
    await runner.stop({ timeoutMS: 2_000 })
    report()
    say({ stopped: true, cpuMS: (cpu.user + cpu.system) / 1000 })
    process.exit(0)
  }
}
