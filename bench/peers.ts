/**
 * `npm run bench:peers`: durabletasks beside graphile-worker, pg-boss and
 * DBOS Transact on one Postgres, in one run, each on a fresh database.
 *
 * The peers are installed on demand into bench/peers (its own package.json
 * and lockfile; not dependencies of durabletasks). Workloads, one job = one
 * graphile-worker / pg-boss job = one durabletasks workflow of one task = one
 * DBOS workflow of one step, each job a no-op:
 * - burn-down: N jobs stored first (untimed), then P fresh worker processes
 *   start; timed from `go` until the database shows every job finished
 *   (committed), with P = 1, 2, 4.
 * - add and run: P processes each add N/P jobs, all at once through the
 *   per-job API (addWorkflow, addJob, send, startWorkflow), and run them; timed
 *   from `go` until the database shows every job finished.
 * - latency: one idle worker process adds one job at a time and times from
 *   the add call to the handler's start; p50 and p99.
 * Runs are interleaved: run r of a figure measures every system before run
 * r + 1 of any, so load on the shared machine falls on all alike. Medians.
 *
 * Options: --systems a,b (default all) --jobs N (default 20,000)
 * --processes 1,2,4 --runs N (default 3) --latency-samples N (default 500)
 * --only burndown,addrun,latency --quick (2,000 jobs, 1 run, 100 samples)
 * --out FILE (default bench/results/peers.json).
 * Connection: DURABLETASKS_BENCH_POSTGRES (default
 * postgres://postgres@127.0.0.1:5432/test); the bench creates and drops
 * databases named peers_bench_* on that server, so the role needs CREATEDB.
 *
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { fmt, median, percentile, table } from "./stats.js"
import { peersDir } from "./peers/system.js"
import { sampleServerCPU } from "./peers/server-cpu.js"
import { SYSTEM_NAMES, loadSystem } from "./peers/systems.js"
import { optionText } from "./workloads/args.js"
import { freshDatabase, type FreshDatabase } from "./workloads/fresh-database.js"

const connectionString = process.env.DURABLETASKS_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test"
const WORKLOADS = ["burndown", "addrun", "latency"] as const
type Workload = (typeof WORKLOADS)[number]

interface Options {
  systems: string[]
  jobs: number
  processes: number[]
  runs: number
  latencySamples: number
  only: Set<Workload>
  out: string
}

function parseOptions(argv: string[]): Options {
  const value = (name: string) => optionText(argv, name)
  const quick = argv.includes("--quick")
  const int = (text: string | undefined, fallback: number) => {
    const n = Number(text ?? fallback)
    if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${text}`)
    return n
  }
  const systems = (value("systems") ?? SYSTEM_NAMES.join(",")).split(",").map((s) => s.trim())
  for (const s of systems) if (!(SYSTEM_NAMES as readonly string[]).includes(s)) throw new Error(`unknown system "${s}": use ${SYSTEM_NAMES.join(", ")}`)
  const only = new Set<Workload>()
  for (const w of (value("only") ?? WORKLOADS.join(",")).split(",")) {
    if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload "${w}": use ${WORKLOADS.join(", ")}`)
    only.add(w as Workload)
  }
  return {
    systems,
    jobs: int(value("jobs"), quick ? 2_000 : 20_000),
    processes: (value("processes") ?? "1,2,4").split(",").map((p) => int(p, 1)),
    runs: int(value("runs"), quick ? 1 : 3),
    latencySamples: int(value("latency-samples"), quick ? 100 : 500),
    only,
    out: value("out") ?? path.join(peersDir, "..", "results", "peers.json"),
  }
}

// ---- peers install ------------------------------------------------------------

/** Installs the peers into bench/peers from its lockfile, unless already there. */
function installPeers(): void {
  const lock = path.join(peersDir, "package-lock.json")
  const stamp = path.join(peersDir, "node_modules", ".package-lock.json")
  if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= fs.statSync(lock).mtimeMs) return
  process.stderr.write("installing the peers into bench/peers (npm ci)…\n")
  const npm = process.platform === "win32" ? "npm.cmd" : "npm"
  const result = spawnSync(npm, ["ci", "--no-audit", "--no-fund"], { cwd: peersDir, stdio: "inherit" })
  if (result.status !== 0) throw new Error("npm ci in bench/peers failed")
}

