/**
 * Chaos on Postgres: three runner processes share one schema, each adding and
 * running workflows, while the test SIGKILLs one of them at random moments,
 * again and again, and restarts it with the same runnerID (mostly at once, so
 * it reclaims its earlier life's leases; sometimes only after its leases
 * expired, so the survivors take its work over). Then the survivors drain the
 * store, and the ledger oracle of shared/RELIABILITY.md checks the store
 * against what the tasks did: nothing acknowledged lost, tasks in order, no
 * task executed by two live processes at overlapping times (a killed
 * process's open execution ends at its kill), one stored result per completed
 * task that never changes, and no task started again after its result was seen.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import {
  checkOracle,
  dumpPostgres,
  exitsCleanly,
  killHard,
  openExecutions,
  readIDs,
  readLedger,
  seededRandom,
  snapshotResults,
  startFixture,
  violations,
  type Child,
  type Kill,
  type LedgerLine,
  type ResultSnapshot,
} from "./helpers/ledger.js"
import { connectionString, dropSchema, postgresOrSkip, uniqueSchemaName } from "./helpers/postgres.js"

const RUNNERS = ["r0", "r1", "r2"] as const
const KILLS = 8
const LEASE_MS = 1_500
const HEARTBEAT_MS = 400
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** JSON lines a worker printed. */
function messages(child: Child): Array<Record<string, unknown>> {
  return child
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>]
      } catch {
        return [] // the last line of a killed process may be cut off
      }
    })
}

describe("chaos on Postgres (3 runner processes, random SIGKILLs and restarts)", { timeout: 90_000 }, () => {
  it("nothing acknowledged is lost, nothing runs out of order or twice at once, every result is stored once and never changes", async (t) => {
    if (!(await postgresOrSkip(t))) return
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))
    t.diagnostic(`seed ${seed} (replay the kill schedule with CHAOS_SEED=${seed})`)
    const random = seededRandom(seed)
    const schema = uniqueSchemaName()
    const dir = mkdtempSync(join(tmpdir(), "dt-pg-chaos-"))
    const ledgerFile = join(dir, "ledger.jsonl")
    const options = (runnerID: string) => ({
      connectionString,
      schema,
      dir,
      runnerID,
      leaseMS: LEASE_MS,
      heartbeatMS: HEARTBEAT_MS,
      pollIntervalMS: 50,
      concurrency: 6,
      addPauseMS: 300,
      burst: 20,
      // r0 keeps one write batch in flight, r1 and r2 several: both paths of the group commit run under the kills.
      writeBatchesInFlight: runnerID === "r0" ? 1 : runnerID === "r1" ? 2 : 3,
    })
    const live = new Map<string, Child>()
    const everyChild: Child[] = []
    const runnerOf = new Map<number, string>()
    const start = async (runnerID: string) => {
      const child = startFixture("pg-chaos-worker", [JSON.stringify(options(runnerID))])
      everyChild.push(child)
      runnerOf.set(child.pid, runnerID)
      live.set(runnerID, child)
      await child.ready
      return child
    }
    try {
      // Create the tables once, before the workers race to.
      const setup = new PostgresStorageProvider(connectionString, { schema })
      await setup.init()
      await setup.close()
      for (const id of RUNNERS) await start(id)

      const kills: Kill[] = []
      const killTimes: Array<{ pid: number; at: number }> = []
      const snapshots: ResultSnapshot[] = []
      let interrupted = 0
      let addsInFlight = 0
      let delayedRestarts = 0
      const chaosStarted = Date.now()
      for (let k = 0; k < KILLS; k++) {
        await sleep(400 + random() * 1_400)
        const victimID = RUNNERS[Math.floor(random() * RUNNERS.length)]!
        const victim = live.get(victimID)!
        if (k % 2 === 1) {
          // Every other kill aims at an add in flight: acknowledged or not, its workflow must not be half there.
          const unacked = () => {
            const ackedNow = readIDs(join(dir, `acked-${victimID}.txt`))
            return [...readIDs(join(dir, `attempted-${victimID}.txt`))].some((id) => !ackedNow.has(id))
          }
          const until = Date.now() + 1_000
          while (!unacked() && Date.now() < until) await sleep(1)
        }
        await killHard(victim)
        killTimes.push({ pid: victim.pid, at: Date.now() })
        // The store first, then the ledger: a start at or after this length began after the store was read.
        const dump = await dumpPostgres(schema)
        const ledger = readLedger(ledgerFile)
        kills.push({ pid: victim.pid, ledgerLength: ledger.length })
        interrupted += openExecutions(ledger, victim.pid)
        const ackedNow = readIDs(join(dir, `acked-${victimID}.txt`))
        addsInFlight += [...readIDs(join(dir, `attempted-${victimID}.txt`))].filter((id) => !ackedNow.has(id)).length
        snapshots.push(snapshotResults(dump, ledger.length))
        // Mostly restart at once (it takes its earlier life's leases back); sometimes only after they expired.
        if (random() < 0.25) {
          delayedRestarts++
          await sleep(LEASE_MS + 300)
        }
        await start(victimID)
      }
      const chaosMS = Date.now() - chaosStarted

      writeFileSync(join(dir, "drain"), "")
      await Promise.all([...live.values()].map((child) => exitsCleanly(child, 30_000)))

      const ledger = readLedger(ledgerFile)
      const store = await dumpPostgres(schema)
      const acked = new Set(RUNNERS.flatMap((id) => [...readIDs(join(dir, `acked-${id}.txt`))]))
      const attempted = new Set(RUNNERS.flatMap((id) => [...readIDs(join(dir, `attempted-${id}.txt`))]))
      const report = checkOracle({
        ledger,
        store,
        acked,
        attempted,
        kills,
        snapshots,
        expectedTaskCount: (id) => 3 + (Number(id.slice(id.lastIndexOf("-") + 1)) % 3),
      })
      assert.deepEqual(violations(report), {}, "the oracle found violations")
      assert.equal(report.lost.length, 0)
      assert.ok(acked.size >= 300, `enough workflows were acknowledged to mean something: ${acked.size}`)
      assert.equal(kills.length, KILLS)

      // Overlap by wall-clock time too: a killed process's open execution lasts until its kill time.
      const timeOverlaps = overlapsByTime(ledger, killTimes)
      assert.deepEqual(timeOverlaps.slice(0, 10), [], "executions of one task by two live processes overlapped in time")

      // Exactly one stored result per completed task, and every acknowledged workflow completed.
      const completed = store.tasks.filter((x) => x.status === "completed")
      assert.ok(completed.every((x) => x.result !== null))
      assert.equal(new Set(completed.map((x) => `${x.workflowID}#${x.seq}`)).size, completed.length)
      for (const id of acked) assert.equal(store.workflows.get(id)?.status, "completed", id)

      // No process died by itself or left an unhandled rejection.
      for (const child of everyChild) {
        const bad = messages(child).filter((m) => m.event === "unhandledRejection")
        assert.deepEqual(bad, [], `pid ${child.pid}`)
      }

      const crossRunner = workflowsRunByAnother(ledger, runnerOf)
      const leaseLost = everyChild.reduce((n, c) => n + messages(c).filter((m) => m.event === "leaseLost").length, 0)
      t.diagnostic(
        `${KILLS} kills (${delayedRestarts} restarted only after the lease expired) over ${chaosMS} ms; ` +
          `${acked.size} workflows acknowledged (${addsInFlight} adds in flight at a kill, re-added by the next life), ` +
          `${report.tasks} task results; ${report.executions} executions, ${report.reexecutions} re-executions, ` +
          `${interrupted} executions cut by a kill; ${crossRunner} workflows ran partly in another runner than the one that added them; ` +
          `${leaseLost} leaseLost events`,
      )
    } finally {
      for (const child of everyChild) {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
      }
      await Promise.all(everyChild.map((c) => c.exited))
      rmSync(dir, { recursive: true, force: true })
      await dropSchema(schema)
    }
  })
})

