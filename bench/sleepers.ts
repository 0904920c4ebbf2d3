/**
 * `npm run bench:sleepers`: what a million sleeping workflows cost the claim
 * path. DESIGN §7 says a waiting workflow holds no lease and no slot and is
 * found again through the claim index by its wake time, so it should cost
 * nothing; this measures it.
 *
 * For each store (SQLite FULL; Postgres when it answers):
 * 1. "empty": a fresh store; a runner measures add → first task latency
 *    (one at a time) and then end to end of N workflows of 3 no-op tasks.
 * 2. "sleepers": a fresh store holding S workflows whose first step is
 *    `{ sleep: "30d" }` (inserted through the provider in batches), parked
 *    by a runner that reaches each sleep step (timed: the park rate), then
 *    the same latency and end to end figures measured beside them.
 * A first empty run warms the code up and is not counted. The ratio
 * sleepers / empty is the cost. After the run, the bench checks
 * that no sleeper woke or ran a task.
 *
 * Options: --sleepers N (default 1,000,000), --workflows N (end to end size,
 * default 30,000), --samples N (latency samples, default 500), --runs N
 * (default 1; medians of runs), --only sqlite|postgres.
 * Postgres: DURABLETASKS_BENCH_POSTGRES, else the local `test` database. The
 * server's autovacuum is off on the CI machine: the bench runs
 * `VACUUM ANALYZE` on its schema after filling and parking (what autovacuum
 * would do after so many changes), and says so.
 */
