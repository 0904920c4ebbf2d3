/**
 * The test suite's runner (`npm test`): each test file runs in a process of
 * its own, one after another, with a time limit. A file that fails, crashes
 * or hangs is reported and the run goes on to the next file; at the end one
 * summary for the whole run is printed in node:test's words (`# tests N`,
 * `# pass N`, `# fail N` …) and the exit code is non-zero if any file failed
 * or timed out.
 *
 * Each file runs under `node --test` with `--test-timeout` (the whole file is
 * cancelled past it, and reported with the tests it finished); the runner
 * also kills the file's whole process group, child processes included, when
 * it overstays or when it is done. A file whose tests leave something running
 * (a runner never stopped) does not exit, so it times out and fails: tests
 * must clean up. (`--test-force-exit` would hide that, and on Node 20 it can
 * end a file before all its tests have run, reporting success.)
 *
 * Usage: node build/scripts/run-tests.js [--timeout-ms N] [--exclude NAME]... [FILE or NAME...]
 * (NAME: `outcomes` for build/test/outcomes.test.js). `npm test -- --exclude postgres-restart`
 * passes options through.
 *
 * @module
 */
import { spawn } from "node:child_process"
import { readdirSync } from "node:fs"
import { basename, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** node:test's summary counts of one file or of a whole run. */
export interface Counts {
  tests: number
  suites: number
  pass: number
  fail: number
  cancelled: number
  skipped: number
  todo: number
}

/** How one test file ended. */
export interface FileResult {
  file: string
  counts: Counts
  /** Whether the file failed: a failed or cancelled test, a non-zero exit, no summary, or a timeout. */
  failed: boolean
  /** Whether the file overstayed its time limit (node:test cancelled it, or the runner killed it). */
  timedOut: boolean
  exitCode: number | null
  signal: NodeJS.Signals | null
  durationMS: number
  /** The first failures, as `name: error` lines, for reports. */
  failures: string[]
  /** What the file printed on stdout (TAP). */
  stdout: string
  /** What the file printed on stderr (a crash before its tests ran shows here). */
  stderr: string
}

/** Options of {@link runTestFile}. */
export interface RunFileOptions {
  /** The file's time limit. Default {@link DEFAULT_FILE_TIMEOUT_MS}. */
  timeoutMS?: number
  /** Only tests whose names match (`--test-name-pattern`). */
  namePattern?: string
  /** Working directory of the file's process. */
  cwd?: string
  /** Called with each complete line the file prints on stdout (its TAP). */
  onLine?: (line: string) => void
}

/** The default time limit of one file: longer than any file takes on a loaded 2-core machine, far shorter than CI's. */
export const DEFAULT_FILE_TIMEOUT_MS = 240_000
/** How long past its time limit a file may take to report its cancellation before its processes are killed. */
const KILL_GRACE_MS = 15_000
const SUMMARY_LINE = /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) (\S+)$/

function zero(): Counts {
  return { tests: 0, suites: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 }
}

/** Runs one test file in a process group of its own; never rejects. */
export function runTestFile(file: string, options: RunFileOptions = {}): Promise<FileResult> {
  const timeoutMS = options.timeoutMS ?? DEFAULT_FILE_TIMEOUT_MS
  const args = ["--test", "--test-concurrency=1", "--test-reporter=tap", `--test-timeout=${timeoutMS}`]
  if (options.namePattern !== undefined) args.push(`--test-name-pattern=${options.namePattern}`)
  args.push(file)
  const started = Date.now()
  return new Promise((resolvePromise) => {
    // A group of its own: the file's fixtures (child processes) die with it.
    const child = spawn(process.execPath, args, { cwd: options.cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] })
    const counts = zero()
    let sawSummary = false
    let stdout = ""
    let stderr = ""
    let pending = ""
    let timedOut = false
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
      } catch {
        // The group is gone already.
      }
    }
    const limit = setTimeout(() => {
      timedOut = true
      killGroup()
    }, timeoutMS + KILL_GRACE_MS)
    const onLine = (line: string) => {
      const summary = SUMMARY_LINE.exec(line)
      if (summary && summary[1] !== "duration_ms") {
        counts[summary[1] as keyof Counts] = Number(summary[2])
        sawSummary = true
      }
      options.onLine?.(line)
    }
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
      pending += chunk
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) onLine(line)
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("close", (exitCode, signal) => {
      clearTimeout(limit)
      if (pending !== "") onLine(pending)
      // Whatever the file left running (a fixture it never killed) goes too.
      killGroup()
      const failed = timedOut || exitCode !== 0 || !sawSummary || counts.fail > 0 || counts.cancelled > 0
      const failures = failuresIn(stdout)
      // node:test cancels a file that overstays --test-timeout and reports the file itself as the failed test.
      if (failures.some((failure) => failure.startsWith(`${file}: test timed out`))) timedOut = true
      resolvePromise({
        file,
        counts,
        failed,
        timedOut,
        exitCode,
        signal,
        durationMS: Date.now() - started,
        failures,
        stdout,
        stderr,
      })
    })
  })
}

