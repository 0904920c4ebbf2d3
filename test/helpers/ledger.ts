/**
 * The ledger oracle of shared/RELIABILITY.md: tasks append what they do to a
 * file outside the store, and after the run the ledger and the store are
 * checked against each other. Also the child-process plumbing of the crash
 * tests (start a compiled fixture, wait until it is ready, SIGKILL it).
 *
 * Order is ledger order (line index): every process appends with O_APPEND,
 * so the file is one global order of task starts and ends, across processes.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { appendFileSync, existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import Database from "better-sqlite3"
import pg from "pg"
import { connectionString } from "./postgres.js"
import { mulberry32 } from "../../src/testing/prng.js"

/** One line of the ledger. */
export interface LedgerLine {
  workflowID: string
  seq: number
  attempt: number
  pid: number
  event: "start" | "end"
  /** `Date.now()` when written. */
  time: number
  /** On `end` lines: the nonce of the result this execution returned. */
  nonce?: string
}

/** What each ledgered task returns as its result (stored as JSON by the runner). */
export interface LedgerResult {
  /** Random per execution, so a re-run stores a different result. */
  nonce: string
  pid: number
  /** The nonce of the previous task's stored result, as the task saw it (`null` for seq 0). */
  prev: string | null
}

export function appendLedger(file: string, line: Omit<LedgerLine, "pid" | "time">): void {
  const full: LedgerLine = { ...line, pid: process.pid, time: Date.now() }
  appendFileSync(file, JSON.stringify(full) + "\n")
}

/**
 * The lines of a ledger file, in order (none if there is no file yet). `T`:
 * the shape of a fixture's own ledger lines, when not {@link LedgerLine}.
 */
export function readLedger<T = LedgerLine>(file: string): T[] {
  if (!existsSync(file)) return []
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l, i) => {
      try {
        return JSON.parse(l) as T
      } catch {
        throw new Error(`ledger line ${i} is not JSON (torn write?): ${l}`)
      }
    })
}

/** Reads a list file (one ID a line) as a set. */
export function readIDs(file: string): Set<string> {
  if (!existsSync(file)) return new Set()
  return new Set(readFileSync(file, "utf8").split("\n").filter((l) => l !== ""))
}

/** A task row as the oracle needs it. */
export interface StoredTask {
  workflowID: string
  seq: number
  status: string
  result: string | null
}

/** A workflow row as the oracle needs it. */
export interface StoredWorkflow {
  id: string
  status: string
  taskCount: number
  leaseOwner: string | null
  availableAt: number
}

/** The store as read straight from the SQLite file, bypassing the library. */
export interface StoreDump {
  workflows: Map<string, StoredWorkflow>
  tasks: StoredTask[]
  integrity: string
}

/** Reads a SQLite store file read-only (no process may be writing it, or the read is a snapshot). */
export function dumpSQLite(file: string, { prefix = "durabletasks_", integrity = true } = {}): StoreDump {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    const workflows = new Map<string, StoredWorkflow>()
    const rows = db
      .prepare(`SELECT id, status, task_count AS taskCount, lease_owner AS leaseOwner, available_at AS availableAt FROM ${prefix}workflows`)
      .all() as StoredWorkflow[]
    for (const row of rows) workflows.set(row.id, row)
    const tasks = db
      .prepare(`SELECT workflow_id AS workflowID, seq, status, result FROM ${prefix}tasks ORDER BY workflow_id, seq`)
      .all() as StoredTask[]
    const check = integrity ? (db.pragma("integrity_check") as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join("; ") : "not checked"
    return { workflows, tasks, integrity: check }
  } finally {
    db.close()
  }
}

/**
 * Reads a Postgres store straight from its tables, bypassing the library (a
 * consistent snapshot: one statement per table, both in one transaction).
 * `schema` and `prefix` must be plain identifiers (they are checked).
 */
