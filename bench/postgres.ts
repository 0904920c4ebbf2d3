/**
 * Postgres benchmark: prints a table and writes the figures as JSON to
 * bench/results/postgres.json.
 *
 * Workloads (workflows of 3 no-op tasks, as in bench/run.ts):
 * - end to end: N workflows (default 10,000) until every one has ended, with
 *   1, 2 and 4 runner processes (child processes, runnerIDs `bench-0` …, one
 *   schema). The workflows are split among the children: each adds its share
 *   (all at once, through its own runner, which claims what it has free slots
 *   for at insert and leaves the rest for any runner to claim), so adding is
 *   part of the figure. Timed from the parent's `go` to the last workflow's
 *   end in any child. With `--parent-adds` the parent adds them all instead
 *   (through a runner that is not started, so nothing is leased at insert) and
 *   the children only claim and run: the claim path.
 *   Each count is measured twice: with fresh ("cold") processes, whose code
 *   V8 has not optimized yet (with 4 processes on 2 cores, compiling is a
 *   large part of a 2-second run), and with processes that first ran
 *   `--warmup` workflows each, untimed and on the same schema ("warm"), as a
 *   long-running runner would be (bench/run.ts measures in one process, warm
 *   after its first run).
 * - add: addWorkflow on a runner that executes nothing, 2,000 awaited one at
 *   a time, then 10,000 issued at once (bench/workloads/add-rate.ts).
 * - latency: on an idle runner (one process), the time from calling
 *   addWorkflow to the first task's Execute, 1,000 samples taken one at a time.
 * - recovery: a backlog of 100,000 pending workflows (random UUIDv4 IDs),
 *   inserted through the provider 10,000 per statement, then a child process
 *   that opens the schema and recovers: open -> first task, open -> all
 *   ended, tasks/s, peak RSS (bench/workloads/recovery.ts). The backlog is
 *   rebuilt for each run (untimed): recovery consumes it.
 * - memory: heap per pending workflow that waits in storage while every slot
 *   is taken (50,000 pending, concurrency in flight), in a child process with
 *   --expose-gc (bench/workloads/memory-child.ts).
 * add, latency, recovery and memory are the SQLite bench's workloads, run on
 * Postgres through the same code (bench/workloads/storage.ts).
 *
 * The server's settings are the defaults: synchronous_commit on (each commit
 * waits for its WAL flush). Each run uses a fresh schema, dropped afterwards.
 *
 * Options (flags or environment):
 *   --quick              (BENCH_QUICK=1)      1,000 workflows, 200 warm-up, 200 samples, adds of 200 / 1,000,
 *                                             a backlog of 10,000, 5,000 pending, one run: a smoke test
 *   --runs N             (BENCH_RUNS=N)       runs per figure; the median is reported (default 3)
 *   --workflows N                             end to end size (default 10,000)
 *   --processes 1,2,4                         runner process counts (default 1,2,4)
 *   --concurrency N      (BENCH_CONCURRENCY)  each runner's concurrency option (default 500)
 *   --pool N                                  pg pool size per runner process (default 10, pg's default)
 *   --warmup N                                workflows each process runs before the warm rows (default 1,000; 0: cold rows only)
 *   --parent-adds                             also measure end to end (warm) with the parent adding everything
 *   --backlog N                               recovery backlog size (default 100,000)
 *   --only e2e,add,latency,recovery,memory    only these workloads
 *   --out FILE                                where to write the JSON (default bench/results/postgres.json)
 *   --skip-if-unreachable                     if the server cannot be reached, say so and exit 0
 *                                             (how `npm run bench` runs this after the SQLite bench)
 * Connection: DURABLETASKS_BENCH_POSTGRES, else DURABLETASKS_TEST_POSTGRES,
 * else postgres://postgres@127.0.0.1:5432/test.
 *
 * Profile the runner side with `node --cpu-prof build/bench/postgres.js --only latency`
 * (in-process), or pass `--cpu-prof` to the children with `--child-node-args=--cpu-prof`.
 */
