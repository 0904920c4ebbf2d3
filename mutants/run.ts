/**
 * `npm run mutants`: proves the test suite catches every deliberate defect
 * in mutants/list.ts. Each mutant is applied, one at a time, to a copy of
 * the repository in a temporary directory (the working tree is never
 * touched), the changed file is rebuilt, and the tests the mutant names are
 * run; the mutant is killed when one of them fails, and survives when all
 * pass.
 *
 * The copy is built once with `tsc`; for each mutant only the changed file is
 * compiled again (TypeScript's transpileModule: syntax is checked, types are
 * not), which takes milliseconds instead of a whole build.
 *
 * Before anything runs, every mutant's `find` text must occur exactly once in
 * its file, or the run stops and lists each one to re-point. Then the same
 * test selections run once on the unchanged copy: a test that fails without
 * a defect would "kill" mutants for nothing, so the run stops there too.
 *
 * Usage: node build/mutants/run.js [--only id,id] [--jobs N] [--no-baseline] [--keep] [--check]
 * (`--check` only checks that every mutant's text is found, and runs nothing).
 * Exit code 0 only when every mutant was killed.
 *
 * @module
 */
import { execFile } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import ts from "typescript"
import { runTestFile, type FileResult } from "../scripts/run-tests.js"
import { MUTANTS, type Mutant, type TestSelection } from "./list.js"

const run = promisify(execFile)
const root = resolve(fileURLToPath(new URL("../..", import.meta.url)))
/** Each test file's time limit under a mutant: the tests bound their own waits, so a defect fails them well before. */
const FILE_TIMEOUT_MS = 120_000

interface Options {
  only: string[] | undefined
  check: boolean
  jobs: number
  baseline: boolean
  keep: boolean
}

type Outcome =
  | { kind: "killed"; by: string; failure: string }
  | { kind: "survived" }
  | { kind: "not judged"; why: string }

function parseArguments(argv: readonly string[]): Options {
  const options: Options = { only: undefined, check: false, jobs: 1, baseline: true, keep: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--only") options.only = (argv[++i] ?? "").split(",").filter((id) => id !== "")
    else if (arg === "--jobs") options.jobs = Number(argv[++i])
    else if (arg === "--no-baseline") options.baseline = false
    else if (arg === "--keep") options.keep = true
    else if (arg === "--check") options.check = true
    else throw new Error(`unknown argument ${arg}; use --only id,id  --jobs N  --no-baseline  --keep  --check`)
  }
  if (!Number.isInteger(options.jobs) || options.jobs < 1) throw new Error("--jobs needs a positive integer")
  return options
}

/** Every problem with the list, checked against the working tree: nothing runs unless there are none. */
function problemsWith(mutants: readonly Mutant[]): string[] {
  const problems: string[] = []
  const ids = new Set<string>()
  for (const m of mutants) {
    if (ids.has(m.id)) problems.push(`mutant ${m.id}: the id is used twice`)
    ids.add(m.id)
    const path = join(root, m.file)
    const count = existsSync(path) ? readFileSync(path, "utf8").split(m.find).length - 1 : 0
    if (count !== 1) {
      // Moved code keeps its text: say where it is now, so re-pointing `file` is all it takes.
      const elsewhere = count === 0 ? sourceFiles().filter((file) => file !== m.file && readFileSync(join(root, file), "utf8").includes(m.find)) : []
      const hint =
        count > 1
          ? "make it longer, so that it is unique"
          : elsewhere.length > 0
            ? `it is now in ${elsewhere.join(", ")}: re-point "file"`
            : "the code changed: re-point file and find"
      const where = existsSync(path) ? `occurs ${count} times in ${m.file}, not exactly once` : `cannot be looked for: ${m.file} does not exist`
      problems.push(`mutant ${m.id}: its "find" text ${where} (${hint}): ${JSON.stringify(m.find)}`)
    }
    if (m.find === m.replace) problems.push(`mutant ${m.id}: replace equals find`)
    if (m.tests.length === 0) problems.push(`mutant ${m.id}: names no test`)
    for (const test of m.tests) {
      const file = typeof test === "string" ? test : test.file
      if (!existsSync(join(root, "test", `${file}.test.ts`))) problems.push(`mutant ${m.id}: there is no test/${file}.test.ts`)
    }
  }
  return problems
}