export async function dumpPostgres(schema: string, { prefix = "durabletasks_" } = {}): Promise<StoreDump> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema) || !/^[a-z0-9_]*$/.test(prefix)) throw new Error(`not a plain schema/prefix: ${schema} ${prefix}`)
  const client = new pg.Client({ connectionString })
  client.on("error", () => {})
  await client.connect()
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    const w = await client.query<{ id: string; status: string; task_count: number; lease_owner: string | null; available_at: string }>(
      // A leased workflow's availableAt is its lease's expiry (see src/storage/postgres/hot-updates.ts).
      `SELECT id, status, task_count, lease_owner, CASE WHEN lease_token IS NULL THEN available_at ELSE lease_expires_at END AS available_at
       FROM ${schema}.${prefix}workflows`,
    )
    const t = await client.query<{ workflow_id: string; seq: number; status: string; result: string | null }>(
      `SELECT workflow_id, seq, status, result FROM ${schema}.${prefix}tasks ORDER BY workflow_id, seq`,
    )
    await client.query("COMMIT")
    const workflows = new Map<string, StoredWorkflow>()
    for (const r of w.rows) {
      workflows.set(r.id, { id: r.id, status: r.status, taskCount: Number(r.task_count), leaseOwner: r.lease_owner, availableAt: Number(r.available_at) })
    }
    const tasks = t.rows.map((r) => ({ workflowID: r.workflow_id, seq: Number(r.seq), status: r.status, result: r.result }))
    return { workflows, tasks, integrity: "not checked (Postgres)" }
  } finally {
    await client.end().catch(() => {})
  }
}

/** Completed tasks' stored results at one moment, with the ledger length at that moment. */
export interface ResultSnapshot {
  ledgerLength: number
  results: Map<string, string>
}

export function snapshotResults(dump: StoreDump, ledgerLength: number): ResultSnapshot {
  const results = new Map<string, string>()
  for (const t of dump.tasks) if (t.status === "completed" && t.result !== null) results.set(taskKey(t.workflowID, t.seq), t.result)
  return { ledgerLength, results }
}

/** A process killed by the test: its unfinished executions end at `ledgerLength` (it wrote nothing after). */
export interface Kill {
  pid: number
  ledgerLength: number
}

export interface OracleInput {
  ledger: LedgerLine[]
  store: StoreDump
  /** IDs whose `addWorkflow` resolved. */
  acked: Set<string>
  /** IDs whose `addWorkflow` was called but may not have resolved (in flight at a kill). */
  attempted: Set<string>
  kills: Kill[]
  snapshots: ResultSnapshot[]
  /** Expected task count per workflow, when known. */
  expectedTaskCount?: (workflowID: string) => number
}

/** Every count the oracle requires to be zero, with examples, plus what is merely reported. */
export interface OracleReport {
  /** Acked, but not completed with every task completed. */
  lost: string[]
  /** In the store or the ledger, but never even attempted. */
  unexpected: string[]
  /** A stored result that no ledgered execution returned, or that more than one did. */
  unrecordedResult: string[]
  /** A result that differs from an earlier snapshot. */
  changedResult: string[]
  /** A start of a task after its result was recorded. */
  rerunAfterRecorded: string[]
  /** A start of task k+1 before task k's result was recorded, or a task that saw another result of task k than the stored one. */
  outOfOrder: string[]
  /** Overlapping executions of one task by different processes. */
  concurrent: string[]
  /** Workflow or task rows that are malformed: wrong count, `completed` workflow with a pending task. */
  malformed: string[]
  /** Reported, allowed: executions beyond the first of a task. */
  reexecutions: number
  /** Reported: all executions (start lines). */
  executions: number
  tasks: number
}

export const taskKey = (workflowID: string, seq: number) => `${workflowID}#${seq}`

/** Executions `pid` had started but not ended when the ledger was read (those a kill interrupted). */
export function openExecutions(ledger: LedgerLine[], pid: number): number {
  const open = new Set<string>()
  for (const l of ledger) {
    if (l.pid !== pid) continue
    const key = taskKey(l.workflowID, l.seq)
    if (l.event === "start") open.add(key)
    else open.delete(key)
  }
  return open.size
}

