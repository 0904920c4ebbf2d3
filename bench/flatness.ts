/**
 * `npm run bench:flatness`: is throughput flat over a long run on one
 * Postgres database with retention on (issue #14: a million workflows, the
 * last 10 % no slower than the first 10 %), so that table bloat and vacuum do
 * not decide the speed?
 *
 * In a fresh schema: P runner processes (children, concurrency 500 each,
 * `retentionMS` set, so ended workflows are deleted during the run) run
 * workflows of 1 no-op task (`--tasks 3` for three) that this process adds
 * through a WorkflowClient, in group-committed batches, keeping at most
 * `--backlog` added but not ended (pre-filled to that bound before the clock
 * starts, then topped up as they end: a steady flow, not a pre-filled table
 * drained). Timed from `go` until N workflows have ended; the producer keeps
 * the backlog full to the end, so the last decile runs in the same conditions
 * as the first. Workflow IDs are the library's default (random UUIDv4).
 *
 * Autovacuum is off on the CI server (a conf.d setting) and on in production.
 * With `--vacuum schedule` (the default) this process runs autovacuum's
 * schedule itself (bench/workloads/autovacuum.ts): every `--naptime` seconds
 * it reads pg_stat_user_tables for the schema and runs `VACUUM (ANALYZE)` on a
 * table whose dead tuples (or inserts since its last vacuum) pass autovacuum's
 * threshold, or `ANALYZE` on one whose modifications since its last analyze
 * pass the analyze threshold (the server's settings, overridden by a table's
 * reloptions), throttled with autovacuum's cost delay and limit; each run is
 * printed. `--vacuum none` runs neither, to show the difference.
 *
 * Reports completed workflows/s per decile (each 10 % of N), the ratio last
 * decile / first decile, sizes of the workflows and tasks tables and of each
 * of their indexes at the start and the end, dead tuples, the rows retention
 * deleted, and a markdown table for the README; writes
 * bench/results/flatness.json.
 *
 * Options:
 *   --workflows N        workflows to complete (default 1,000,000)
 *   --tasks N            no-op tasks per workflow (default 1)
 *   --processes P        runner processes (default 1)
 *   --concurrency N      each runner's concurrency (default 100, the library's default)
 *   --pool N             pg pool size per runner process (default 10)
 *   --retention MS       the runners' retentionMS (default 30,000; 0: no retention)
 *   --backlog N          most workflows added but not ended (default 50,000, or a tenth of N if less)
 *   --warmup N           workflows to end before the clock starts (default 0): with the retention
 *                        period's worth, retention deletes from the first decile on (steady state)
 *   --vacuum none|schedule   (default schedule)
 *   --naptime S          seconds between the schedule's checks (default: the server's autovacuum_naptime, 60 s unless set)
 *   --report-seconds S   seconds between progress lines (default 10)
 *   --assert             exit 1 if last decile / first decile < 0.9
 *   --keep               keep the schema afterwards (it is dropped by default)
 *   --out FILE           where to write the JSON (default bench/results/flatness.json)
 * Connection: DURABLETASKS_BENCH_POSTGRES, else postgres://postgres@127.0.0.1:5432/test.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { WorkflowClient } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { spawnLineChild, stopLineChildren } from "./workloads/line-child.js"
import { fmt, table } from "./stats.js"
import { AutovacuumSchedule, readAutovacuumSettings, type MaintenanceRun } from "./workloads/autovacuum.js"
import { SteadyProducer } from "./workloads/steady-producer.js"
import { dropSchema, freshSchema } from "./workloads/storage.js"
import { mb, readTableSizes, type TableSize } from "./workloads/table-sizes.js"
import { optionText } from "./workloads/args.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, "..", "..")
const connectionString = process.env.DURABLETASKS_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test"
/** The ratio the issue's target asks of the last decile over the first. */
const TARGET_RATIO = 0.9
/** A run that completes nothing for this long has stalled. */
const STALL_MS = 120_000

