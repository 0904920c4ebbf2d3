/**
 * The SQLite bench (`npm run bench:sqlite`; `npm run bench` runs it, then the
 * Postgres bench, see all.ts): measures durabletasks on SQLite and prints a
 * table; writes the figures as JSON to bench/results/latest.json.
 *
 * Options (flags or environment):
 *   --quick            (BENCH_QUICK=1)        small sizes, one run each: a smoke test
 *   --only a,b         (BENCH_ONLY=a,b)       only these workloads: end-to-end, add, latency,
 *                                             recovery, memory, floors (ratios need floors)
 *   --concurrency N    (BENCH_CONCURRENCY=N)  the runner's concurrency option (default 500)
 *   --runs N           (BENCH_RUNS=N)         runs per figure; the median is reported (default 3)
 *   --sweep                                   also run end to end and recovery at concurrency 100, 500, 1000
 *   --out FILE                                where to write the JSON (default bench/results/latest.json)
 *
 * Workflows have 3 no-op tasks. IDs come in three schemes, since SQLite's
 * cost depends on where keys land in its B-trees: random UUIDv4, time-ordered
 * UUIDv7, and a user's increasing IDs (wf-0, wf-1, ...). Each workload's
 * figure is divided by the floors (raw better-sqlite3 doing the same row
 * writes, see floors.ts) of the same durability and ID scheme. Databases live
 * in os.tmpdir(), so the figures depend on its disk's fsync time (the
 * 1-transaction-per-write floor shows it).
 *
 * Profile a workload with `node --cpu-prof build/bench/run.js --only end-to-end`
 * and summarize with `node build/bench/profile-summary.js CPU.cpuprofile`.
 */
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import Database from "better-sqlite3"
import { measureFloor, type Durability, type FloorRates, type IDScheme } from "./floors.js"
import { fmt, median, table, tempDir, type Figure } from "./stats.js"
import { runAddRate } from "./workloads/add-rate.js"
import { runEndToEnd } from "./workloads/end-to-end.js"
import { runLatency } from "./workloads/latency.js"
import { memoryFigures, runMemory } from "./workloads/memory.js"
import { buildBacklog, runRecovery } from "./workloads/recovery.js"
import { sqliteStores } from "./workloads/storage.js"

const WORKLOADS = ["end-to-end", "add", "latency", "recovery", "memory", "floors"] as const
type Workload = (typeof WORKLOADS)[number]

interface Options {
  quick: boolean
  only: Set<Workload>
  concurrency: number
  runs: number
  sweep: boolean
  out: string
}

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, "..", "..")

function parseOptions(argv: string[]): Options {
  const flag = (name: string) => argv.includes(`--${name}`)
  const value = (name: string, env: string) => {
    const i = argv.indexOf(`--${name}`)
    return i >= 0 ? argv[i + 1] : process.env[env]
  }
  const quick = flag("quick") || process.env.BENCH_QUICK === "1"
  const onlyText = value("only", "BENCH_ONLY")
  const aliases: Record<string, Workload> = { e2e: "end-to-end", "add-rate": "add", floor: "floors", mem: "memory" }
  const only = new Set<Workload>()
  for (const raw of onlyText ? onlyText.split(",") : WORKLOADS) {
    const name = aliases[raw.trim()] ?? (raw.trim() as Workload)
    if (!WORKLOADS.includes(name)) throw new Error(`unknown workload "${raw}": use ${WORKLOADS.join(", ")}`)
    only.add(name)
  }
  const concurrency = Number(value("concurrency", "BENCH_CONCURRENCY") ?? 500)
  const runs = Number(value("runs", "BENCH_RUNS") ?? (quick ? 1 : 3))
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error("--concurrency takes a positive integer")
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs takes a positive integer")
  const out = value("out", "BENCH_OUT") ?? path.join(repoRoot, "bench", "results", "latest.json")
  return { quick, only, concurrency, runs, sweep: flag("sweep"), out }
}