/**
 * Executions of one task by different processes whose wall-clock intervals
 * overlap: start..end, or start..kill time for an execution its process never
 * ended because it was killed.
 */
function overlapsByTime(ledger: LedgerLine[], killTimes: Array<{ pid: number; at: number }>): string[] {
  const killedAt = new Map(killTimes.map((k) => [k.pid, k.at]))
  const intervals = new Map<string, Array<{ pid: number; from: number; to: number }>>()
  const open = new Map<string, number>()
  for (const l of ledger) {
    const key = `${l.workflowID}#${l.seq}`
    const mine = `${key}@${l.pid}`
    if (l.event === "start") open.set(mine, l.time)
    else {
      const from = open.get(mine)
      open.delete(mine)
      if (from === undefined) continue
      const list = intervals.get(key) ?? []
      list.push({ pid: l.pid, from, to: l.time })
      intervals.set(key, list)
    }
  }
  for (const [mine, from] of open) {
    const at = mine.lastIndexOf("@")
    const key = mine.slice(0, at)
    const pid = Number(mine.slice(at + 1))
    const list = intervals.get(key) ?? []
    list.push({ pid, from, to: killedAt.get(pid) ?? Infinity })
    intervals.set(key, list)
  }
  const found: string[] = []
  for (const [key, list] of intervals) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i]!
        const b = list[j]!
        // Strict: times are whole milliseconds, so touching ends are not an overlap.
        if (a.pid !== b.pid && a.from < b.to && b.from < a.to) found.push(`${key}: pid ${a.pid} ${a.from}..${a.to} and pid ${b.pid} ${b.from}..${b.to}`)
      }
    }
  }
  return found
}

/** How many workflows had some task executed by a runnerID other than the one in the workflow's ID (its adder). */
function workflowsRunByAnother(ledger: LedgerLine[], runnerOf: Map<number, string>): number {
  const ids = new Set<string>()
  for (const l of ledger) {
    const adder = l.workflowID.slice(0, l.workflowID.indexOf("-"))
    if (runnerOf.get(l.pid) !== adder) ids.add(l.workflowID)
  }
  return ids.size
}
