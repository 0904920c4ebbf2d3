/**
 * Crash sweep (RELIABILITY.md #2): for every N, a runner process dies by
 * SIGKILL at its Nth storage call, once just before the call and once just
 * after it returned (committed, reply unseen); a new process recovers. Each
 * time the file passes `PRAGMA integrity_check`, no workflow is completed
 * with a pending task, nothing acknowledged is lost, and the ledger oracle
 * finds no re-run of a recorded task, no out-of-order start, no overlap.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { checkOracle, dumpSQLite, readIDs, readLedger, snapshotResults, startFixture, violations } from "./helpers/ledger.js"
import { waitFor } from "./helpers/wait.js"

/** Runs one sweep-worker life to its end (it exits by itself within 20 s); returns how it ended and its stdout. */
async function life(args: string[]) {
  const child = startFixture("sweep-worker", args)
  try {
    const exit = await waitFor(child.exited, { what: `sweep worker (${args.join(" ")}) ending`, timeoutMS: 30_000 })
    return { ...exit, pid: child.pid, stdout: child.stdout(), stderr: child.stderr() }
  } finally {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
  }
}

describe("crash sweep: SIGKILL at every storage call", () => {
  it("loses nothing, keeps the file sound and every rule of the oracle, wherever the process dies", { timeout: 180_000 }, async (t) => {
    const calibration = mkdtempSync(join(tmpdir(), "dt-sweep-"))
    let total: number
    try {
      const run = await life(["work", join(calibration, "store.sqlite"), calibration, "0", "never"])
      assert.equal(run.code, 0, run.stderr)
      total = Number(/calls (\d+)/.exec(run.stdout)?.[1])
      // README: "about 30 in a run". How many result writes share a commit, and how often the worker polls, depend on
      // timing: 29 to 31 on an idle machine, down to about 20 on a busy one.
      assert.ok(total >= 20 && total <= 35, `a whole run made ${total} storage calls; the README says about 30`)
    } finally {
      rmSync(calibration, { recursive: true, force: true })
    }
    t.diagnostic(`a whole run makes ${total} storage calls; killing at each, before and after`)

    let killed = 0
    for (let n = 1; n <= total; n++) {
      for (const when of ["before", "after"] as const) {
        const dir = mkdtempSync(join(tmpdir(), "dt-sweep-"))
        const file = join(dir, "store.sqlite")
        const ledgerFile = join(dir, "ledger.jsonl")
        try {
          const first = await life(["work", file, dir, String(n), when])
          const where = `killed ${when} call ${n}`
          // Call counts can differ a little from the calibration run (batches form by timing): a life may end first.
          if (first.signal !== "SIGKILL") {
            assert.equal(first.code, 0, `${where}: ${first.stderr}`)
            continue
          }
          killed++
          const atKill = readLedger(ledgerFile)
          const snapshot = snapshotResults(dumpSQLite(file), atKill.length)
          const second = await life(["drain", file, dir, "0", "never"])
          assert.equal(second.code, 0, `${where}: recovery failed: ${second.stderr}`)
          const store = dumpSQLite(file)
          assert.equal(store.integrity, "ok", `${where}: integrity_check: ${store.integrity}`)
          const report = checkOracle({
            ledger: readLedger(ledgerFile),
            store,
            acked: readIDs(join(dir, "acked.txt")),
            attempted: readIDs(join(dir, "attempted.txt")),
            kills: [{ pid: first.pid, ledgerLength: atKill.length }],
            snapshots: [snapshot],
            expectedTaskCount: () => 3,
          })
          assert.deepEqual(violations(report), {}, where)
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }
    }
    t.diagnostic(`${killed} lives killed and recovered`)
    assert.ok(killed >= total, `only ${killed} of ${2 * total} lives were killed`)
  })
})