/** Checks the store against the ledger. See shared/RELIABILITY.md. */
export function checkOracle(input: OracleInput): OracleReport {
  const { ledger, store, acked, attempted, kills, snapshots } = input
  const report: OracleReport = {
    lost: [],
    unexpected: [],
    unrecordedResult: [],
    changedResult: [],
    rerunAfterRecorded: [],
    outOfOrder: [],
    concurrent: [],
    malformed: [],
    reexecutions: 0,
    executions: 0,
    tasks: 0,
  }

  const tasksOf = new Map<string, StoredTask[]>()
  for (const t of store.tasks) {
    const list = tasksOf.get(t.workflowID) ?? []
    list.push(t)
    tasksOf.set(t.workflowID, list)
  }
  const linesOf = new Map<string, Array<{ index: number; line: LedgerLine }>>()
  ledger.forEach((line, index) => {
    const key = taskKey(line.workflowID, line.seq)
    const list = linesOf.get(key) ?? []
    list.push({ index, line })
    linesOf.set(key, list)
  })

  // Every workflow in the store must be whole, and must complete.
  for (const [id, w] of store.workflows) {
    const tasks = tasksOf.get(id) ?? []
    const expected = input.expectedTaskCount?.(id) ?? w.taskCount
    if (w.taskCount !== expected || tasks.length !== expected || tasks.some((t, i) => t.seq !== i)) {
      report.malformed.push(`${id}: task_count ${w.taskCount}, ${tasks.length} task rows, expected ${expected}`)
    }
    if (w.status === "completed" && tasks.some((t) => t.status !== "completed")) report.malformed.push(`${id}: completed with unfinished tasks`)
    const whole = w.status === "completed" && tasks.length === expected && tasks.every((t) => t.status === "completed" && t.result !== null)
    if (!whole) report.lost.push(`${id}: ${w.status}, tasks ${tasks.map((t) => t.status).join(",")}`)
  }
  for (const id of acked) if (!store.workflows.has(id)) report.lost.push(`${id}: acked but not in the store`)
  for (const id of store.workflows.keys()) if (!acked.has(id) && !attempted.has(id)) report.unexpected.push(`${id}: in the store`)
  for (const id of new Set(ledger.map((l) => l.workflowID))) {
    if (!store.workflows.has(id)) report.unexpected.push(`${id}: in the ledger, not in the store`)
    else if (!acked.has(id) && !attempted.has(id)) report.unexpected.push(`${id}: in the ledger`)
  }

  // Each stored result came from exactly one ledgered execution; find where it ended.
  const recordedAt = new Map<string, number>()
  const stored = new Map<string, LedgerResult>()
  for (const t of store.tasks) {
    if (t.status !== "completed" || t.result === null) continue
    const key = taskKey(t.workflowID, t.seq)
    report.tasks++
    const result = JSON.parse(t.result) as LedgerResult
    stored.set(key, result)
    const ends = (linesOf.get(key) ?? []).filter((l) => l.line.event === "end" && l.line.nonce === result.nonce)
    if (ends.length !== 1) {
      report.unrecordedResult.push(`${key}: stored nonce ${result.nonce} ended ${ends.length} times in the ledger`)
      continue
    }
    recordedAt.set(key, ends[0]!.index)
  }

  for (const [key, lines] of linesOf) {
    const starts = lines.filter((l) => l.line.event === "start")
    report.executions += starts.length
    report.reexecutions += Math.max(0, starts.length - 1)
    const at = recordedAt.get(key)
    if (at !== undefined) {
      for (const s of starts) if (s.index > at) report.rerunAfterRecorded.push(`${key}: started at line ${s.index} (pid ${s.line.pid}) after its result was recorded at line ${at}`)
    }
    // Out of order: task k+1 starts only after task k's result was recorded.
    const [workflowID, seqText] = splitKey(key)
    const seq = Number(seqText)
    if (seq > 0) {
      const prevKey = taskKey(workflowID, seq - 1)
      const prevAt = recordedAt.get(prevKey)
      for (const s of starts) {
        if (prevAt === undefined || s.index < prevAt) {
          report.outOfOrder.push(`${key}: started at line ${s.index} before ${prevKey} was recorded (${prevAt ?? "never"})`)
        }
      }
      const mine = stored.get(key)
      const prev = stored.get(prevKey)
      if (mine && prev && mine.prev !== prev.nonce) report.outOfOrder.push(`${key}: saw previous result ${mine.prev}, stored is ${prev.nonce}`)
    } else if (stored.get(key) && stored.get(key)!.prev !== null) {
      report.outOfOrder.push(`${key}: first task saw a previous result`)
    }

    // Concurrent: executions (start..end, or start..kill) of one task by different processes must not overlap.
    const intervals = executionIntervals(lines, kills, ledger.length)
    for (let i = 0; i < intervals.length; i++) {
      for (let j = i + 1; j < intervals.length; j++) {
        const a = intervals[i]!
        const b = intervals[j]!
        if (a.pid !== b.pid && a.from < b.to && b.from < a.to) {
          report.concurrent.push(`${key}: pid ${a.pid} lines ${a.from}..${a.to} overlaps pid ${b.pid} lines ${b.from}..${b.to}`)
        }
      }
    }
  }

  // A result seen in a snapshot never changes, and its task never starts again.
  const taskByKey = new Map<string, StoredTask>()
  for (const t of store.tasks) {
    const key = taskKey(t.workflowID, t.seq)
    if (!taskByKey.has(key)) taskByKey.set(key, t)
  }
  for (const snap of snapshots) {
    for (const [key, result] of snap.results) {
      const now = taskByKey.get(key)
      if (!now || now.result !== result) report.changedResult.push(`${key}: was ${result}, now ${now?.result ?? "missing"}`)
      for (const l of linesOf.get(key) ?? []) {
        if (l.line.event === "start" && l.index >= snap.ledgerLength) {
          report.rerunAfterRecorded.push(`${key}: started at line ${l.index} (pid ${l.line.pid}) after a snapshot at line ${snap.ledgerLength} saw its result`)
        }
      }
    }
  }
  return report
}