/** Every TypeScript file under src/, relative to the repository root. */
function sourceFiles(dir = "src"): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  )
}

/** A copy of what the tests need (src, test, configs), with node_modules linked, built once. */
async function makeCopy(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "dt-mutants-"))
  for (const entry of ["src", "test", "package.json", "tsconfig.base.json"]) cpSync(join(root, entry), join(dir, entry), { recursive: true })
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir")
  // Only what the tests import.
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: "./tsconfig.base.json",
      compilerOptions: { rootDir: ".", outDir: "build", noEmitOnError: true },
      include: ["src", "test"],
    }),
  )
  mkdirSync(join(dir, "build"), { recursive: true })
  await build(dir)
  return dir
}

async function build(dir: string): Promise<void> {
  await run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(dir, "tsconfig.json")], {
    cwd: dir,
    maxBuffer: 16 * 1024 * 1024,
  })
}

function selection(test: TestSelection): { file: string; pattern: string | undefined; label: string } {
  const file = typeof test === "string" ? test : test.file
  const pattern = typeof test === "string" ? undefined : test.pattern
  return { file, pattern, label: pattern === undefined ? file : `${file} /${pattern}/` }
}

async function runSelection(dir: string, test: TestSelection): Promise<FileResult> {
  const { file, pattern } = selection(test)
  return runTestFile(join(dir, "build", "test", `${file}.test.js`), { cwd: dir, namePattern: pattern, timeoutMS: FILE_TIMEOUT_MS })
}

function firstFailure(result: FileResult): string {
  if (result.timedOut) return `timed out after ${Math.round(result.durationMS / 1000)} s`
  return result.failures[0] ?? (result.stderr.trim().split("\n").at(-1) || `exit code ${result.exitCode ?? result.signal}`)
}

/** Compiles one source file of the copy to its place in `build/`, as tsc would emit it (ES2022 modules). */
function compileOne(dir: string, file: string, source: string): string | undefined {
  const out = ts.transpileModule(source, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, sourceMap: false, esModuleInterop: true },
  })
  const error = out.diagnostics?.find((d) => d.category === ts.DiagnosticCategory.Error)
  if (error) return ts.flattenDiagnosticMessageText(error.messageText, "\n")
  writeFileSync(compiledPath(dir, file), out.outputText)
  return undefined
}

function compiledPath(dir: string, file: string): string {
  return join(dir, "build", file.replace(/\.ts$/, ".js"))
}

