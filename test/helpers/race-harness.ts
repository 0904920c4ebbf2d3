/**
 * The harness of the events races (test/events-race.test.ts,
 * test/parallel-events-race.test.ts): the workflows, two per key, added in
 * batches; sender and runner processes (test/fixtures/events-race-worker.ts)
 * with each runner's "arrived" message relayed to a sender, so a key's events
 * are sent right as its waits start; the bounded waits for the sends and for
 * every workflow to end (a lost wake-up never ends: the stuck workflows are
 * reported); and the workers' counts once they are stopped.
 */
import assert from "node:assert/strict"
import { spawn, type ChildProcess } from "node:child_process"
import type { TestContext } from "node:test"
import { fileURLToPath } from "node:url"
import type { WorkflowClient, WorkflowInfo, WorkflowInput } from "../../src/index.js"

/** The key workflow `i` waits on: two workflows share each key. */
export function raceKey(i: number): string {
  return `k${i >> 1}`
}

/** Adds workflows `race-0` … `race-<count-1>`, 250 at a time, each with `tasksFor(raceKey(i))`; returns their IDs in order. */
export async function addRaceWorkflows(client: WorkflowClient, count: number, tasksFor: (key: string) => WorkflowInput["tasks"]): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `race-${i}`)
  for (let start = 0; start < count; start += 250) {
    await Promise.all(ids.slice(start, start + 250).map((id, j) => client.addWorkflow({ workflowID: id, tasks: tasksFor(raceKey(start + j)) })))
  }
  return ids
}

/** One worker process of the race. */
interface Worker {
  process: ChildProcess
  ready: Promise<void>
  /** The JSON line it prints when stopped. */
  report: Promise<Record<string, unknown>>
}

function startWorker(mode: "run" | "send", schema: string, id: string, env: NodeJS.ProcessEnv): Worker {
  const script = fileURLToPath(new URL("../fixtures/events-race-worker.js", import.meta.url))
  const child = spawn(process.execPath, [script, mode, schema, id], { stdio: ["ignore", "pipe", "pipe", "ipc"], env })
  let out = ""
  let err = ""
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d
      if (out.split("\n").includes("ready")) resolve()
    })
    void exited.then((code) => reject(new Error(`${mode} worker ${id} exited (${code}) before it was ready: ${err}`)))
  })
  ready.catch(() => {})
  const report = exited.then((code) => {
    if (code !== 0) throw new Error(`${mode} worker ${id} exited with ${code}: ${err}`)
    const line = out.split("\n").find((l) => l.startsWith("{"))
    return JSON.parse(line ?? "{}") as Record<string, unknown>
  })
  report.catch(() => {})
  return { process: child, ready, report }
}

/** How the runners' parks went, summed over them (the fixture's counts). */
export interface ParkCounts {
  parked: number
  eventArrived: number
  fenced: number
}

/**
 * The race's worker processes: `senders` sender processes and `runners`
 * runner processes on `schema`, each key's first "arrived" message relayed to
 * a sender (in turn), which sends the key's two events. Nothing runs until
 * {@link RaceWorkers.start}; {@link RaceWorkers.kill} in `finally` ends what
 * was started, even by a start that never finished.
 */
export class RaceWorkers {
  private readonly workers: Worker[] = []
  private readonly triggered = new Set<string>()
  private readonly sent = new Set<string>()
  private readonly failed: string[] = []
  private readonly env: NodeJS.ProcessEnv
  /** When the last runner got ready. */
  private startedAt = 0

  /** `sendDelayMS`: the most a sender waits before each send (random below it); the fixture's default when omitted. */
  constructor(
    private readonly schema: string,
    private readonly options: { runners: number; senders: number; sendDelayMS?: number },
  ) {
    this.env = options.sendDelayMS === undefined ? process.env : { ...process.env, EVENTS_RACE_SEND_DELAY_MS: String(options.sendDelayMS) }
  }

