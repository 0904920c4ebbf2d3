/**
 * `npm run soak`: runs workflows continuously on SQLite for a bounded time
 * (or task count), printing heap and throughput every few seconds, and ends
 * with one summary line. The heap must stay flat: the script exits 1 if the
 * heap after the warm-up grew by more than `SOAK_HEAP_SLACK_MB` (or half of
 * it), if any workflow was lost or failed, or on an unhandled rejection.
 *
 * Environment:
 *   SOAK_SECONDS      how long to add work (default 60)
 *   SOAK_TASKS        stop adding once this many tasks completed (default: no limit)
 *   SOAK_REPORT_SECONDS  seconds between progress lines (default 5)
 *   SOAK_IN_FLIGHT    most workflows added but not ended at once (default 2000)
 *   SOAK_CONCURRENCY  the runner's concurrency (default 100)
 *   SOAK_FAULTS       share of storage calls that fail (FaultInjectingStorage), e.g. 0.05 (default 0)
 *   SOAK_HEAP_SLACK_MB  allowed heap growth from the first to the last sample (default 16)
 *
 * Each workflow has 3 no-op tasks; one in 50 fails its first attempt (so
 * retries are exercised), and retention deletes ended workflows after 5 s
 * (so the file stays small and deletion is exercised too). Heap figures are
 * `heapUsed` right after a full GC.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { WorkflowRunner, type TaskRunner } from "../src/index.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { FaultInjectingStorage } from "../src/testing/faults.js"

const env = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number >= 0, got ${JSON.stringify(raw)}`)
  return value
}
const SECONDS = env("SOAK_SECONDS", 60)
const MAX_TASKS = env("SOAK_TASKS", Infinity)
const REPORT_MS = env("SOAK_REPORT_SECONDS", 5) * 1000
const IN_FLIGHT = env("SOAK_IN_FLIGHT", 2000)
const CONCURRENCY = env("SOAK_CONCURRENCY", 100)
const FAULTS = env("SOAK_FAULTS", 0)
const HEAP_SLACK_MB = env("SOAK_HEAP_SLACK_MB", 16)

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void
const MB = 1024 * 1024
const heapAfterGC = (): number => {
  gc()
  return process.memoryUsage().heapUsed / MB
}

let unhandled = 0
process.on("unhandledRejection", (reason) => {
  unhandled++
  console.error("unhandled rejection:", reason)
})

const dir = mkdtempSync(join(tmpdir(), "dt-soak-"))
const sqlite = new SQLiteStorageProvider(join(dir, "soak.sqlite"))
const faults = FAULTS > 0 ? new FaultInjectingStorage(sqlite, { failureRate: FAULTS / 2, busyRate: FAULTS / 2, seed: 1 }) : undefined
const storage: StorageProvider = faults ?? sqlite

const step: TaskRunner = {
  Name: "Step",
  Execute: (ctx) => {
    if (ctx.attempt === 0 && ctx.seq === 1 && ctx.data === 1) throw new Error("planned first-attempt failure")
    return { data: ctx.seq }
  },
}
const runner = new WorkflowRunner({
  taskRunners: [step],
  storageProvider: storage,
  concurrency: CONCURRENCY,
  retryDelayMS: 10,
  pollIntervalMS: 200,
  retentionMS: 5_000,
})

let added = 0
let completed = 0
let failed = 0
let tasksDone = 0
let storageErrors = 0
let wake: (() => void) | undefined
runner.on("taskCompleted", () => tasksDone++)
runner.on("storageError", () => storageErrors++)
runner.on("workflowEnded", (e) => {
  if (e.status === "completed") completed++
  else failed++
  wake?.()
})
const inFlight = () => added - completed - failed

const heapSamples: number[] = []
const started = Date.now()
let lastTasks = 0
let lastAt = started
const report = (sample = true) => {
  const now = Date.now()
  const heap = heapAfterGC()
  if (sample) heapSamples.push(heap)
  const rate = ((tasksDone - lastTasks) * 1000) / Math.max(1, now - lastAt)
  lastTasks = tasksDone
  lastAt = now
  const rss = process.memoryUsage().rss / MB
  console.log(
    `${((now - started) / 1000).toFixed(0).padStart(5)} s  workflows ${String(completed).padStart(8)} done ${String(inFlight()).padStart(5)} in flight` +
      `  tasks ${String(tasksDone).padStart(9)} (${rate.toFixed(0).padStart(6)}/s)  heap ${heap.toFixed(1).padStart(6)} MB  rss ${rss.toFixed(0)} MB` +
      (faults ? `  storage errors ${storageErrors}` : ""),
  )
}

console.log(
  `soak: ${SECONDS} s${Number.isFinite(MAX_TASKS) ? ` or ${MAX_TASKS} tasks` : ""}, concurrency ${CONCURRENCY}, ` +
    `at most ${IN_FLIGHT} workflows in flight, storage faults ${FAULTS}, SQLite at ${dir}`,
)
const addWithRetry = async (id: string, flaky: number): Promise<void> => {
  for (;;) {
    try {
      await runner.addWorkflow({ workflowID: id, tasks: { a: { task: "Step", data: flaky }, b: { task: "Step", data: flaky }, c: { task: "Step", data: flaky } } })
      return
    } catch (error) {
      if (!faults) throw error
      await new Promise((r) => setTimeout(r, 5))
    }
  }
}

for (;;) {
  try {
    await runner.recover()
    break
  } catch (error) {
    if (!faults) throw error
  }
}
const timer = setInterval(report, REPORT_MS)
const deadline = started + SECONDS * 1000
while (Date.now() < deadline && tasksDone < MAX_TASKS) {
  if (inFlight() >= IN_FLIGHT) {
    await new Promise<void>((resolve) => {
      wake = resolve
      setTimeout(resolve, 100)
    })
    wake = undefined
    continue
  }
  const batch = Math.min(100, IN_FLIGHT - inFlight())
  const ids = Array.from({ length: batch }, () => `soak-${added++}`)
  await Promise.all(ids.map((id, i) => addWithRetry(id, (added - batch + i) % 50 === 0 ? 1 : 0)))
}

// Drain what is in flight.
faults?.heal()
const drainDeadline = Date.now() + 60_000
while (inFlight() > 0 && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 50))
clearInterval(timer)
if (heapSamples.length === 0) report()
report(false) // after draining: not a sample of the steady state
await runner.stop()
rmSync(dir, { recursive: true, force: true })

const seconds = (Date.now() - started) / 1000
// Samples are taken under load. The first comes after a warm-up interval: caches and JIT have settled by then.
const first = heapSamples[0] ?? 0
const last = heapSamples[heapSamples.length - 1] ?? 0
const max = Math.max(...heapSamples)
const grew = last - first > Math.max(HEAP_SLACK_MB, first / 2)
const lost = inFlight()
const ok = !grew && lost === 0 && failed === 0 && unhandled === 0
console.log(
  `soak summary: ${seconds.toFixed(0)} s, ${completed} workflows / ${tasksDone} tasks completed (${(tasksDone / seconds).toFixed(0)} tasks/s), ` +
    `heap first ${first.toFixed(1)} MB, last ${last.toFixed(1)} MB, max ${max.toFixed(1)} MB (${grew ? "GREW" : "flat"}), ` +
    `lost ${lost}, failed ${failed}, unhandled rejections ${unhandled}${faults ? `, storage errors ${storageErrors}` : ""}: ${ok ? "OK" : "FAILED"}`,
)
process.exit(ok ? 0 : 1)