/** The counts that must be zero, for assertion messages. */
export function violations(report: OracleReport): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const name of ["lost", "unexpected", "unrecordedResult", "changedResult", "rerunAfterRecorded", "outOfOrder", "concurrent", "malformed"] as const) {
    if (report[name].length > 0) out[name] = report[name].slice(0, 10)
  }
  return out
}

function splitKey(key: string): [string, string] {
  const i = key.lastIndexOf("#")
  return [key.slice(0, i), key.slice(i + 1)]
}

interface Interval {
  pid: number
  from: number
  to: number
}

/** Pairs each start of a task with the next end by the same process; an unfinished one lasts until its process was killed. */
function executionIntervals(lines: Array<{ index: number; line: LedgerLine }>, kills: Kill[], ledgerLength: number): Interval[] {
  const intervals: Interval[] = []
  const open = new Map<number, number>()
  for (const { index, line } of lines) {
    if (line.event === "start") {
      const earlier = open.get(line.pid)
      if (earlier !== undefined) intervals.push({ pid: line.pid, from: earlier, to: index })
      open.set(line.pid, index)
    } else {
      const from = open.get(line.pid)
      if (from !== undefined) intervals.push({ pid: line.pid, from, to: index })
      open.delete(line.pid)
    }
  }
  for (const [pid, from] of open) {
    const kill = kills.find((k) => k.pid === pid)
    intervals.push({ pid, from, to: kill ? kill.ledgerLength : ledgerLength })
  }
  return intervals
}

// ---- child processes -----------------------------------------------------

export interface Child {
  process: ChildProcess
  pid: number
  /** Resolves once the child printed a line equal to `ready`. */
  ready: Promise<void>
  /** Resolves when the child has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stdout(): string
  stderr(): string
}

/** Starts `test/fixtures/<name>.js` (compiled) with `args`. */
export function startFixture(name: string, args: string[]): Child {
  const script = fileURLToPath(new URL(`../fixtures/${name}.js`, import.meta.url))
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  let err = ""
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  )
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d
      if (out.split("\n").includes("ready")) resolve()
    })
    void exited.then(({ code, signal }) => reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready: ${err}`)))
  })
  ready.catch(() => {})
  return { process: child, pid: child.pid!, ready, exited, stdout: () => out, stderr: () => err }
}

/** Kills `child` with SIGKILL and waits until it is gone; fails if it had already exited on its own. */
export async function killHard(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) {
    throw new Error(`child ${child.pid} exited by itself (code ${child.process.exitCode}): ${child.stderr()}`)
  }
  child.process.kill("SIGKILL")
  const { signal } = await child.exited
  if (signal !== "SIGKILL") throw new Error(`child ${child.pid} ended with ${signal}, not SIGKILL: ${child.stderr()}`)
}

/** Waits for `child` to exit with code 0 within `timeoutMS`; kills it and fails otherwise. */
export async function exitsCleanly(child: Child, timeoutMS: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMS)))
  const result = await Promise.race([child.exited, timeout])
  clearTimeout(timer)
  if (result === "timeout") {
    child.process.kill("SIGKILL")
    throw new Error(`child ${child.pid} did not exit within ${timeoutMS} ms: ${child.stderr()}`)
  }
  if (result.code !== 0) throw new Error(`child ${child.pid} exited with code ${result.code} / ${result.signal}: ${child.stderr()}`)
}

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with its seed. */
export const seededRandom: (seed: number) => () => number = mulberry32