  /** Starts the senders, then the runners; resolves once all are ready, rejects if one exits before. */
  async start(): Promise<void> {
    const senders = Array.from({ length: this.options.senders }, (_, i) => startWorker("send", this.schema, `sender-${i}`, this.env))
    this.workers.push(...senders)
    await Promise.all(senders.map((s) => s.ready))
    for (const s of senders) {
      s.process.on("message", (m: { sent?: string; failed?: string }) => {
        if (m.sent) this.sent.add(m.sent)
        if (m.failed) this.failed.push(m.failed)
      })
    }
    let next = 0
    const runners = Array.from({ length: this.options.runners }, (_, i) => startWorker("run", this.schema, `runner-${i}`, this.env))
    this.workers.push(...runners)
    for (const r of runners) {
      r.process.on("message", (m: { arrived?: string }) => {
        const key = m.arrived
        if (!key || this.triggered.has(key)) return
        this.triggered.add(key)
        senders[next++ % senders.length]!.process.send({ send: key })
      })
    }
    await Promise.all(runners.map((r) => r.ready))
    this.startedAt = Date.now()
  }

  /**
   * Waits until the events of `keys` keys were sent (or their sends failed)
   * within `timeoutMS`; fails if not, or if any send failed. Tells test `t`
   * how long after the start the sends took.
   */
  async allSent(t: TestContext, keys: number, timeoutMS: number): Promise<void> {
    const sentAll = await pollUntil(() => this.sent.size + this.failed.length >= keys, timeoutMS)
    assert.ok(sentAll, `only ${this.sent.size} of ${keys} keys had their events sent within ${timeoutMS / 1000} s (${this.triggered.size} triggered)`)
    assert.deepEqual(this.failed, [], "some sends failed")
    t.diagnostic(`all events sent ${Date.now() - this.startedAt} ms after the runners started`)
  }

  /** Stops every worker and sums their counts: the runners' parks, and the sends that woke a parked waiter. */
  async stop(): Promise<{ parks: ParkCounts; woke: number }> {
    for (const w of this.workers) w.process.send("stop")
    const reports = await Promise.all(this.workers.map((w) => w.report))
    const parks: ParkCounts = { parked: 0, eventArrived: 0, fenced: 0 }
    let woke = 0
    for (const r of reports) {
      const p = r.parks as ParkCounts | undefined
      if (p) for (const k of Object.keys(parks) as Array<keyof ParkCounts>) parks[k] += p[k]
      woke += typeof r.woke === "number" ? r.woke : 0
    }
    return { parks, woke }
  }

  /** SIGKILLs the workers still running. */
  kill(): void {
    for (const w of this.workers) if (w.process.exitCode === null) w.process.kill("SIGKILL")
  }
}

/**
 * Waits until no workflow is pending, for at most `settleMS`; else fails
 * with the first stuck workflows and the states of their steps (lost
 * wake-ups: no timeout is set, so such a wait never ends).
 */
export async function assertAllSettle(client: WorkflowClient, settleMS: number): Promise<void> {
  const settled = await pollUntil(async () => (await client.getWorkflowStats()).counts.pending === 0, settleMS)
  if (settled) return
  const stuck = await client.listWorkflows({ status: "pending", limit: 20 })
  const details = await Promise.all(stuck.map(async (w) => `${w.id}: ${(await client.getWorkflow(w.id))?.tasks.map((s) => s.state).join(" / ")}`))
  assert.fail(`lost wake-ups: workflows still waiting ${settleMS} ms after their events were sent:\n${details.join("\n")}`)
}

/** Asserts that every workflow of `ids` completed, and runs `check` on each with the key it waited on. */
export async function assertEachCompleted(client: WorkflowClient, ids: readonly string[], check: (info: WorkflowInfo, key: string) => void): Promise<void> {
  let checked = 0
  for (let i = 0; i < ids.length; i++) {
    const info = await client.getWorkflow(ids[i]!)
    assert.equal(info?.status, "completed", `${ids[i]} ended ${info?.status}`)
    check(info, raceKey(i))
    checked++
  }
  assert.equal(checked, ids.length)
}

async function pollUntil(check: () => boolean | Promise<boolean>, timeoutMS: number): Promise<boolean> {
  const until = Date.now() + timeoutMS
  while (Date.now() < until) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return check()
}