/** Applies `mutant` in `dir`, compiles the changed file, runs its tests until one fails, and puts the file back. */
async function judge(dir: string, mutant: Mutant): Promise<Outcome> {
  const path = join(dir, mutant.file)
  const original = readFileSync(path, "utf8")
  const compiled = compiledPath(dir, mutant.file)
  const originalJS = readFileSync(compiled, "utf8")
  const mutated = original.replace(mutant.find, () => mutant.replace)
  writeFileSync(path, mutated)
  try {
    const error = compileOne(dir, mutant.file, mutated)
    if (error !== undefined) return { kind: "not judged", why: `does not compile: ${error}` }
    let ran = 0
    for (const test of mutant.tests) {
      const result = await runSelection(dir, test)
      if (result.failed) return { kind: "killed", by: selection(test).label, failure: firstFailure(result) }
      ran += result.counts.pass
    }
    // A mutant is killed only by a failing test; tests that were all skipped (no Postgres) prove nothing.
    return ran === 0 ? { kind: "not judged", why: "its tests were all skipped here" } : { kind: "survived" }
  } finally {
    writeFileSync(path, original)
    writeFileSync(compiled, originalJS)
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

async function main(): Promise<void> {
  const options = parseArguments(process.argv.slice(2))
  const started = Date.now()
  let mutants = MUTANTS
  if (options.only) {
    const unknown = options.only.filter((id) => !MUTANTS.some((m) => m.id === id))
    if (unknown.length > 0) throw new Error(`no mutant ${unknown.join(", ")} in mutants/list.ts`)
    mutants = MUTANTS.filter((m) => options.only!.includes(m.id))
  }
  const problems = problemsWith(mutants)
  if (problems.length > 0) {
    process.stderr.write(`mutants/list.ts does not match the code; nothing was run:\n${problems.map((p) => `  - ${p}`).join("\n")}\n`)
    process.exitCode = 2
    return
  }
  if (options.check) {
    process.stdout.write(`${mutants.length} mutants: every "find" text occurs exactly once\n`)
    return
  }

  process.stdout.write(`${mutants.length} mutants; copying and building the repository ${options.jobs} time(s)…\n`)
  const copies = await Promise.all(Array.from({ length: Math.min(options.jobs, mutants.length) }, () => makeCopy()))
  try {
    if (options.baseline) {
      // Every selection the mutants use must pass without a defect, or a kill would mean nothing.
      const selections = new Map<string, TestSelection>()
      for (const m of mutants) for (const test of m.tests) selections.set(selection(test).label, test)
      const baselineStarted = Date.now()
      const failing: string[] = []
      const queue = [...selections.entries()]
      await Promise.all(
        copies.map(async (dir) => {
          for (let next = queue.shift(); next; next = queue.shift()) {
            const [label, test] = next
            const result = await runSelection(dir, test)
            if (result.failed) failing.push(`${label}: ${firstFailure(result)}`)
          }
        }),
      )
      if (failing.length > 0) {
        process.stderr.write(`the tests fail without any defect; fix them first (nothing was judged):\n${failing.map((f) => `  - ${f}`).join("\n")}\n`)
        process.exitCode = 2
        return
      }
      process.stdout.write(`baseline: ${selections.size} test selections pass without a defect (${seconds(Date.now() - baselineStarted)})\n`)
    }

    const outcomes: Array<{ mutant: Mutant; outcome: Outcome; ms: number }> = []
    const queue = [...mutants]
    await Promise.all(
      copies.map(async (dir) => {
        for (let mutant = queue.shift(); mutant; mutant = queue.shift()) {
          const t0 = Date.now()
          const outcome = await judge(dir, mutant)
          const ms = Date.now() - t0
          outcomes.push({ mutant, outcome, ms })
          const verdict =
            outcome.kind === "killed"
              ? `killed by ${outcome.by}: ${outcome.failure}`
              : outcome.kind === "survived"
                ? `SURVIVED: no test failed (${mutant.tests.map((t) => selection(t).label).join(", ")}); promise not proven: ${mutant.promise}`
                : `NOT JUDGED: ${outcome.why}`
          process.stdout.write(`${mutant.id.padEnd(44)} ${seconds(ms).padStart(7)}  ${verdict}\n`)
        }
      }),
    )

    const killed = outcomes.filter((o) => o.outcome.kind === "killed").length
    const survivors = outcomes.filter((o) => o.outcome.kind === "survived")
    const unjudged = outcomes.filter((o) => o.outcome.kind === "not judged")
    process.stdout.write(
      `\n${mutants.length} mutants: ${killed} killed, ${survivors.length} survived, ${unjudged.length} not judged; ` +
        `${seconds(Date.now() - started)} with ${copies.length} job(s)\n`,
    )
    for (const s of survivors) process.stdout.write(`survived: ${s.mutant.id} (${s.mutant.file}): ${s.mutant.promise}\n`)
    process.exitCode = survivors.length === 0 && unjudged.length === 0 ? 0 : 1
  } finally {
    if (options.keep) process.stdout.write(`copies kept: ${copies.join(", ")}\n`)
    else for (const dir of copies) rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 2
})