import type { ChildProcess } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { WorkflowRunner } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { fmt, median, table, type Figure } from "./stats.js"
import { runAddRate } from "./workloads/add-rate.js"
import { spawnLineChild } from "./workloads/line-child.js"
import { TASKS_PER_WORKFLOW, noop, workflowInput } from "./workloads/common.js"
import { runLatency, type LatencyRun } from "./workloads/latency.js"
import { memoryFigures, runMemory } from "./workloads/memory.js"
import { runFreshRecovery } from "./workloads/recovery.js"
import { dropSchema, freshSchema, postgresAdmin, postgresStores } from "./workloads/storage.js"
import { optionText } from "./workloads/args.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, "..", "..")
const connectionString =
  process.env.DURABLETASKS_BENCH_POSTGRES ?? process.env.DURABLETASKS_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test"

const WORKLOADS = ["e2e", "add", "latency", "recovery", "memory"] as const
type Workload = (typeof WORKLOADS)[number]
/** The SQLite bench's names (and a few short ones) for the same workloads. */
const ALIASES: Record<string, Workload> = { "end-to-end": "e2e", "add-rate": "add", mem: "memory" }

interface Options {
  quick: boolean
  runs: number
  workflows: number
  processes: number[]
  concurrency: number
  pool: number
  warmup: number
  parentAdds: boolean
  only: Set<Workload>
  latencySamples: number
  addSequential: number
  addConcurrent: number
  backlog: number
  pending: number
  childNodeArgs: string[]
  out: string
  skipIfUnreachable: boolean
}