interface Options {
  workflows: number
  tasks: number
  processes: number
  concurrency: number
  pool: number
  retentionMS: number
  /** Workflows ended before the clock starts. */
  warmup: number
  backlog: number
  vacuum: "none" | "schedule"
  /** Seconds between the schedule's checks; undefined: the server's autovacuum_naptime. */
  naptimeS: number | undefined
  reportSeconds: number
  assert: boolean
  keep: boolean
  out: string
}

function parseOptions(argv: string[]): Options {
  const value = (name: string) => optionText(argv, name)
  const int = (name: string, fallback: number, min = 1) => {
    const text = value(name)
    const n = Number((text ?? String(fallback)).replace(/_/g, ""))
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes an integer >= ${min}, got ${text}`)
    return n
  }
  const vacuum = value("vacuum") ?? "schedule"
  if (vacuum !== "none" && vacuum !== "schedule") throw new Error(`--vacuum takes none or schedule, got ${vacuum}`)
  const workflows = int("workflows", 1_000_000, 10)
  return {
    workflows,
    tasks: int("tasks", 1),
    processes: int("processes", 1),
    concurrency: int("concurrency", 100),
    pool: int("pool", 10),
    retentionMS: int("retention", 30_000, 0),
    backlog: int("backlog", Math.max(1, Math.min(50_000, Math.floor(workflows / 10)))),
    warmup: int("warmup", 0, 0),
    vacuum,
    naptimeS: value("naptime") === undefined ? undefined : int("naptime", 60),
    reportSeconds: int("report-seconds", 10),
    assert: argv.includes("--assert"),
    keep: argv.includes("--keep"),
    out: value("out") ?? path.join(repoRoot, "bench", "results", "flatness.json"),
  }
}

const epochMS = () => performance.timeOrigin + performance.now()

// ---- runner processes ------------------------------------------------------------

interface Worker {
  child: ChildProcess
  ended: number
  failed: number
  lastEndAt: number
  storageErrors: number
  rssMB: number
  cpuMS?: number
  ready: Promise<void>
  stopped: Promise<void>
  exited: Promise<number | null>
  onReport?: () => void
}

function startWorker(options: Record<string, unknown>): Worker {
  const script = fileURLToPath(new URL("./workloads/flatness-worker.js", import.meta.url))
  let stoppedResolve!: () => void
  const worker: Worker = {
    ended: 0,
    failed: 0,
    lastEndAt: 0,
    storageErrors: 0,
    rssMB: 0,
    stopped: new Promise<void>((r) => (stoppedResolve = r)),
    // Lines arrive once this object exists: the callback only runs later.
    ...spawnLineChild(
      script,
      [JSON.stringify(options)],
      (m) => {
        if (typeof m.ended === "number") {
          worker.ended = m.ended
          worker.failed = Number(m.failed)
          worker.lastEndAt = Number(m.lastEndAt)
          worker.storageErrors = Number(m.storageErrors)
          worker.rssMB = Number(m.rssMB)
          worker.onReport?.()
        }
        if (m.stopped) {
          worker.cpuMS = Number(m.cpuMS)
          stoppedResolve()
        }
      },
      { what: "runner process" },
    ),
  }
  return worker
}

const stopWorkers = (workers: Worker[]): Promise<void> => stopLineChildren(workers)

// ---- the run -------------------------------------------------------------------------

/** The end of one decile: how many had ended, and when the last of them did. */
interface Crossing {
  ended: number
  at: number
  /** 1-minute load average then (the machine may be shared). */
  load: number
  sizes: Promise<Map<string, TableSize>>
}

interface Decile {
  decile: number
  workflows: number
  seconds: number
  perSec: number
  vacuums: number
  load: number
  sizes: Map<string, TableSize>
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const n = options.workflows
  const stats = new pg.Client({ connectionString, application_name: "flatness-stats" })
  stats.on("error", () => {})
  await stats.connect()
  const settings = await readAutovacuumSettings(stats)
  const version = (await stats.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? "?"
  if (settings.serverAutovacuum && options.vacuum === "schedule") {
    process.stderr.write("warning: the server's autovacuum is on; the schedule run here comes on top of it\n")
  }
  const log = (text: string) => process.stderr.write(`${text}\n`)
  log(
    `flatness: ${fmt(n)} workflows × ${options.tasks} no-op task(s), ${options.processes} runner process(es) (concurrency ${options.concurrency}), ` +
      `retention ${options.retentionMS > 0 ? `${fmt(options.retentionMS)} ms` : "off"}, backlog ≤ ${fmt(options.backlog)}, vacuum ${options.vacuum}` +
      (options.warmup > 0 ? `, clock from the ${fmt(options.warmup)}th end (warm-up)` : "") +
      (options.vacuum === "schedule" ? ` (checks every ${options.naptimeS ?? settings.naptimeS} s; server autovacuum_naptime ${settings.naptimeS} s, cost delay ${settings.costDelayMS} ms, limit ${settings.costLimit})` : "") +
      `; Postgres ${version}, server autovacuum ${settings.serverAutovacuum ? "on" : "off"}; load ${os.loadavg()[0]!.toFixed(2)}`,
  )

  const schema = await freshSchema(connectionString)
  const workers: Worker[] = []
  const client = new WorkflowClient({ storageProvider: new PostgresStorageProvider(connectionString, { schema, poolConfig: { max: 4 } }), knownTasks: ["Noop"] })
  let vacuum: AutovacuumSchedule | undefined
  try {
    for (let p = 0; p < options.processes; p++) {
      workers.push(
        startWorker({ connectionString, schema, runnerID: `flat-${p}`, concurrency: options.concurrency, poolSize: options.pool, retentionMS: options.retentionMS }),
      )
    }
    await Promise.all(workers.map((w) => w.ready))
    const ended = () => workers.reduce((s, w) => s + w.ended, 0)
    const producer = new SteadyProducer(client, options.tasks, options.backlog, ended)
    const fillStarted = epochMS()
    await producer.fill(Math.min(options.backlog, n))
    log(`pre-filled the backlog: ${fmt(producer.added)} pending workflows in ${fmt((epochMS() - fillStarted) / 1000, 1)} s (untimed)`)
    await countersShow(stats, schema, producer.added)
    let startSizes = await readTableSizes(stats, schema)

    const runStart = epochMS()
    // The clock: from the start, or from the end of the warm-up (--warmup), when `base` workflows had ended.
    let t0 = runStart
    let base = 0
    const since = (at: number) => `${((at - runStart) / 1000).toFixed(0).padStart(5)} s`
    if (options.vacuum === "schedule") {
      vacuum = new AutovacuumSchedule(connectionString, schema, settings, (options.naptimeS ?? settings.naptimeS) * 1000, (r: MaintenanceRun) =>
        log(
          `${since(r.at)}  ${r.command} ${r.table} (${r.reason}; reltuples ${fmt(Math.max(0, r.reltuples))}): ${fmt(r.durationMS)} ms${r.cancelled ? ", cancelled at the end of the run" : ""}`,
        ),
      )
      await vacuum.start()
    }

    // Deciles: the first report at or past each tenth of N.
    const crossings: Crossing[] = []
    let finished!: () => void
    let failed!: (error: Error) => void
    const done = new Promise<void>((resolve, reject) => ((finished = resolve), (failed = reject)))
    let warmedUp!: () => void
    const warm = new Promise<void>((resolve) => (warmedUp = resolve))
    let warming = options.warmup > 0
    if (!warming) warmedUp()
    const onReport = () => {
      const total = ended()
      if (warming) {
        if (total < options.warmup) return
        warming = false
        t0 = Math.max(...workers.map((w) => w.lastEndAt))
        base = total
        warmedUp()
        return
      }
      while (crossings.length < 10 && total - base >= Math.ceil(((crossings.length + 1) * n) / 10)) {
        const sizes = readTableSizes(stats, schema)
        sizes.catch(() => {}) // awaited once the run is over; a failure then is reported there
        crossings.push({ ended: total, at: Math.max(...workers.map((w) => w.lastEndAt)), load: os.loadavg()[0]!, sizes })
      }
      if (crossings.length === 10) finished()
    }
    for (const w of workers) w.onReport = onReport
    for (const w of workers) void w.exited.then((code) => failed(new Error(`a runner process exited early (code ${code})`)))

    let lastEnded = 0
    let lastAt = t0
    let lastProgressAt = t0
    const progress = setInterval(() => {
      void (async () => {
        const now = epochMS()
        const total = ended()
        if (total > lastEnded) lastProgressAt = now
        if (now - lastProgressAt > STALL_MS) failed(new Error(`no workflow ended for ${STALL_MS / 1000} s (${fmt(total)} of ${fmt(n + options.warmup)} ended)`))
        if (producer.error) failed(new Error(`the producer failed: ${String(producer.error)}`))
        if (vacuum?.error) failed(new Error(`the vacuum schedule failed: ${String(vacuum.error)}`))
        const rate = ((total - lastEnded) * 1000) / (now - lastAt)
        lastEnded = total
        lastAt = now
        const sizes = await readTableSizes(stats, schema).catch(() => undefined)
        const wf = sizes && [...sizes.values()].find((t) => t.table.endsWith("workflows"))
        const tk = sizes && [...sizes.values()].find((t) => t.table.endsWith("tasks"))
        log(
          `${since(now)}  ended ${fmt(total).padStart(9)} (${fmt(rate).padStart(6)}/s)  pending ${fmt(producer.added - total).padStart(7)}` +
            (wf && tk ? `  workflows ${mb(wf.totalBytes)} MB (dead ${fmt(wf.deadTuples)})  tasks ${mb(tk.totalBytes)} MB (dead ${fmt(tk.deadTuples)})` : "") +
            `  vacuums ${vacuum?.runs.length ?? 0}  runner RSS ${workers.map((w) => w.rssMB).join("/")} MB  load ${os.loadavg()[0]!.toFixed(2)}`,
        )
      })()
    }, options.reportSeconds * 1000)

    for (const w of workers) w.child.stdin!.write("go\n")
    producer.start()
    try {
      if (options.warmup > 0) {
        await Promise.race([warm, done])
        log(`${since(t0)}  warm-up over: ${fmt(base)} workflows ended; the clock starts`)
        startSizes = await readTableSizes(stats, schema)
      }
      await done
    } finally {
      clearInterval(progress)
      await producer.stop()
    }
    const endAt = crossings[9]!.at
    const endSizes = await readTableSizes(stats, schema)
    await vacuum?.stop(stats)
    await stopWorkers(workers)
    const failedWorkflows = workers.reduce((s, w) => s + w.failed, 0)
    if (failedWorkflows > 0) throw new Error(`${failedWorkflows} workflows did not complete`)

    const deciles: Decile[] = []
    for (let k = 0; k < 10; k++) {
      const from = k === 0 ? { ended: base, at: t0 } : crossings[k - 1]!
      const to = crossings[k]!
      const seconds = (to.at - from.at) / 1000
      deciles.push({
        decile: k + 1,
        workflows: to.ended - from.ended,
        seconds,
        perSec: (to.ended - from.ended) / seconds,
        vacuums: vacuum?.runs.filter((r) => r.at >= from.at && r.at < to.at).length ?? 0,
        load: to.load,
        sizes: await to.sizes,
      })
    }
    const ratio = deciles[9]!.perSec / deciles[0]!.perSec
    const totalSeconds = (endAt - t0) / 1000
    report(options, { version, deciles, ratio, totalSeconds, startSizes, endSizes, vacuum, workers, added: producer.added, schema })

    const result = {
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, date: new Date().toISOString() },
      server: { version, autovacuum: settings },
      options,
      totalSeconds,
      workflowsPerSec: (crossings[9]!.ended - base) / totalSeconds,
      ratioLastToFirst: ratio,
      added: producer.added,
      deciles: deciles.map((d) => ({ ...d, sizes: Object.fromEntries(d.sizes) })),
      startSizes: Object.fromEntries(startSizes),
      endSizes: Object.fromEntries(endSizes),
      maintenance: vacuum?.runs ?? [],
      runnerCPUMS: workers.map((w) => w.cpuMS),
      storageErrors: workers.reduce((s, w) => s + w.storageErrors, 0),
    }
    fs.mkdirSync(path.dirname(options.out), { recursive: true })
    fs.writeFileSync(options.out, JSON.stringify(result, null, 2) + "\n")
    process.stdout.write(`wrote ${path.relative(process.cwd(), options.out) || options.out}\n`)

    const wfDeleted = deletedRows(startSizes, endSizes, "workflows")
    if (options.retentionMS > 0 && totalSeconds * 1000 > 2 * options.retentionMS && wfDeleted === 0) {
      throw new Error("retention deleted no workflow during the run")
    }
    if (options.assert && !(ratio >= TARGET_RATIO)) {
      process.stdout.write(`FAILED: last decile / first decile ${ratio.toFixed(2)} < ${TARGET_RATIO}\n`)
      process.exitCode = 1
    }
  } finally {
    await vacuum?.stop(stats).catch(() => {})
    await stopWorkers(workers)
    await client.close().catch(() => {})
    if (options.keep) process.stderr.write(`kept schema ${schema}\n`)
    else await dropSchema(connectionString, schema)
    await stats.end()
  }
}

/**
 * Waits (at most 15 s) until the statistics count the pre-filled inserts:
 * backends report their counters a second or more after the fact, and the
 * start figures and the schedule's first check should see the pre-fill.
 */
async function countersShow(stats: pg.Client, schema: string, inserted: number): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    const sizes = await readTableSizes(stats, schema)
    if (([...sizes.values()].find((t) => t.table.endsWith("workflows"))?.inserted ?? 0) >= inserted) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** Rows deleted from the table whose name ends with `suffix` between two readings. */
function deletedRows(start: Map<string, TableSize>, end: Map<string, TableSize>, suffix: string): number {
  const pick = (m: Map<string, TableSize>) => [...m.values()].find((t) => t.table.endsWith(suffix))?.deleted ?? 0
  return pick(end) - pick(start)
}

// ---- the report --------------------------------------------------------------------

interface Outcome {
  version: string
  deciles: Decile[]
  ratio: number
  totalSeconds: number
  startSizes: Map<string, TableSize>
  endSizes: Map<string, TableSize>
  vacuum: AutovacuumSchedule | undefined
  workers: Worker[]
  added: number
  schema: string
}

function report(options: Options, o: Outcome): void {
  const out = (text: string) => process.stdout.write(`${text}\n`)
  const find = (sizes: Map<string, TableSize>, suffix: string) => [...sizes.values()].find((t) => t.table.endsWith(suffix))
  const both = (sizes: Map<string, TableSize>, pick: (t: TableSize) => number) =>
    `${mb(pick(find(sizes, "workflows")!))} / ${mb(pick(find(sizes, "tasks")!))}`
  const first = o.deciles[0]!.perSec
  const n = options.workflows
  const title =
    `${fmt(n)} workflows × ${options.tasks} no-op task${options.tasks === 1 ? "" : "s"}, ${options.processes} runner process${options.processes === 1 ? "" : "es"}, ` +
    `retention ${options.retentionMS > 0 ? `${options.retentionMS / 1000} s` : "off"}, backlog ≤ ${fmt(options.backlog)}, vacuum ${options.vacuum}, Postgres ${o.version}` +
      (options.warmup > 0 ? `; clock started after a warm-up of ${fmt(options.warmup)} workflows` : "")
  out(`\nflatness — ${title}\n`)
  out(
    table(
      ["decile", "workflows", "seconds", "workflows/s", "vs first", "total MB wf / tasks", "dead tuples wf / tasks", "vacuums", "load"],
      o.deciles.map((d) => [
        String(d.decile),
        fmt(d.workflows),
        fmt(d.seconds, 1),
        fmt(d.perSec),
        `${fmt(d.perSec / first, 2)}x`,
        both(d.sizes, (t) => t.totalBytes),
        `${fmt(find(d.sizes, "workflows")!.deadTuples)} / ${fmt(find(d.sizes, "tasks")!.deadTuples)}`,
        String(d.vacuums),
        fmt(d.load, 2),
      ]),
    ),
  )
  const met = o.ratio >= TARGET_RATIO
  out(
    `\nlast decile / first decile: ${fmt(o.ratio, 2)} (target >= ${TARGET_RATIO}: ${met ? "met" : "MISSED"}); ` +
      `${fmt(n)} in ${fmt(o.totalSeconds, 1)} s = ${fmt(n / o.totalSeconds)} workflows/s overall; ${fmt(o.added)} added`,
  )
  const runs = o.vacuum?.runs ?? []
  const vacuums = runs.filter((r) => r.command === "VACUUM (ANALYZE)")
  out(
    `maintenance: ${vacuums.length} VACUUM (ANALYZE) (${fmt(vacuums.reduce((s, r) => s + r.durationMS, 0) / 1000, 1)} s), ` +
      `${runs.length - vacuums.length} ANALYZE; retention deleted ${fmt(deletedRows(o.startSizes, o.endSizes, "workflows"))} workflow rows and ` +
      `${fmt(deletedRows(o.startSizes, o.endSizes, "tasks"))} task rows; storage errors ${o.workers.reduce((s, w) => s + w.storageErrors, 0)}; ` +
      `runner RSS at the end ${o.workers.map((w) => w.rssMB).join(" / ")} MB`,
  )

  // Sizes at the start and the end, each relation.
  const rows: string[][] = []
  for (const suffix of ["workflows", "tasks"]) {
    const s = find(o.startSizes, suffix)!
    const e = find(o.endSizes, suffix)!
    rows.push([`${e.table} (heap)`, mb(s.tableBytes), mb(e.tableBytes)])
    for (const index of e.indexes) rows.push([`  ${index.name}`, mb(s.indexes.find((i) => i.name === index.name)?.bytes ?? 0), mb(index.bytes)])
    rows.push([`  all indexes`, mb(s.indexesBytes), mb(e.indexesBytes)])
    rows.push([`  total (pg_total_relation_size)`, mb(s.totalBytes), mb(e.totalBytes)])
    rows.push([`  live / dead tuples`, `${fmt(s.liveTuples)} / ${fmt(s.deadTuples)}`, `${fmt(e.liveTuples)} / ${fmt(e.deadTuples)}`])
  }
  out(`\nsizes in MB, at the start (backlog pre-filled) and the end:\n`)
  out(table(["relation", "start", "end"], rows))

  // Markdown for the README.
  out(`\nmarkdown (${title}):\n`)
  out(`| decile | workflows/s | vs first | workflows + tasks tables with indexes | dead tuples (workflows / tasks) | vacuums | load average |`)
  out(`|---|---|---|---|---|---|---|`)
  for (const d of o.deciles) {
    const wf = find(d.sizes, "workflows")!
    const tk = find(d.sizes, "tasks")!
    out(
      `| ${d.decile} | ${fmt(d.perSec)} | ${fmt(d.perSec / first, 2)}x | ${mb(wf.totalBytes + tk.totalBytes)} MB | ` +
        `${fmt(wf.deadTuples)} / ${fmt(tk.deadTuples)} | ${d.vacuums} | ${fmt(d.load, 1)} |`,
    )
  }
  out(`\nLast decile / first: **${fmt(o.ratio, 2)}x** (${fmt(n)} workflows in ${fmt(o.totalSeconds, 0)} s, ${fmt(n / o.totalSeconds)} workflows/s overall).\n`)
}

await main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error)
  process.exit(1)
})
