/**
 * Durability under SIGKILL: a child runner is killed at random moments, many
 * times, while it adds and runs workflows; each restart recovers. The ledger
 * oracle of shared/RELIABILITY.md then checks the store against what the
 * tasks did.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import {
  checkOracle,
  dumpSQLite,
  exitsCleanly,
  killHard,
  openExecutions,
  seededRandom,
  startFixture,
  type Child,
  readIDs,
  readLedger,
  snapshotResults,
  violations,
  type Kill,
  type LedgerLine,
  type ResultSnapshot,
  type StoreDump,
} from "./helpers/ledger.js"

const ROUNDS = 12
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("crash recovery (SQLite, real child processes)", { timeout: 60_000 }, () => {
  it("SIGKILL at random moments, many times, while adding and running workflows: nothing lost, nothing re-run after its result, nothing out of order", async (t) => {
    const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
    t.diagnostic(`seed ${seed} (replay the kill moments with CRASH_SEED=${seed})`)
    const random = seededRandom(seed)
    const dir = mkdtempSync(join(tmpdir(), "dt-crash-"))
    const file = join(dir, "store.sqlite")
    const ledgerFile = join(dir, "ledger.jsonl")
    let child: Child | undefined
    try {
      const kills: Kill[] = []
      const snapshots: ResultSnapshot[] = []
      let interrupted = 0
      let addsInFlight = 0
      let committedUnacked = 0
      for (let round = 0; round < ROUNDS; round++) {
        child = startFixture("crash-worker", ["work", file, dir])
        await child.ready
        // The kill moment: anywhere from recovery to steady adding and running.
        await sleep(20 + random() * 380)
        await killHard(child)
        const ledger = readLedger(ledgerFile)
        kills.push({ pid: child.pid, ledgerLength: ledger.length })
        interrupted += openExecutions(ledger, child.pid)
        const dump = dumpSQLite(file)
        assert.equal(dump.integrity, "ok", `integrity_check after kill ${round}`)
        const ackedNow = readIDs(join(dir, "acked.txt"))
        const inFlight = [...readIDs(join(dir, "attempted.txt"))].filter((id) => !ackedNow.has(id))
        addsInFlight += inFlight.length
        committedUnacked += inFlight.filter((id) => dump.workflows.has(id)).length
        snapshots.push(snapshotResults(dump, ledger.length))
      }

      child = startFixture("crash-worker", ["drain", file, dir])
      await exitsCleanly(child, 30_000)

      const ledger = readLedger(ledgerFile)
      const store = dumpSQLite(file)
      const acked = readIDs(join(dir, "acked.txt"))
      const attempted = readIDs(join(dir, "attempted.txt"))
      assert.equal(store.integrity, "ok", "PRAGMA integrity_check on the final file")
      const report = checkOracle({
        ledger,
        store,
        acked,
        attempted,
        kills,
        snapshots,
        expectedTaskCount: (id) => 3 + (Number(id.slice(3)) % 3),
      })
      t.diagnostic(
        `${ROUNDS} kills; ${acked.size} workflows acked, ${addsInFlight} adds in flight at a kill ` +
          `(${committedUnacked} of them committed but not acked; re-added after restart), ` +
          `${store.workflows.size - acked.size} never acked in the end; ${report.tasks} task results, ${report.executions} executions, ` +
          `${report.reexecutions} re-executions (allowed), ${interrupted} executions cut by a kill`,
      )
      assert.deepEqual(violations(report), {}, "the oracle found violations")
      assert.ok(acked.size >= ROUNDS, `too little work was done to mean anything: ${acked.size} acked`)
      assert.equal(report.tasks, [...store.workflows.values()].reduce((n, w) => n + w.taskCount, 0))
      assertNoPending(store)
    } finally {
      if (child && child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("the ledger oracle", () => {
  it("catches re-runs, skipped tasks, out-of-order starts, overlaps, lost, unexpected and changed results", () => {
    const result = (nonce: string, prev: string | null) => JSON.stringify({ nonce, pid: 1, prev })
    const store: StoreDump = {
      integrity: "ok",
      workflows: new Map([["w", { id: "w", status: "completed", taskCount: 2, leaseOwner: null, availableAt: 0 }]]),
      tasks: [
        { workflowID: "w", seq: 0, status: "completed", result: result("n0", null) },
        { workflowID: "w", seq: 1, status: "completed", result: result("n1", "n0") },
      ],
    }
    const line = (seq: number, event: "start" | "end", pid = 1, nonce?: string, workflowID = "w"): LedgerLine => ({ workflowID, seq, attempt: 0, pid, event, time: 0, nonce })
    const good = [line(0, "start"), line(0, "end", 1, "n0"), line(1, "start"), line(1, "end", 1, "n1")]
    const check = (ledger: LedgerLine[], extra: Partial<Parameters<typeof checkOracle>[0]> = {}) =>
      violations(checkOracle({ ledger, store, acked: new Set(["w"]), attempted: new Set(), kills: [], snapshots: [], ...extra }))
    assert.deepEqual(check(good), {})
    assert.deepEqual(Object.keys(check([...good, line(0, "start", 2)])), ["rerunAfterRecorded"])
    assert.deepEqual(Object.keys(check(good.slice(0, 2))), ["unrecordedResult"])
    assert.deepEqual(Object.keys(check([good[0]!, good[2]!, good[1]!, good[3]!])), ["outOfOrder"])
    const overlap = [line(0, "start", 7), line(0, "start", 2), line(0, "end", 2, "n0"), ...good.slice(2)]
    assert.deepEqual(Object.keys(check(overlap, { kills: [{ pid: 7, ledgerLength: 2 }] })), ["concurrent"])
    assert.deepEqual(check(overlap, { kills: [{ pid: 7, ledgerLength: 1 }] }), {}, "an execution cut by a kill ends at the kill")
    assert.deepEqual(Object.keys(check(good, { acked: new Set(["w", "gone"]) })), ["lost"])
    assert.deepEqual(Object.keys(check(good, { acked: new Set() })), ["unexpected"])
    const snapshot = { ledgerLength: 2, results: new Map([["w#0", result("other", null)]]) }
    assert.deepEqual(Object.keys(check(good, { snapshots: [snapshot] })), ["changedResult"])
  })
})

function assertNoPending(store: StoreDump): void {
  const pending = [...store.workflows.values()].filter((w) => w.status !== "completed")
  assert.deepEqual(pending, [], "every stored workflow completed")
}