/** Sizes of each workload: the issue's sizes, or a small smoke run. */
function sizes(quick: boolean) {
  return quick
    ? { endToEnd: 1_000, addSequential: 200, addConcurrent: 1_000, latency: 100, recovery: 10_000, pending: 5_000, floorPerWrite: 100, floorBatched: 1_000 }
    : { endToEnd: 10_000, addSequential: 2_000, addConcurrent: 10_000, latency: 1_000, recovery: 100_000, pending: 50_000, floorPerWrite: 500, floorBatched: 10_000 }
}

const FLOOR_BATCH = 1_000
const ID_SCHEMES: readonly IDScheme[] = ["random", "time-ordered", "given"]
/** How each ID scheme is named in the table: random UUIDs, time-ordered UUIDs, a user's increasing IDs. */
const ID_TEXT: Record<IDScheme, string> = {
  random: "UUIDv4 IDs",
  "time-ordered": "UUIDv7 IDs",
  given: "wf-N IDs",
}

async function repeat<T>(runs: number, what: string, fn: () => Promise<T> | T): Promise<T[]> {
  const results: T[] = []
  for (let i = 0; i < runs; i++) {
    process.stderr.write(`  ${what} (run ${i + 1}/${runs})…\n`)
    results.push(await fn())
  }
  return results
}

