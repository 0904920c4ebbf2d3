/**
 * `npm run bench`: the SQLite bench (bench/run.ts, also `npm run bench:sqlite`),
 * then the Postgres bench (bench/postgres.ts, also `npm run bench:postgres`),
 * each printing its table and writing its JSON (bench/results/latest.json,
 * bench/results/postgres.json).
 *
 * Options pass through to both: `--quick`, `--runs N`, `--concurrency N`, and
 * each bench's own flags (the other ignores them). `--only` (or BENCH_ONLY)
 * gives each bench the workloads it has: `floors` is SQLite only. `--out` is
 * refused, since both would write the one file: use the single commands.
 * When Postgres cannot be reached, its part prints one line saying why and
 * how to point it at a server (DURABLETASKS_BENCH_POSTGRES), and the command
 * still succeeds.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** Workloads only the SQLite bench has (names and aliases, as bench/run.ts accepts them). */
const SQLITE_ONLY = new Set(["floors", "floor"])

/** Runs a compiled bench script with these arguments, output to this terminal; resolves with its exit code. */
async function runScript(script: string, args: string[]): Promise<number> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args], { stdio: "inherit" })
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))))
}

/** `argv` without `--only X` / `--only=X`, and the names it gave (or BENCH_ONLY's). */
function splitOnly(argv: string[]): { rest: string[]; only: string[] | undefined } {
  const rest: string[] = []
  let only: string[] | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--only") only = (argv[++i] ?? "").split(",")
    else if (arg.startsWith("--only=")) only = arg.slice("--only=".length).split(",")
    else rest.push(arg)
  }
  only ??= process.env.BENCH_ONLY?.split(",")
  return { rest, only: only?.map((name) => name.trim()).filter((name) => name !== "") }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  if (argv.some((a) => a === "--out" || a.startsWith("--out=")) || process.env.BENCH_OUT) {
    console.error("npm run bench runs two benches, which cannot share one --out file: use npm run bench:sqlite -- --out FILE or npm run bench:postgres -- --out FILE")
    return 2
  }
  const { rest, only } = splitOnly(argv)
  const sqlite = await runScript("./run.js", only ? [...rest, "--only", only.join(",")] : rest)
  if (sqlite !== 0) return sqlite
  const postgresOnly = only?.filter((name) => !SQLITE_ONLY.has(name))
  if (postgresOnly && postgresOnly.length === 0) {
    console.log(`\nPostgres bench skipped: --only ${only!.join(",")} names no Postgres workload (it has e2e, add, latency, recovery, memory)`)
    return 0
  }
  return runScript("./postgres.js", [...rest, ...(postgresOnly ? ["--only", postgresOnly.join(",")] : []), "--skip-if-unreachable"])
}

process.exitCode = await main()
