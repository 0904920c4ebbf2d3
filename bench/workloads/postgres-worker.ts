/**
 * Child process of bench/postgres.ts: one runner process of the Postgres end
 * to end workload.
 *
 * Protocol (lines): it prints `{"ready":true}` once recovered; on `go` from
 * stdin it adds its share of the workflows (IDs `wf-<from>` … `wf-<to - 1>`,
 * all at once, as the SQLite workload does); it reports
 * `{"ended":n,"lastEndAt":t}` every 20 ms while its count of workflows it
 * ended changes (t: epoch ms of the latest end, sub-millisecond), and
 * `{"addedAt":t}` once all its adds returned; on `stop` it stops its runner
 * and prints `{"stopped":true,"cpuMS":…,"calls":…}` (its CPU time, and its
 * calls of each provider method with the rows they carried) before exiting.
 *
 * Usage: node postgres-worker.js '<json options>'
 */
import { createInterface } from "node:readline"
import { WorkflowRunner, type AnyTaskRunner } from "../../src/index.js"
import { PostgresStorageProvider } from "../../src/storage/postgres.js"
import { noop, workflowInput } from "./common.js"

interface Options {
  connectionString: string
  schema: string
  runnerID: string
  concurrency: number
  from: number
  to: number
  poolSize: number
  /** Workflows run before `ready`, untimed, to warm the process up. */
  warmup: number
}

const o = JSON.parse(process.argv[2]!) as Options
const say = (message: object) => process.stdout.write(JSON.stringify(message) + "\n")
const epochMS = () => performance.timeOrigin + performance.now()

/** Calls of each provider method and the rows they carried (sent or returned): how the work was batched. */
const calls: Record<string, { calls: number; rows: number }> = {}
const storage = new PostgresStorageProvider(o.connectionString, { schema: o.schema, poolConfig: { max: o.poolSize } })
const counted = new Proxy(storage, {
  get(target, property, receiver) {
    const value = Reflect.get(target, property, receiver) as unknown
    if (typeof value !== "function" || typeof property !== "string") return value
    return (...args: unknown[]) => {
      const c = (calls[property] ??= { calls: 0, rows: 0 })
      c.calls++
      if (Array.isArray(args[0])) c.rows += args[0].length
      const result = (value as (...a: unknown[]) => unknown).apply(target, args)
      if (property === "claimWorkflows" && result instanceof Promise) {
        return result.then((claimed: unknown[]) => ((c.rows += claimed.length), claimed))
      }
      return result
    }
  },
})

const runner = new WorkflowRunner<readonly AnyTaskRunner[]>({
  taskRunners: [noop],
  storageProvider: counted,
  runnerID: o.runnerID,
  concurrency: o.concurrency,
})
let ended = 0
let failed = 0
let lastEndAt = 0
runner.on("workflowEnded", ({ status }) => {
  if (status !== "completed") failed++
  ended++
  lastEndAt = epochMS()
})
await runner.recover()
if (o.warmup > 0) {
  // Warm-up, not timed: a long-running runner's code is optimized by the time work comes.
  const handles = await Promise.all(
    Array.from({ length: o.warmup }, (_, i) => runner.addWorkflow(workflowInput(`warm-${o.runnerID}-${i}`))),
  )
  await Promise.all(handles.map((h) => h.result()))
  ended = 0
  failed = 0
  for (const c of Object.values(calls)) (c.calls = 0), (c.rows = 0)
}
let reported = -1
const reporter = setInterval(() => {
  if (ended === reported) return
  reported = ended
  say({ ended, failed, lastEndAt })
}, 20)
say({ ready: true })

let cpuBefore = process.cpuUsage()
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "go") {
    const inputs = []
    for (let i = o.from; i < o.to; i++) inputs.push(workflowInput(`wf-${i}`))
    void Promise.all(inputs.map((input) => runner.addWorkflow(input))).then(
      () => say({ addedAt: epochMS() }),
      (error: unknown) => say({ error: String(error) }),
    )
  } else if (line === "stop") {
    clearInterval(reporter)
    const cpu = process.cpuUsage(cpuBefore)
    await runner.stop({ timeoutMS: 1_000 })
    say({ ended, failed, lastEndAt })
    say({ stopped: true, cpuMS: (cpu.user + cpu.system) / 1000, calls })
    process.exit(0)
  }
}