function machine(): Record<string, unknown> {
  const require = createRequire(import.meta.url)
  const db = new Database(":memory:")
  const sqliteVersion = (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v
  db.close()
  let commit: string | undefined
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    commit = undefined
  }
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    sqlite: sqliteVersion,
    betterSqlite3: (require("better-sqlite3/package.json") as { version: string }).version,
    databaseDir: os.tmpdir(),
    commit,
    date: new Date().toISOString(),
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const size = sizes(options.quick)
  const { runs, concurrency } = options
  const figures: Figure[] = []
  const sweep: Array<Record<string, unknown>> = []
  const started = Date.now()
  const wants = (w: Workload) => options.only.has(w)
  process.stderr.write(`durabletasks bench: concurrency ${concurrency}, ${runs} run(s) per figure${options.quick ? ", quick" : ""}\n`)

  // ---- 6. floors: raw better-sqlite3, the same row writes ------------------
  const floors = new Map<string, { perWrite: FloorRates; batched: FloorRates }>()
  const floorKey = (d: Durability, ids: IDScheme) => `${d}/${ids}`
  if (wants("floors")) {
    for (const durability of ["FULL", "NORMAL"] as const) {
      for (const ids of ID_SCHEMES) {
        const perWrite = await repeat(runs, `floor ${durability} ${ids} IDs, one transaction per write`, () =>
          measureFloor(durability, ids, size.floorPerWrite, 3, 1),
        )
        const batched = await repeat(runs, `floor ${durability} ${ids} IDs, batched`, () =>
          measureFloor(durability, ids, size.floorBatched, 3, FLOOR_BATCH),
        )
        const med = (rs: FloorRates[]): FloorRates => ({
          insertWorkflowsPerSec: median(rs.map((r) => r.insertWorkflowsPerSec)),
          endToEndTasksPerSec: median(rs.map((r) => r.endToEndTasksPerSec)),
        })
        floors.set(floorKey(durability, ids), { perWrite: med(perWrite), batched: med(batched) })
        const idsText = ID_TEXT[ids]
        for (const [kind, rs] of [["1 tx per write", perWrite], [`${FLOOR_BATCH} workflows per tx`, batched]] as const) {
          const short = kind.startsWith("1 tx") ? "perWrite" : "batched"
          figures.push({
            key: `floor.${durability}.${ids}.${short}.endToEnd`,
            label: `floor (${kind}): end to end, ${durability}, ${idsText}`,
            unit: "tasks/s",
            median: median(rs.map((r) => r.endToEndTasksPerSec)),
            samples: rs.map((r) => r.endToEndTasksPerSec),
            higherIsBetter: true,
          })
          figures.push({
            key: `floor.${durability}.${ids}.${short}.insert`,
            label: `floor (${kind}): insert workflow + 3 tasks, ${durability}, ${idsText}`,
            unit: "workflows/s",
            median: median(rs.map((r) => r.insertWorkflowsPerSec)),
            samples: rs.map((r) => r.insertWorkflowsPerSec),
            higherIsBetter: true,
          })
        }
      }
    }
  }
  const ratios = (durability: Durability, ids: IDScheme, value: number, kind: "endToEnd" | "insert") => {
    const f = floors.get(floorKey(durability, ids))
    if (!f) return {}
    const pick = (r: FloorRates) => (kind === "endToEnd" ? r.endToEndTasksPerSec : r.insertWorkflowsPerSec)
    return { vsPerWriteFloor: value / pick(f.perWrite), vsBatchedFloor: value / pick(f.batched) }
  }

  // ---- 1. end to end -------------------------------------------------------
  if (wants("end-to-end")) {
    for (const durability of ["FULL", "NORMAL"] as const) {
      for (const ids of ID_SCHEMES) {
        const rs = await repeat(runs, `end to end ${durability} ${ids} IDs`, () => runEndToEnd(sqliteStores(durability), ids, size.endToEnd, concurrency))
        const value = median(rs.map((r) => r.tasksPerSec))
        const figure: Figure = {
          key: `endToEnd.${durability}.${ids}`,
          label: `end to end (${fmt(size.endToEnd)} x 3 tasks), ${durability}, ${ID_TEXT[ids]}`,
          unit: "tasks/s",
          median: value,
          samples: rs.map((r) => r.tasksPerSec),
          higherIsBetter: true,
          ...ratios(durability, ids, value, "endToEnd"),
          details: { concurrency, addedMS: median(rs.map((r) => r.addedMS)), totalMS: median(rs.map((r) => r.totalMS)) },
        }
        if (durability === "FULL") {
          const tenfold = figure.vsPerWriteFloor === undefined ? true : figure.vsPerWriteFloor >= 10
          figure.target = { text: ">= 30,000/s, >= 10x floor", met: value >= 30_000 && tenfold }
        }
        figures.push(figure)
      }
    }
  }

  // ---- 2. add rate ---------------------------------------------------------
  if (wants("add")) {
    for (const durability of ["FULL", "NORMAL"] as const) {
      for (const mode of ["sequential", "concurrent"] as const) {
        const count = mode === "sequential" ? size.addSequential : size.addConcurrent
        const rs = await repeat(runs, `add ${mode} ${durability}`, () => runAddRate(sqliteStores(durability), "random", mode, count))
        const value = median(rs.map((r) => r.workflowsPerSec))
        const r = ratios(durability, "random", value, "insert")
        figures.push({
          key: `add.${durability}.${mode}`,
          label: `add, ${mode === "sequential" ? `one at a time (${fmt(count)})` : `all at once (${fmt(count)})`}, ${durability}, ${ID_TEXT.random}`,
          unit: "workflows/s",
          median: value,
          samples: rs.map((x) => x.workflowsPerSec),
          higherIsBetter: true,
          ...r,
        })
      }
    }
  }

  // ---- 3. latency ----------------------------------------------------------
  if (wants("latency")) {
    for (const durability of ["FULL", "NORMAL"] as const) {
      const rs = await repeat(runs, `latency ${durability}`, () => runLatency(sqliteStores(durability), size.latency))
      for (const [p, pick, target] of [
        ["p50", (x: { p50MS: number }) => x.p50MS, 1],
        ["p99", (x: { p99MS: number }) => x.p99MS, 5],
      ] as const) {
        const value = median(rs.map(pick))
        figures.push({
          key: `latency.${durability}.${p}`,
          label: `latency add -> first task, ${p} (${fmt(size.latency)} samples), ${durability}`,
          unit: "ms",
          median: value,
          samples: rs.map(pick),
          higherIsBetter: false,
          target: durability === "FULL" ? { text: `<= ${target} ms`, met: value <= target } : undefined,
        })
      }
    }
  }

  // ---- 5. memory -----------------------------------------------------------
  if (wants("memory")) {
    const rs = await repeat(runs, "memory", () => runMemory(sqliteStores("NORMAL"), size.pending, concurrency))
    figures.push(...memoryFigures(rs, size.pending, concurrency))
  }

  // ---- 4. recovery ---------------------------------------------------------
  const backlogs = tempDir()
  const backlogFiles = new Map<IDScheme, string>()
  try {
    if (wants("recovery") || options.sweep) {
      for (const ids of ["random", "time-ordered"] as const) {
        if (!wants("recovery") && ids !== "random") continue
        process.stderr.write(`  building a backlog of ${fmt(size.recovery)} pending workflows, ${ID_TEXT[ids]}…\n`)
        const backlog = await buildBacklog(size.recovery, ids, backlogs.dir)
        backlogFiles.set(ids, backlog.file)
        process.stderr.write(`  built in ${fmt(backlog.buildMS)} ms\n`)
        if (!wants("recovery")) continue
        const rs = await repeat(runs, `recovery, ${ids} IDs`, () => runRecovery(backlog.file, size.recovery, concurrency))
        const n = `recovery of ${fmt(size.recovery)}, ${ID_TEXT[ids]}`
        figures.push({
          key: `recovery.${ids}.firstTaskMS`,
          label: `${n}: open -> first task`,
          unit: "ms",
          median: median(rs.map((r) => r.firstTaskMS)),
          samples: rs.map((r) => r.firstTaskMS),
          higherIsBetter: false,
          details: { concurrency, backlogBuildMS: backlog.buildMS },
        })
        figures.push({
          key: `recovery.${ids}.allDoneMS`,
          label: `${n}: open -> all ended`,
          unit: "ms",
          median: median(rs.map((r) => r.allDoneMS)),
          samples: rs.map((r) => r.allDoneMS),
          higherIsBetter: false,
        })
        figures.push({
          key: `recovery.${ids}.tasksPerSec`,
          label: `${n}: throughput`,
          unit: "tasks/s",
          median: median(rs.map((r) => r.tasksPerSec)),
          samples: rs.map((r) => r.tasksPerSec),
          higherIsBetter: true,
          ...ratios("FULL", ids, median(rs.map((r) => r.tasksPerSec)), "endToEnd"),
        })
        figures.push({
          key: `recovery.${ids}.peakRSSMB`,
          label: `${n}: peak RSS`,
          unit: "MB",
          median: median(rs.map((r) => r.peakRSSBytes / 2 ** 20)),
          samples: rs.map((r) => r.peakRSSBytes / 2 ** 20),
          higherIsBetter: false,
          details: { startRSSMB: median(rs.map((r) => r.startRSSBytes / 2 ** 20)) },
        })
      }
      if (wants("recovery")) {
        // The same small backlog behind a long history of ended workflows: recovery must not read the history.
        // A small concurrency keeps the first claim small, so a read of the history would stand out.
        const small = Math.max(1, Math.round(size.recovery / 100))
        const smallConcurrency = 10
        const history = size.recovery
        const quiet = await buildBacklog(small, "random", backlogs.dir, 0)
        const behind = await buildBacklog(small, "random", backlogs.dir, history)
        let withoutHistoryMS = NaN
        for (const [what, file] of [["without history", quiet.file], [`behind ${fmt(history)} ended`, behind.file]] as const) {
          const rs = await repeat(runs, `recovery of ${small} pending ${what}`, () => runRecovery(file, small, smallConcurrency))
          const value = median(rs.map((r) => r.firstTaskMS))
          if (what.startsWith("without")) withoutHistoryMS = value
          figures.push({
            key: `recovery.history.${what.startsWith("without") ? "none" : "ended"}.firstTaskMS`,
            label: `recovery of ${fmt(small)} pending ${what} (concurrency ${smallConcurrency}): open -> first task`,
            unit: "ms",
            median: value,
            samples: rs.map((r) => r.firstTaskMS),
            higherIsBetter: false,
            details: { allDoneMS: median(rs.map((r) => r.allDoneMS)), concurrency: smallConcurrency },
            target: what.startsWith("without")
              ? undefined
              : { text: "history not read", met: value <= Math.max(2 * withoutHistoryMS, withoutHistoryMS + 20) },
          })
        }
      }
      if (options.sweep) {
        for (const c of [100, 500, 1000]) {
          const e2e = await repeat(runs, `sweep: end to end FULL random IDs, concurrency ${c}`, () => runEndToEnd(sqliteStores("FULL"), "random", size.endToEnd, c))
          const rec = await repeat(runs, `sweep: recovery, concurrency ${c}`, () => runRecovery(backlogFiles.get("random")!, size.recovery, c))
          sweep.push({
            concurrency: c,
            endToEndTasksPerSec: median(e2e.map((r) => r.tasksPerSec)),
            recoveryAllDoneMS: median(rec.map((r) => r.allDoneMS)),
            recoveryFirstTaskMS: median(rec.map((r) => r.firstTaskMS)),
            recoveryPeakRSSMB: median(rec.map((r) => r.peakRSSBytes / 2 ** 20)),
          })
        }
      }
    }
  } finally {
    backlogs.remove()
  }

  // ---- report ------------------------------------------------------------
  const info = machine()
  const x = (r: number | undefined) => (r === undefined ? "" : `${r >= 10 ? fmt(r, 0) : fmt(r, 2)}x`)
  // Workloads first, the floors they are compared with last.
  figures.sort((a, b) => Number(a.key.startsWith("floor.")) - Number(b.key.startsWith("floor.")))
  const rows = figures.map((f) => [
    f.label,
    fmt(f.median, f.unit === "ms" || f.unit === "bytes" ? 2 : 0),
    f.unit,
    f.samples.length > 1 ? `${fmt(Math.min(...f.samples), f.unit === "ms" ? 2 : 0)}–${fmt(Math.max(...f.samples), f.unit === "ms" ? 2 : 0)}` : "",
    x(f.vsPerWriteFloor),
    x(f.vsBatchedFloor),
    f.target ? `${f.target.met ? "met" : "MISSED"}: ${f.target.text}` : "",
  ])
  console.log(
    `\ndurabletasks bench — ${info.cpus} x ${String(info.cpuModel)}, ${String(info.memoryGB)} GB, Node ${process.version}, SQLite ${String(info.sqlite)}; concurrency ${concurrency}; median of ${runs}\n`,
  )
  console.log(table(["figure", "median", "unit", "range", "/ floor 1 tx", "/ floor batched", "target"], rows))
  if (sweep.length > 0) {
    console.log("\nconcurrency sweep (FULL):")
    console.log(
      table(
        ["concurrency", "end to end tasks/s", "recovery all done ms", "recovery first task ms", "recovery peak RSS MB"],
        sweep.map((s) => [
          String(s.concurrency),
          fmt(s.endToEndTasksPerSec as number),
          fmt(s.recoveryAllDoneMS as number),
          fmt(s.recoveryFirstTaskMS as number, 1),
          fmt(s.recoveryPeakRSSMB as number),
        ]),
      ),
    )
  }
  const report = {
    machine: info,
    options: { ...options, only: [...options.only] },
    sizes: size,
    durationMS: Date.now() - started,
    figures,
    sweep,
  }
  fs.mkdirSync(path.dirname(options.out), { recursive: true })
  fs.writeFileSync(options.out, JSON.stringify(report, null, 2) + "\n")
  console.log(`\nJSON: ${options.out} (${fmt((Date.now() - started) / 1000, 1)} s in all)`)
}

await main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