// ---- databases -------------------------------------------------------------------

/** A fresh database for `system`'s tables; dropped by `drop()`. */
function systemDatabase(system: string): Promise<FreshDatabase> {
  return freshDatabase(connectionString, `peers_bench_${system.replace(/[^a-z]/g, "")}`)
}

// ---- worker processes -------------------------------------------------------------

interface Child {
  process: ChildProcess
  started: number
  lastAt: number
  cpuMS?: number
  error?: string
  latencyMS?: number[]
  prepared?: boolean
  onLine?: () => void
  ready: Promise<void>
  exited: Promise<number | null>
}

function startChild(system: string, options: Record<string, unknown>): Child {
  const script = fileURLToPath(new URL("./peers/worker.js", import.meta.url))
  const proc = spawn(process.execPath, [script, system, JSON.stringify(options)], { stdio: ["pipe", "pipe", "pipe"] })
  let stderr = ""
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)))
  let readyResolve!: () => void
  const child: Child = { process: proc, started: 0, lastAt: 0, ready: new Promise((r) => (readyResolve = r)), exited }
  const died = exited.then((code) => {
    throw new Error(`${system} worker exited (code ${code}): ${stderr.slice(-2_000)}`)
  })
  died.catch(() => {})
  child.ready = Promise.race([child.ready, died])
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    const m = JSON.parse(line) as Record<string, unknown>
    if (m.ready) readyResolve()
    if (typeof m.started === "number") (child.started = m.started), (child.lastAt = Number(m.lastAt))
    if (typeof m.cpuMS === "number") child.cpuMS = m.cpuMS
    if (typeof m.error === "string") child.error = m.error
    if (Array.isArray(m.latencyMS)) child.latencyMS = m.latencyMS as number[]
    if (m.prepared) child.prepared = true
    child.onLine?.()
  })
  return child
}

async function stopChildren(children: Child[]): Promise<void> {
  for (const c of children) if (c.process.exitCode === null) c.process.stdin!.write("stop\n")
  await Promise.race([Promise.all(children.map((c) => c.exited)), new Promise((r) => setTimeout(r, 10_000))])
  for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill("SIGKILL")
  await Promise.all(children.map((c) => c.exited))
}

const epochMS = () => performance.timeOrigin + performance.now()