function parseOptions(argv: string[]): Options {
  const flag = (name: string) => argv.includes(`--${name}`)
  const value = (name: string, env?: string) => {
    const given = optionText(argv, name)
    if (given !== undefined) return given
    return env ? process.env[env] : undefined
  }
  const quick = flag("quick") || process.env.BENCH_QUICK === "1"
  const int = (text: string | undefined, fallback: number, what: string) => {
    const n = Number(text ?? fallback)
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what} takes a positive integer`)
    return n
  }
  const only = new Set<Workload>()
  for (const raw of value("only")?.split(",") ?? WORKLOADS) {
    const name = ALIASES[raw.trim()] ?? (raw.trim() as Workload)
    if (!WORKLOADS.includes(name)) throw new Error(`unknown workload "${raw}": use ${WORKLOADS.join(", ")}`)
    only.add(name)
  }
  const processes = (value("processes") ?? "1,2,4").split(",").map((p) => int(p.trim(), 1, "--processes"))
  return {
    quick,
    runs: int(value("runs", "BENCH_RUNS"), quick ? 1 : 3, "--runs"),
    workflows: int(value("workflows"), quick ? 1_000 : 10_000, "--workflows"),
    processes,
    concurrency: int(value("concurrency", "BENCH_CONCURRENCY"), 500, "--concurrency"),
    pool: int(value("pool"), 10, "--pool"),
    warmup: value("warmup") === "0" ? 0 : int(value("warmup"), quick ? 200 : 1_000, "--warmup"),
    parentAdds: flag("parent-adds"),
    only,
    latencySamples: quick ? 200 : 1_000,
    addSequential: quick ? 200 : 2_000,
    addConcurrent: quick ? 1_000 : 10_000,
    backlog: int(value("backlog"), quick ? 10_000 : 100_000, "--backlog"),
    pending: quick ? 5_000 : 50_000,
    childNodeArgs: (value("child-node-args") ?? "").split(" ").filter((a) => a !== ""),
    out: value("out", "BENCH_OUT") ?? path.join(repoRoot, "bench", "results", "postgres.json"),
    skipIfUnreachable: flag("skip-if-unreachable"),
  }
}

// ---- schema per run ---------------------------------------------------------

const stores = postgresStores(connectionString)
const admin = <R extends Record<string, unknown>>(text: string) => postgresAdmin<R>(connectionString, text)

// ---- CPU accounting -----------------------------------------------------------

/** CPU milliseconds used so far by every local `postgres` process (if the server runs here), from /proc. */
function postgresCPU(): number | undefined {
  try {
    const tick = 100 // USER_HZ on Linux
    let total = 0
    for (const pid of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue
      let stat: string
      try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      } catch {
        continue
      }
      const close = stat.lastIndexOf(")")
      if (!stat.slice(stat.indexOf("(") + 1, close).startsWith("postgres")) continue
      const fields = stat.slice(close + 2).split(" ")
      total += ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / tick
    }
    return total
  } catch {
    return undefined
  }
}

// ---- end to end ------------------------------------------------------------------

interface Worker {
  child: ChildProcess
  ended: number
  failed: number
  lastEndAt: number
  addedAt?: number
  cpuMS?: number
  calls?: Record<string, { calls: number; rows: number }>
  error?: string
  ready: Promise<void>
  stopped: Promise<void>
  exited: Promise<number | null>
  onChange?: () => void
}

function startWorker(options: Record<string, unknown>, nodeArgs: string[]): Worker {
  const script = fileURLToPath(new URL("./workloads/postgres-worker.js", import.meta.url))
  let stoppedResolve!: () => void
  const worker: Worker = {
    ended: 0,
    failed: 0,
    lastEndAt: 0,
    stopped: new Promise<void>((r) => (stoppedResolve = r)),
    // Lines arrive once this object exists: the callback only runs later.
    ...spawnLineChild(
      script,
      [JSON.stringify(options)],
      (m) => {
        if (typeof m.ended === "number") {
          worker.ended = m.ended
          worker.failed = Number(m.failed ?? 0)
          worker.lastEndAt = Number(m.lastEndAt)
        }
        if (typeof m.addedAt === "number") worker.addedAt = m.addedAt
        if (typeof m.error === "string") worker.error = m.error
        if (m.stopped) {
          worker.cpuMS = Number(m.cpuMS)
          worker.calls = m.calls as Worker["calls"]
          stoppedResolve()
        }
        worker.onChange?.()
      },
      { nodeArgs },
    ),
  }
  return worker
}

interface EndToEndRun {
  tasksPerSec: number
  totalMS: number
  addedMS: number
  /** Workflows each process ended (how the work spread). */
  endedBy: number[]
  /** CPU ms of the runner processes and of Postgres during the run. */
  runnerCPUMS: number
  postgresCPUMS: number | undefined
  /** Provider calls summed over the processes: calls and rows per method. */
  calls: Record<string, { calls: number; rows: number }>
}

async function runEndToEnd(options: Options, processes: number, parentAdds: boolean, warmup: number): Promise<EndToEndRun> {
  const n = options.workflows
  const schema = await freshSchema(connectionString)
  const workers: Worker[] = []
  let adder: WorkflowRunner | undefined
  try {
    for (let p = 0; p < processes; p++) {
      const from = parentAdds ? 0 : Math.floor((n * p) / processes)
      const to = parentAdds ? 0 : Math.floor((n * (p + 1)) / processes)
      workers.push(
        startWorker(
          { connectionString, schema, runnerID: `bench-${p}`, concurrency: options.concurrency, from, to, poolSize: options.pool, warmup },
          options.childNodeArgs,
        ),
      )
    }
    await Promise.all(workers.map((w) => w.ready))
    if (parentAdds) {
      adder = new WorkflowRunner({ taskRunners: [noop], storageProvider: new PostgresStorageProvider(connectionString, { schema }) })
      await adder.getWorkflow("warm-up") // connect and init before the clock starts
    }
    const allEnded = new Promise<void>((resolve, reject) => {
      const check = () => {
        const failed = workers.find((w) => w.error !== undefined)
        if (failed) reject(new Error(`a bench worker failed to add: ${failed.error}`))
        if (workers.reduce((s, w) => s + w.ended, 0) >= n) resolve()
      }
      for (const w of workers) w.onChange = check
      for (const w of workers) void w.exited.then((code) => reject(new Error(`a bench worker exited early (code ${code})`)))
    })
    const cpuBefore = postgresCPU()
    const startedAt = performance.timeOrigin + performance.now()
    let addedAt = 0
    if (parentAdds) {
      const inputs = Array.from({ length: n }, (_, i) => workflowInput(`wf-${i}`))
      for (const w of workers) w.child.stdin!.write("go\n")
      await Promise.all(inputs.map((input) => adder!.addWorkflow(input)))
      addedAt = performance.timeOrigin + performance.now()
    } else {
      for (const w of workers) w.child.stdin!.write("go\n")
    }
    await allEnded
    const cpuAfter = postgresCPU()
    for (const w of workers) w.child.stdin!.write("stop\n")
    await Promise.all(workers.map((w) => w.stopped))
    const endedAt = Math.max(...workers.map((w) => w.lastEndAt))
    if (!parentAdds) addedAt = Math.max(...workers.map((w) => w.addedAt ?? endedAt))
    const failed = workers.reduce((s, w) => s + w.failed, 0)
    if (failed > 0) throw new Error(`${failed} workflows did not complete`)
    const totalMS = endedAt - startedAt
    return {
      tasksPerSec: (n * TASKS_PER_WORKFLOW) / (totalMS / 1000),
      totalMS,
      addedMS: addedAt - startedAt,
      endedBy: workers.map((w) => w.ended),
      runnerCPUMS: workers.reduce((s, w) => s + (w.cpuMS ?? 0), 0),
      postgresCPUMS: cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined,
      calls: sumCalls(workers.map((w) => w.calls ?? {})),
    }
  } finally {
    // Stopped workers exit by themselves (a profiling one writes its profile first); the others are killed.
    await Promise.race([Promise.all(workers.map((w) => w.exited)), new Promise((r) => setTimeout(r, 5_000))])
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL")
    await Promise.all(workers.map((w) => w.exited))
    await adder?.stop({ timeoutMS: 1_000 })
    await dropSchema(connectionString, schema)
  }
}

function sumCalls(all: Array<Record<string, { calls: number; rows: number }>>): Record<string, { calls: number; rows: number }> {
  const sum: Record<string, { calls: number; rows: number }> = {}
  for (const calls of all) {
    for (const [method, c] of Object.entries(calls)) {
      const s = (sum[method] ??= { calls: 0, rows: 0 })
      s.calls += c.calls
      s.rows += c.rows
    }
  }
  return sum
}

// ---- main --------------------------------------------------------------------------

/** 1-minute load averages seen at the start of each run: this machine may be shared, and the figures say so. */
const loadAtRunStart: number[] = []

async function repeat<T>(runs: number, what: string, fn: () => Promise<T>): Promise<T[]> {
  const results: T[] = []
  for (let i = 0; i < runs; i++) {
    loadAtRunStart.push(os.loadavg()[0]!)
    process.stderr.write(`  ${what} (run ${i + 1}/${runs}, load ${os.loadavg()[0]!.toFixed(2)})…\n`)
    results.push(await fn())
  }
  return results
}

async function server(): Promise<Record<string, string>> {
  const rows = await admin<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers', 'max_connections')",
  )
  return Object.fromEntries(rows.map((r) => [r.name, r.setting]))
}

/** Why a failed connection failed, in one line (Node reports a refused dual-stack connect as an AggregateError without a message). */
function reason(error: unknown): string {
  if (error instanceof AggregateError && error.message === "") return error.errors.map((e: unknown) => reason(e)).join("; ")
  if (error instanceof Error) return error.message || (error as { code?: string }).code || error.name
  return String(error)
}

/**
 * The server's settings. If it cannot be reached: with `--skip-if-unreachable`
 * prints why and returns undefined, else throws.
 */
async function reachServer(options: Options): Promise<Record<string, string> | undefined> {
  try {
    return await server()
  } catch (error) {
    const why =
      `cannot reach Postgres at ${redact(connectionString)} (${reason(error)}); ` +
      `point the bench at a server with DURABLETASKS_BENCH_POSTGRES=postgres://user@host:5432/db`
    if (!options.skipIfUnreachable) throw new Error(`Postgres bench: ${why}`)
    process.stdout.write(`
Postgres bench skipped: ${why}
`)
    return undefined
  }
}

