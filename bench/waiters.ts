/**
 * `npm run bench:waiters`: ten thousand `result()` calls awaited at once by a
 * WorkflowClient, for workflows a runner elsewhere ends (see
 * workloads/result-waiters.ts), on SQLite and, when it answers, on Postgres
 * (`DURABLETASKS_BENCH_POSTGRES`, default the local `test` database).
 * Prints how long after its end each result resolved, with the default poll
 * interval of one second.
 *
 * Options: --count N (default 10,000), --runs N (default 3; the median run by p99 lag is printed).
 */
import { fmt, median, table } from "./stats.js"
import { runResultWaiters, type ResultWaitersFigures } from "./workloads/result-waiters.js"
import { postgresAdmin, postgresStores, sqliteStores } from "./workloads/storage.js"

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

const count = option("count", 10_000)
const runs = option("runs", 3)
const connectionString = process.env.DURABLETASKS_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test"

async function postgresReachable(): Promise<boolean> {
  try {
    await postgresAdmin(connectionString, "SELECT 1", 3_000)
    return true
  } catch {
    return false
  }
}

async function measure(name: string, run: () => Promise<ResultWaitersFigures>): Promise<string[]> {
  const all: ResultWaitersFigures[] = []
  for (let i = 0; i < runs; i++) all.push(await run())
  const p99 = median(all.map((f) => f.lagP99))
  const chosen = all.find((f) => f.lagP99 === p99) ?? all[0]!
  return [name, fmt(chosen.count), fmt(chosen.pollIntervalMS), fmt(chosen.lagP50), fmt(chosen.lagP99), fmt(chosen.lagMax), fmt(chosen.statusReads), fmt(chosen.totalSeconds, 1)]
}

const rows: string[][] = [await measure("SQLite (FULL)", () => runResultWaiters(sqliteStores("FULL"), count))]
if (await postgresReachable()) rows.push(await measure("Postgres", () => runResultWaiters(postgresStores(connectionString), count)))
else rows.push(["Postgres", "skipped: not reachable", "", "", "", "", "", ""])
console.log(`\nresult() of ${fmt(count)} workflows awaited at once by a WorkflowClient, ended by a runner elsewhere (median of ${runs} runs by p99)`)
console.log(table(["store", "workflows", "poll ms", "lag p50 ms", "lag p99 ms", "lag max ms", "status reads", "total s"], rows))