/** The first few failed tests in TAP output, each with its error message. */
function failuresIn(tap: string): string[] {
  const lines = tap.split("\n")
  const found: string[] = []
  for (let i = 0; i < lines.length && found.length < 5; i++) {
    const failure = /^\s*not ok \d+ - (.*)$/.exec(lines[i]!)
    if (!failure) continue
    let error = ""
    for (let j = i + 1; j < Math.min(lines.length, i + 40); j++) {
      const match = /^\s*error: (.*)$/.exec(lines[j]!)
      if (match) {
        error = match[1] === "|-" ? (lines[j + 1] ?? "").trim() : match[1]!.replace(/^'|'$/g, "")
        break
      }
      if (/^\s*(not )?ok \d+ /.test(lines[j]!)) break
    }
    // Suites repeat their children's failures as "N subtests failed": keep the tests themselves.
    if (/subtests? failed/.test(error)) continue
    found.push(error === "" ? failure[1]! : `${failure[1]}: ${error}`)
  }
  return found
}

/** The compiled test files: `build/test/*.test.js`, sorted. */
export function testFiles(root: string): string[] {
  const dir = join(root, "build", "test")
  return readdirSync(dir)
    .filter((name) => name.endsWith(".test.js"))
    .sort()
    .map((name) => join(dir, name))
}

/** Sums the counts of several files. */
export function total(results: readonly FileResult[]): Counts {
  const sum = zero()
  for (const result of results) for (const key of Object.keys(sum) as Array<keyof Counts>) sum[key] += result.counts[key]
  return sum
}

function describeResult(result: FileResult): string {
  const c = result.counts
  const seconds = (result.durationMS / 1000).toFixed(1)
  const name = basename(result.file)
  if (result.timedOut) return `# file ${name}: TIMED OUT after ${seconds} s: ${c.pass} pass, ${c.fail} fail, ${c.cancelled} cancelled`
  const counts = `${c.tests} tests, ${c.pass} pass, ${c.fail} fail, ${c.cancelled} cancelled, ${c.skipped} skipped`
  if (!result.failed) return `# file ${name}: ${counts} (${seconds} s)`
  const why = result.exitCode !== 0 && c.fail === 0 && c.cancelled === 0 ? `, exit code ${result.exitCode ?? result.signal}` : ""
  return `# file ${name}: FAILED: ${counts}${why} (${seconds} s)`
}

interface CommandLine {
  timeoutMS: number
  exclude: string[]
  only: string[]
}

function parseArguments(argv: readonly string[]): CommandLine {
  const parsed: CommandLine = { timeoutMS: DEFAULT_FILE_TIMEOUT_MS, exclude: [], only: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--timeout-ms") parsed.timeoutMS = Number(argv[++i])
    else if (arg === "--exclude") parsed.exclude.push(argv[++i] ?? "")
    else if (arg.startsWith("--")) throw new Error(`unknown option ${arg}; use --timeout-ms N, --exclude NAME, and file names`)
    else parsed.only.push(arg)
  }
  if (!Number.isInteger(parsed.timeoutMS) || parsed.timeoutMS <= 0) throw new Error("--timeout-ms needs a positive integer")
  return parsed
}

async function main(): Promise<void> {
  const root = resolve(fileURLToPath(new URL("../..", import.meta.url)))
  const options = parseArguments(process.argv.slice(2))
  const matches = (file: string, name: string) => basename(file) === name || basename(file) === `${name}.test.js` || resolve(name) === file
  let files = testFiles(root)
  if (options.only.length > 0) {
    for (const name of options.only) if (!files.some((file) => matches(file, name))) throw new Error(`no test file ${name} in build/test`)
    files = files.filter((file) => options.only.some((name) => matches(file, name)))
  }
  files = files.filter((file) => !options.exclude.some((name) => basename(file).includes(name)))

  const started = Date.now()
  const results: FileResult[] = []
  for (const file of files) {
    process.stdout.write(`# file ${basename(file)}\n`)
    const result = await runTestFile(file, {
      timeoutMS: options.timeoutMS,
      cwd: root,
      // The files' own summaries give way to the whole run's below.
      onLine: (line) => {
        if (!SUMMARY_LINE.test(line)) process.stdout.write(`${line}\n`)
      },
    })
    for (const line of result.stderr.split("\n")) if (line !== "") process.stdout.write(`# stderr: ${line}\n`)
    process.stdout.write(`${describeResult(result)}\n`)
    results.push(result)
  }

  const failedFiles = results.filter((r) => r.failed)
  const sum = total(results)
  // A file that failed without a failed test (it timed out, crashed, or had tests cancelled) counts as one failure.
  const fail = sum.fail + failedFiles.filter((r) => r.counts.fail === 0).length
  process.stdout.write("\n")
  for (const r of failedFiles) {
    process.stdout.write(`# failed: ${basename(r.file)}${r.timedOut ? " (timed out)" : ""}\n`)
    for (const failure of r.failures) process.stdout.write(`#   ${failure}\n`)
  }
  process.stdout.write(
    [
      `# files ${results.length}`,
      `# files failed ${failedFiles.length}`,
      `# files timed out ${results.filter((r) => r.timedOut).length}`,
      `# tests ${sum.tests}`,
      `# suites ${sum.suites}`,
      `# pass ${sum.pass}`,
      `# fail ${fail}`,
      `# cancelled ${sum.cancelled}`,
      `# skipped ${sum.skipped}`,
      `# todo ${sum.todo}`,
      `# duration_ms ${Date.now() - started}`,
    ].join("\n") + "\n",
  )
  process.exitCode = failedFiles.length > 0 ? 1 : 0
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 2
  })
}