/** Digits shown for a figure in `unit`. */
const digits = (unit: string) => (unit === "ms" || unit === "bytes" ? 2 : 0)

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const settings = await reachServer(options)
  if (!settings) return
  if (settings.synchronous_commit !== "on") process.stderr.write(`warning: synchronous_commit is ${settings.synchronous_commit}, not on\n`)
  process.stderr.write(
    `durabletasks Postgres bench: ${redact(connectionString)}, server ${settings.server_version}, synchronous_commit ${settings.synchronous_commit}; ` +
      `concurrency ${options.concurrency}, ${options.runs} run(s) per figure${options.quick ? ", quick" : ""}\n`,
  )
  const figures: Figure[] = []
  const started = Date.now()

  if (options.only.has("e2e")) {
    // Fresh ("cold") processes, then processes that first ran `warmup` workflows each ("warm"); parent adds, warm, if asked.
    const modes: Array<{ warmup: number; parentAdds: boolean }> = [{ warmup: 0, parentAdds: false }]
    if (options.warmup > 0) modes.push({ warmup: options.warmup, parentAdds: false })
    if (options.parentAdds) modes.push({ warmup: options.warmup, parentAdds: true })
    for (const { warmup, parentAdds } of modes) {
      for (const processes of options.processes) {
        const who = `${parentAdds ? "parent adds" : "runners add"}, ${warmup > 0 ? `warm (${fmt(warmup)} workflows each first)` : "cold processes"}`
        const rs = await repeat(options.runs, `end to end, ${processes} process(es), ${who}`, () => runEndToEnd(options, processes, parentAdds, warmup))
        const value = median(rs.map((r) => r.tasksPerSec))
        figures.push({
          key: `postgres.endToEnd.${processes}p.${warmup > 0 ? "warm" : "cold"}${parentAdds ? ".parentAdds" : ""}`,
          label: `end to end (${fmt(options.workflows)} x 3 tasks), ${processes} process${processes === 1 ? "" : "es"}, ${who}`,
          unit: "tasks/s",
          median: value,
          samples: rs.map((r) => r.tasksPerSec),
          higherIsBetter: true,
          target: { text: ">= 15,000/s", met: value >= 15_000 },
          details: {
            concurrency: options.concurrency,
            poolPerProcess: options.pool,
            warmupPerProcess: warmup,
            addedMS: median(rs.map((r) => r.addedMS)),
            totalMS: median(rs.map((r) => r.totalMS)),
            endedByProcess: rs.map((r) => r.endedBy),
            runnerCPUMS: median(rs.map((r) => r.runnerCPUMS)),
            postgresCPUMS: rs.every((r) => r.postgresCPUMS !== undefined) ? median(rs.map((r) => r.postgresCPUMS!)) : undefined,
            providerCallsPerRun: rs.map((r) => r.calls),
          },
        })
      }
    }
  }

  if (options.only.has("latency")) {
    const rs = await repeat(options.runs, `latency add -> first task (${options.latencySamples} samples)`, () => runLatency(stores, options.latencySamples))
    for (const [p, pick, target] of [
      ["p50", (x: LatencyRun) => x.p50MS, 2],
      ["p99", (x: LatencyRun) => x.p99MS, undefined],
    ] as const) {
      const value = median(rs.map(pick))
      figures.push({
        key: `postgres.latency.${p}`,
        label: `latency add -> first task start, ${p} (${fmt(options.latencySamples)} samples, idle runner)`,
        unit: "ms",
        median: value,
        samples: rs.map(pick),
        higherIsBetter: false,
        ...(target !== undefined ? { target: { text: `<= ${target} ms`, met: value <= target } } : {}),
        ...(p === "p99" ? { details: { maxMS: median(rs.map((x) => x.maxMS)) } } : {}),
      })
    }
  }

  if (options.only.has("add")) {
    for (const mode of ["sequential", "concurrent"] as const) {
      const count = mode === "sequential" ? options.addSequential : options.addConcurrent
      const rs = await repeat(options.runs, `add ${mode} (${fmt(count)})`, () => runAddRate(stores, "random", mode, count))
      const value = median(rs.map((r) => r.workflowsPerSec))
      figures.push({
        key: `postgres.add.${mode}`,
        label: `add, ${mode === "sequential" ? "one at a time" : "all at once"} (${fmt(count)}), UUIDv4 IDs`,
        unit: "workflows/s",
        median: value,
        samples: rs.map((r) => r.workflowsPerSec),
        higherIsBetter: true,
      })
    }
  }

  if (options.only.has("recovery")) {
    const n = options.backlog
    const rs = await repeat(options.runs, `recovery of ${fmt(n)} pending (backlog built first, untimed)`, () =>
      runFreshRecovery(stores, n, "random", options.concurrency),
    )
    const name = `recovery of ${fmt(n)} pending, UUIDv4 IDs`
    const figure = (key: string, label: string, unit: string, pick: (r: (typeof rs)[number]) => number, higherIsBetter = false): Figure => ({
      key: `postgres.recovery.${key}`,
      label: `${name}: ${label}`,
      unit,
      median: median(rs.map(pick)),
      samples: rs.map(pick),
      higherIsBetter,
    })
    figures.push(
      { ...figure("firstTaskMS", "open -> first task", "ms", (r) => r.firstTaskMS), details: { concurrency: options.concurrency, backlogBuildMS: median(rs.map((r) => r.buildMS)) } },
      figure("allDoneMS", "open -> all ended", "ms", (r) => r.allDoneMS),
      figure("tasksPerSec", "throughput", "tasks/s", (r) => r.tasksPerSec, true),
      { ...figure("peakRSSMB", "peak RSS", "MB", (r) => r.peakRSSBytes / 2 ** 20), details: { startRSSMB: median(rs.map((r) => r.startRSSBytes / 2 ** 20)) } },
    )
  }

  if (options.only.has("memory")) {
    const rs = await repeat(options.runs, `memory (${fmt(options.pending)} pending)`, () => runMemory(stores, options.pending, options.concurrency))
    figures.push(...memoryFigures(rs, options.pending, options.concurrency, "postgres."))
  }

  const rows = figures.map((f) => [
    f.label,
    `${fmt(f.median, digits(f.unit))} ${f.unit}`,
    f.samples.map((s) => fmt(s, digits(f.unit))).join(" / "),
    f.target ? `${f.target.text} ${f.target.met ? "met" : "MISSED"}` : "",
  ])
  process.stdout.write(
    `\ndurabletasks Postgres bench — Postgres ${settings.server_version}, synchronous_commit ${settings.synchronous_commit}; ` +
      `concurrency ${options.concurrency}; median of ${options.runs}\n\n`,
  )
  process.stdout.write(table(["workload", "median", "runs", "target"], rows) + "\n")
  for (const f of figures) {
    const d = f.details
    if (d && "postgresCPUMS" in d) {
      process.stdout.write(
        `  ${f.key}: total ${fmt(Number(d.totalMS))} ms, adds returned at ${fmt(Number(d.addedMS))} ms, ` +
          `CPU: runners ${fmt(Number(d.runnerCPUMS))} ms, postgres ${d.postgresCPUMS === undefined ? "n/a" : fmt(Number(d.postgresCPUMS))} ms; ` +
          `provider calls (calls/rows): ${callsText((d.providerCallsPerRun as EndToEndRun["calls"][])[0] ?? {})}\n`,
      )
    }
  }

  const result = {
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      pg: (JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", "pg", "package.json"), "utf8")) as { version: string }).version,
      date: new Date().toISOString(),
    },
    server: { ...settings, location: redact(connectionString) },
    options: {
      runs: options.runs,
      workflows: options.workflows,
      processes: options.processes,
      concurrency: options.concurrency,
      poolPerProcess: options.pool,
      latencySamples: options.latencySamples,
      addSequential: options.addSequential,
      addConcurrent: options.addConcurrent,
      recoveryBacklog: options.backlog,
      memoryPending: options.pending,
      adds: "end to end: split among the runner processes (each adds its share all at once)" + (options.parentAdds ? "; parentAdds rows: the parent adds all" : ""),
      warmupPerProcess: options.warmup,
    },
    elapsedMS: Date.now() - started,
    loadAverageAtRunStart: { min: Math.min(...loadAtRunStart), median: median(loadAtRunStart), max: Math.max(...loadAtRunStart) },
    figures,
  }
  fs.mkdirSync(path.dirname(options.out), { recursive: true })
  fs.writeFileSync(options.out, JSON.stringify(result, null, 2) + "\n")
  process.stdout.write(
    `\n1-minute load average at the start of runs: ${fmt(Math.min(...loadAtRunStart), 2)} to ${fmt(Math.max(...loadAtRunStart), 2)} (${os.cpus().length} CPUs)\n`,
  )
  process.stdout.write(`wrote ${path.relative(process.cwd(), options.out) || options.out}\n`)
}

function callsText(calls: EndToEndRun["calls"]): string {
  const short: Record<string, string> = { insertWorkflowsAndTasks: "insert", claimWorkflows: "claim", applyWorkflowWrites: "update", renewLeases: "renew" }
  return Object.entries(calls)
    .filter(([method]) => method in short)
    .map(([method, c]) => `${short[method]} ${fmt(c.calls)}/${fmt(c.rows)}`)
    .join(", ")
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@")
}

await main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