import Database from "better-sqlite3"
import { WorkflowRunner } from "../src/index.js"
import type { NewWorkflow, StorageProvider } from "../src/storage/provider.js"
import { fmt, median, nowMS, table } from "./stats.js"
import { benchRunner, noop, workflowInput } from "./workloads/common.js"
import { firstTaskProbe, sampleAddToStart } from "./workloads/latency.js"
import { openStorage, postgresAdmin, postgresStores, sqliteStores, type BenchStoreFactory, type StorageSpec } from "./workloads/storage.js"
import { runEndToEnd } from "./workloads/end-to-end.js"

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} takes a whole number`)
  return value
}
const onlyIndex = process.argv.indexOf("--only")
const only = onlyIndex >= 0 ? process.argv[onlyIndex + 1] : undefined
const sleepers = option("sleepers", 1_000_000)
const workflows = option("workflows", 30_000)
const samples = option("samples", 500)
const runs = option("runs", 1)
const connectionString = process.env.DURABLETASKS_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test"

const THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000
/** Sleepers per insert call while filling. */
const FILL_BATCH = 10_000

/** Figures of one store, with or without sleepers. */
interface Figures {
  latencyP50MS: number
  latencyP99MS: number
  tasksPerSec: number
  /** Sleepers parked per second by the runner that reached their sleep steps (sleepers only). */
  parkedPerSec?: number
}

/**
 * Counts pending workflows parked beyond a day from now and, unless
 * `parkedOnly`, sleepers' tasks that ran (a scan of the tasks table), with SQL
 * of the store's own kind.
 */
async function countParked(spec: StorageSpec, parkedOnly = false): Promise<{ parked: number; sleeperTasksDone: number }> {
  const far = Date.now() + 24 * 3600 * 1000
  const parkedSQL = (t: string) => `SELECT count(*) AS n FROM ${t}workflows WHERE status = 'pending' AND available_at > ${far}`
  const doneSQL = (t: string) => `SELECT count(*) AS n FROM ${t}tasks WHERE workflow_id LIKE 'sleeper-%' AND seq = 1 AND status <> 'pending'`
  if (spec.kind === "sqlite") {
    const db = new Database(spec.file, { readonly: true })
    try {
      const parked = (db.prepare(parkedSQL("durabletasks_")).get() as { n: number }).n
      const sleeperTasksDone = parkedOnly ? 0 : (db.prepare(doneSQL("durabletasks_")).get() as { n: number }).n
      return { parked, sleeperTasksDone }
    } finally {
      db.close()
    }
  }
  const t = `${spec.schema}.durabletasks_`
  const [parked] = await postgresAdmin<{ n: string }>(spec.connectionString, parkedSQL(t))
  const [done] = parkedOnly ? [] : await postgresAdmin<{ n: string }>(spec.connectionString, doneSQL(t))
  return { parked: Number(parked?.n ?? 0), sleeperTasksDone: Number(done?.n ?? 0) }
}

/** Inserts `count` workflows whose first step sleeps 30 days, then a no-op task. */
async function insertSleepers(storage: StorageProvider, count: number): Promise<void> {
  const now = Date.now()
  const tasks = [
    { name: "nap", task: "", data: JSON.stringify({ sleep: THIRTY_DAYS_MS }), kind: "sleep" as const },
    { name: "after", task: "Noop", data: "null" },
  ]
  for (let i = 0; i < count; i += FILL_BATCH) {
    const rows: NewWorkflow[] = []
    for (let j = i; j < Math.min(count, i + FILL_BATCH); j++) rows.push({ id: `sleeper-${j}`, now, tasks })
    await storage.insertWorkflowsAndTasks(rows)
  }
}

/** A store factory whose fresh stores already hold `count` parked sleepers; reports the park rate. */
function withSleepers(stores: BenchStoreFactory, count: number, parked: (perSec: number) => void): BenchStoreFactory {
  return async () => {
    const store = await stores()
    const storage = await openStorage(store.spec)
    await storage.init()
    const filled = nowMS()
    await insertSleepers(storage, count)
    console.log(`  inserted ${fmt(count)} sleepers in ${fmt((nowMS() - filled) / 1000, 1)} s`)
    const runner = new WorkflowRunner({ taskRunners: [noop], storageProvider: storage })
    const started = nowMS()
    await runner.recover()
    for (;;) {
      const { parked: n } = await countParked(store.spec, true)
      if (n >= count) break
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    }
    const seconds = (nowMS() - started) / 1000
    parked(count / seconds)
    console.log(`  parked them in ${fmt(seconds, 1)} s (${fmt(count / seconds)}/s)`)
    await runner.stop({ timeoutMS: 5_000 })
    if (store.spec.kind === "postgres") {
      await postgresAdmin(store.spec.connectionString, `VACUUM ANALYZE ${store.spec.schema}.durabletasks_workflows`)
      await postgresAdmin(store.spec.connectionString, `VACUUM ANALYZE ${store.spec.schema}.durabletasks_tasks`)
    }
    return store
  }
}

/** One store that stays open for latency then end to end (so both see the sleepers). */
function reuse(stores: BenchStoreFactory): { factory: BenchStoreFactory; done(): Promise<void> } {
  let made: Awaited<ReturnType<BenchStoreFactory>> | undefined
  return {
    factory: async () => {
      made ??= await stores()
      return { spec: made.spec, remove: async () => {} }
    },
    done: async () => {
      await made?.remove()
    },
  }
}

async function measure(stores: BenchStoreFactory, expectSleepers: number): Promise<Figures> {
  let parkedPerSec: number | undefined
  const source = reuse(expectSleepers > 0 ? withSleepers(stores, expectSleepers, (r) => (parkedPerSec = r)) : stores)
  try {
    const probe = firstTaskProbe()
    const { runner, cleanup } = await benchRunner(source.factory, { taskRunners: [probe.runner] })
    let latency
    try {
      latency = await sampleAddToStart(runner, probe, samples)
    } finally {
      await cleanup()
    }
    const e2e = await runEndToEnd(source.factory, "random", workflows, 500)
    const spec = (await source.factory()).spec
    const { parked, sleeperTasksDone } = await countParked(spec)
    if (parked < expectSleepers || sleeperTasksDone > 0) {
      throw new Error(`sleepers disturbed: ${parked} of ${expectSleepers} still parked, ${sleeperTasksDone} ran their next task`)
    }
    return { latencyP50MS: latency.p50MS, latencyP99MS: latency.p99MS, tasksPerSec: e2e.tasksPerSec, parkedPerSec }
  } finally {
    await source.done()
  }
}

async function postgresReachable(): Promise<boolean> {
  try {
    await postgresAdmin(connectionString, "SELECT 1", 3_000)
    return true
  } catch {
    return false
  }
}

const stores: Array<[string, BenchStoreFactory]> = []
if (only !== "postgres") stores.push(["SQLite (FULL)", sqliteStores("FULL")])
if (only !== "sqlite") {
  if (await postgresReachable()) stores.push(["Postgres", postgresStores(connectionString)])
  else console.log("Postgres: skipped, not reachable")
}
const header = ["store", "sleepers", "latency p50 ms", "latency p99 ms", "end to end tasks/s", "parked/s"]
console.log(`Sleeping workflows in the store vs none (median of ${runs}): add -> first task latency (${samples} samples), end to end of ${fmt(workflows)} workflows x 3 no-op tasks`)
for (const [name, factory] of stores) {
  const rows: string[][] = []
  const empty: Figures[] = []
  const full: Figures[] = []
  console.log(`${name}: warm-up (not counted)`)
  await measure(factory, 0)
  for (let run = 0; run < runs; run++) {
    console.log(`${name}, run ${run + 1}: empty store`)
    empty.push(await measure(factory, 0))
    console.log(`${name}, run ${run + 1}: ${fmt(sleepers)} sleepers`)
    full.push(await measure(factory, sleepers))
  }
  const m = (all: Figures[], key: keyof Figures) => median(all.map((f) => f[key] ?? NaN))
  for (const [label, all] of [["none", empty], [fmt(sleepers), full]] as const) {
    rows.push([name, label, fmt(m(all, "latencyP50MS"), 2), fmt(m(all, "latencyP99MS"), 2), fmt(m(all, "tasksPerSec")), label === "none" ? "" : fmt(m(all, "parkedPerSec"))])
  }
  rows.push([name, "ratio", fmt(m(full, "latencyP50MS") / m(empty, "latencyP50MS"), 2), fmt(m(full, "latencyP99MS") / m(empty, "latencyP99MS"), 2), fmt(m(full, "tasksPerSec") / m(empty, "tasksPerSec"), 2), ""])
  console.log(`\n${table(header, rows)}\n`)
}
