/**
 * THE RACE for waitForEvent members of parallel steps (DESIGN §7): the park
 * of a parallel step whose event members read "no event yet" must be
 * serialized with the sends for every member's (name, key), or it parks
 * after a send looked for parked waiters, and sleeps forever (a lost
 * wake-up). On Postgres, with real processes: three runners run 300
 * workflows (two workflows per key), each one parallel step of an `Arrive`
 * task and two waits for its key; as each workflow's `Arrive` member runs,
 * its key's two events are sent from another process, timed to land
 * anywhere around the members' reads and the park. Every
 * workflow must end with exactly its key's two events, in order, within a
 * bounded time (no timeout is set, so a lost wake-up never ends), and no
 * wait may take an event twice. The counts show the interleaving happened:
 * parks that found an event sent meanwhile, and sends that woke a parked
 * waiter.
 */
import assert from "node:assert/strict"
import { spawn, type ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, it } from "node:test"
import { WorkflowClient } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"

const WORKFLOWS = Number(process.env.PARALLEL_EVENTS_RACE_WORKFLOWS ?? 300)
const RUNNERS = 3
const SENDERS = 2
/** After the last event was sent, every workflow must end within this. */
const SETTLE_MS = 30_000

// The parallel step parks only after its Arrive member's write: sends spread wider land on both sides of the park.
process.env.EVENTS_RACE_SEND_DELAY_MS = "200"

const postgresReason = await postgresSkipReason().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))

interface Worker {
  process: ChildProcess
  ready: Promise<void>
  /** The JSON line it prints when stopped. */
  report: Promise<Record<string, unknown>>
}

function startWorker(mode: "run" | "send", schema: string, id: string): Worker {
  const script = fileURLToPath(new URL("./fixtures/events-race-worker.js", import.meta.url))
  const child = spawn(process.execPath, [script, mode, schema, id], { stdio: ["ignore", "pipe", "pipe", "ipc"] })
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

describe("parallel waitForEvent members: sendEvent and the parallel step's park, interleaved across processes (Postgres)", { skip: typeof postgresReason === "string" ? postgresReason : false, timeout: 180_000 }, () => {
  it(`${WORKFLOWS} workflows × a parallel step with 2 wait members, their events sent from another process as the step parks: no lost wake-up, no double take`, async (t) => {
    if (postgresReason instanceof Error) throw postgresReason
    const schema = uniqueSchemaName()
    const storage = new PostgresStorageProvider(connectionString, { schema, poolConfig: { max: 4 } })
    const client = new WorkflowClient({ storageProvider: storage, pollIntervalMS: 500 })
    const workers: Worker[] = []
    try {
      await storage.init()
      const keyOf = (i: number) => `k${i >> 1}`
      const ids = Array.from({ length: WORKFLOWS }, (_, i) => `race-${i}`)
      for (let start = 0; start < WORKFLOWS; start += 250) {
        await Promise.all(
          ids.slice(start, start + 250).map((id, j) =>
            client.addWorkflow({
              workflowID: id,
              tasks: {
                p: {
                  parallel: {
                    arrive: { task: "Arrive", data: keyOf(start + j) },
                    first: { waitForEvent: { name: "race", key: keyOf(start + j) } },
                    second: { waitForEvent: { name: "race", key: keyOf(start + j) } },
                  },
                },
              },
            }),
          ),
        )
      }
      const senders = Array.from({ length: SENDERS }, (_, i) => startWorker("send", schema, `sender-${i}`))
      workers.push(...senders)
      await Promise.all(senders.map((s) => s.ready))
      const triggered = new Set<string>()
      const sent = new Set<string>()
      const failed: string[] = []
      for (const s of senders) {
        s.process.on("message", (m: { sent?: string; failed?: string }) => {
          if (m.sent) sent.add(m.sent)
          if (m.failed) failed.push(m.failed)
        })
      }
      let next = 0
      const runners = Array.from({ length: RUNNERS }, (_, i) => startWorker("run", schema, `runner-${i}`))
      workers.push(...runners)
      for (const r of runners) {
        r.process.on("message", (m: { arrived?: string }) => {
          const key = m.arrived
          if (!key || triggered.has(key)) return
          triggered.add(key)
          senders[next++ % SENDERS]!.process.send({ send: key })
        })
      }
      await Promise.all(runners.map((r) => r.ready))

      const keys = WORKFLOWS / 2
      const started = Date.now()
      const sentAll = await pollUntil(() => sent.size + failed.length >= keys, 120_000)
      assert.ok(sentAll, `only ${sent.size} of ${keys} keys had their events sent within 120 s (${triggered.size} triggered)`)
      assert.deepEqual(failed, [], "some sends failed")
      t.diagnostic(`all events sent ${Date.now() - started} ms after the runners started`)
      const settled = await pollUntil(async () => (await client.getWorkflowStats()).counts.pending === 0, SETTLE_MS)
      if (!settled) {
        const stuck = await client.listWorkflows({ status: "pending", limit: 20 })
        const details = await Promise.all(stuck.map(async (w) => `${w.id}: ${(await client.getWorkflow(w.id))?.tasks.map((s) => s.state).join(" / ")}`))
        assert.fail(`lost wake-ups: workflows still waiting ${SETTLE_MS} ms after their events were sent:\n${details.join("\n")}`)
      }

      let checked = 0
      for (let i = 0; i < WORKFLOWS; i++) {
        const info = await client.getWorkflow(ids[i]!)
        assert.equal(info?.status, "completed", `${ids[i]} ended ${info?.status}`)
        const result = info.tasks[0]?.result as Record<string, { eventID: string }>
        // Either member may take either event (one may find the first event just after the other found none): two different ones.
        const got = [result.first?.eventID, result.second?.eventID].sort()
        assert.deepEqual(got, [`${keyOf(i)}-1`, `${keyOf(i)}-2`], `${ids[i]} took ${got.join(", ")}: the two members must take the key's two events, one each`)
        checked++
      }
      assert.equal(checked, WORKFLOWS)

      for (const w of workers) w.process.send("stop")
      const reports = await Promise.all(workers.map((w) => w.report))
      const parks = { parked: 0, eventArrived: 0, fenced: 0 }
      let woke = 0
      for (const r of reports) {
        const p = r.parks as typeof parks | undefined
        if (p) for (const k of Object.keys(parks) as Array<keyof typeof parks>) parks[k] += p[k]
        woke += typeof r.woke === "number" ? r.woke : 0
      }
      t.diagnostic(`parks: ${JSON.stringify(parks)}; sends that woke a parked waiter: ${woke}`)
      // The interleaving happened both ways, many times: parks that saw an event sent after their read, and sends that woke parked waiters.
      assert.ok(parks.parked >= 20, `only ${parks.parked} parallel steps parked: the events arrived too early to race with the waits`)
      assert.ok(woke >= 20, `only ${woke} sends woke a parked waiter`)
    } finally {
      for (const w of workers) if (w.process.exitCode === null) w.process.kill("SIGKILL")
      await client.close()
      await dropSchema(schema).catch(() => {})
    }
  })
})

async function pollUntil(check: () => boolean | Promise<boolean>, timeoutMS: number): Promise<boolean> {
  const until = Date.now() + timeoutMS
  while (Date.now() < until) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return check()
}