/** Resolves once every child's handlers together started `jobs` jobs; rejects if a child fails. */
function allStarted(children: Child[], jobs: number, timeoutMS: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMS} ms with ${children.reduce((s, c) => s + c.started, 0)} of ${jobs} jobs started`)),
      timeoutMS,
    )
    const check = () => {
      const failed = children.find((c) => c.error !== undefined)
      if (failed) (clearTimeout(timer), reject(new Error(failed.error)))
      if (children.reduce((s, c) => s + c.started, 0) >= jobs) (clearTimeout(timer), resolve())
    }
    for (const c of children) c.onLine = check
    for (const c of children) void c.exited.then((code) => (clearTimeout(timer), reject(new Error(`a worker exited early (code ${code})`))))
  })
}

/** Polls `remainingSQL` until it counts 0; returns the time it did. */
async function untilNoneRemain(url: string, remainingSQL: string, timeoutMS: number): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  client.on("error", () => {})
  await client.connect()
  try {
    const deadline = epochMS() + timeoutMS
    for (;;) {
      const { rows } = await client.query<{ n: number }>(remainingSQL)
      if (Number(rows[0]?.n) === 0) return epochMS()
      if (epochMS() > deadline) throw new Error(`${rows[0]?.n} jobs still unfinished after ${timeoutMS} ms`)
      await new Promise((r) => setTimeout(r, 5))
    }
  } finally {
    await client.end()
  }
}

/** Installs `system`'s tables in `url` and stores `jobs` jobs, in a process of its own. */
async function prepare(system: string, url: string, jobs: number): Promise<void> {
  const child = startChild(system, { connectionString: url, processName: "bench-prepare" })
  try {
    await child.ready
    const done = new Promise<void>((resolve, reject) => {
      child.onLine = () => child.prepared && resolve()
      void child.exited.then((code) => reject(new Error(`preparing ${system} failed (code ${code})`)))
    })
    child.process.stdin!.write(`prepare ${jobs}\n`)
    await done
  } finally {
    await stopChildren([child])
  }
}

interface ThroughputRun {
  jobsPerSec: number
  totalMS: number
  workerCPUMS: number
  /** CPU of the database's server backends during the run (Linux, local server), or undefined. */
  serverCPUMS: number | undefined
}

/** One burn-down (`preload` true) or add-and-run run of `system` with `processes` worker processes. */
async function runThroughput(systemName: string, jobs: number, processes: number, preload: boolean): Promise<ThroughputRun> {
  const system = await loadSystem(systemName)
  const db = await systemDatabase(systemName)
  const children: Child[] = []
  try {
    await prepare(systemName, db.url, preload ? jobs : 0)
    for (let p = 0; p < processes; p++) {
      const share = preload ? 0 : Math.floor((jobs * (p + 1)) / processes) - Math.floor((jobs * p) / processes)
      children.push(startChild(systemName, { connectionString: db.url, processName: `bench-${p}`, add: share }))
    }
    await Promise.all(children.map((c) => c.ready))
    const timeoutMS = 120_000 + jobs * 5
    const started = allStarted(children, jobs, timeoutMS)
    const serverCPU = await sampleServerCPU(connectionString, db.name)
    const t0 = epochMS()
    for (const c of children) c.process.stdin!.write("go\n")
    await started
    const doneAt = await untilNoneRemain(db.url, system.remainingSQL, timeoutMS)
    const serverCPUMS = await serverCPU.stop()
    await stopChildren(children)
    const totalMS = doneAt - t0
    return { jobsPerSec: jobs / (totalMS / 1000), totalMS, workerCPUMS: children.reduce((s, c) => s + (c.cpuMS ?? 0), 0), serverCPUMS }
  } finally {
    await stopChildren(children)
    await db.drop()
  }
}

/** Add → handler start latencies of one idle worker process. */
async function runLatency(systemName: string, samples: number): Promise<number[]> {
  const system = await loadSystem(systemName)
  const db = await systemDatabase(systemName)
  await prepare(systemName, db.url, 0)
  const child = startChild(systemName, { connectionString: db.url, processName: "bench-latency" })
  try {
    await child.ready
    const done = new Promise<number[]>((resolve, reject) => {
      child.onLine = () => {
        if (child.latencyMS) resolve(child.latencyMS)
        if (child.error) reject(new Error(child.error))
      }
      void child.exited.then((code) => reject(new Error(`the latency worker exited early (code ${code})`)))
    })
    child.process.stdin!.write(`latency ${samples}\n`)
    return await done
  } finally {
    await stopChildren([child])
    await db.drop()
  }
}

// ---- main ------------------------------------------------------------------------

interface Row {
  workload: string
  system: string
  unit: string
  higherIsBetter: boolean
  samples: number[]
  median: number
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  installPeers()
  const systems = await Promise.all(options.systems.map(async (name) => ({ name, system: await loadSystem(name) })))
  const rows: Row[] = []
  const record = (workload: string, system: string, unit: string, higherIsBetter: boolean, samples: number[]) =>
    rows.push({ workload, system, unit, higherIsBetter, samples, median: median(samples) })
  const log = (text: string) => process.stderr.write(`${text} (load ${os.loadavg()[0]!.toFixed(2)})\n`)

  for (const [workload, preload] of [
    ["burndown", true],
    ["addrun", false],
  ] as const) {
    if (!options.only.has(workload)) continue
    for (const processes of options.processes) {
      const samples = new Map<string, number[]>(options.systems.map((s) => [s, []]))
      const workerCPU = new Map<string, number[]>(options.systems.map((s) => [s, []]))
      const serverCPU = new Map<string, number[]>(options.systems.map((s) => [s, []]))
      for (let run = 0; run < options.runs; run++) {
        // Rotate the order, so no system always runs first (or after the same one).
        const order = options.systems.map((_, i) => options.systems[(i + run) % options.systems.length]!)
        for (const name of order) {
          log(`${workload}, ${processes} process(es), ${name}, run ${run + 1}/${options.runs}`)
          const r = await runThroughput(name, options.jobs, processes, preload)
          const server = r.serverCPUMS === undefined ? "" : `, server CPU ${fmt(r.serverCPUMS)} ms`
          log(`  ${fmt(r.jobsPerSec)} jobs/s (${fmt(r.totalMS)} ms, worker CPU ${fmt(r.workerCPUMS)} ms${server})`)
          samples.get(name)!.push(r.jobsPerSec)
          workerCPU.get(name)!.push((r.workerCPUMS * 1000) / options.jobs)
          if (r.serverCPUMS !== undefined) serverCPU.get(name)!.push((r.serverCPUMS * 1000) / options.jobs)
        }
      }
      const label = `${workload === "burndown" ? "burn-down of" : "add and run"} ${fmt(options.jobs)} jobs, ${processes} process${processes === 1 ? "" : "es"}`
      for (const name of options.systems) record(label, name, "jobs/s", true, samples.get(name)!)
      // CPU per job, of the worker processes and of the database server: where the time goes (lower is better).
      for (const name of options.systems) record(`${label}: worker CPU per job`, name, "µs", false, workerCPU.get(name)!)
      for (const name of options.systems) {
        if (serverCPU.get(name)!.length > 0) record(`${label}: server CPU per job`, name, "µs", false, serverCPU.get(name)!)
      }
    }
  }

  if (options.only.has("latency")) {
    const samples = new Map<string, number[][]>(options.systems.map((s) => [s, []]))
    for (let run = 0; run < options.runs; run++) {
      for (const name of options.systems.map((_, i) => options.systems[(i + run) % options.systems.length]!)) {
        log(`latency, ${name}, run ${run + 1}/${options.runs}`)
        samples.get(name)!.push(await runLatency(name, options.latencySamples))
      }
    }
    for (const [p, label] of [
      [50, "p50"],
      [99, "p99"],
    ] as const) {
      for (const name of options.systems) {
        record(`latency add -> start, ${label}`, name, "ms", false, samples.get(name)!.map((s) => percentile(s, p)))
      }
    }
  }

  const reference = (workload: string) => rows.find((r) => r.workload === workload && r.system === "durabletasks")
  const digits = (unit: string) => (unit === "ms" ? 2 : 0)
  const printed = rows.map((r) => {
    const ref = reference(r.workload)
    // Ratio to durabletasks, as "durabletasks is x times better": > 1 means durabletasks is ahead.
    const ratio = ref ? (r.higherIsBetter ? ref.median / r.median : r.median / ref.median) : NaN
    return [
      r.workload,
      r.system,
      `${fmt(r.median, digits(r.unit))} ${r.unit}`,
      r.samples.map((s) => fmt(s, digits(r.unit))).join(" / "),
      r.system === "durabletasks" ? "" : `${fmt(ratio, 2)}x`,
    ]
  })
  const versions = systems.map(({ name, system }) => `${name} ${system.version()}`).join(", ")
  process.stdout.write(`\npeers bench — ${versions}; medians of ${options.runs}; ratio = how many times durabletasks is ahead\n\n`)
  process.stdout.write(table(["workload", "system", "median", "runs", "durabletasks ahead by"], printed) + "\n\n")
  for (const { name, system } of systems) process.stdout.write(`${name}: ${system.settings}\n`)

  const result = {
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, date: new Date().toISOString() },
    versions: Object.fromEntries(systems.map(({ name, system }) => [name, system.version()])),
    settings: Object.fromEntries(systems.map(({ name, system }) => [name, system.settings])),
    options: { ...options, only: [...options.only] },
    rows,
  }
  fs.mkdirSync(path.dirname(options.out), { recursive: true })
  fs.writeFileSync(options.out, JSON.stringify(result, null, 2) + "\n")
  process.stdout.write(`wrote ${options.out}\n`)
}

await main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error)
  process.exit(1)
})
