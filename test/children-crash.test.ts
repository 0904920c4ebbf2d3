/**
 * SIGKILL while child workflows are in flight: a runner adds parents that
 * each run two child workflows in a row, and is killed while children run;
 * a second process recovers. Every parent ends completed with its children's
 * results, no step adds a second child (each parent has exactly its two
 * children), and the ledger oracle (shared/RELIABILITY.md) finds nothing in
 * the children's tasks: no lost or re-run-after-recorded task, no result
 * that no execution returned. SQLite and Postgres, real processes.
 */
import assert from "node:assert/strict"
import { join } from "node:path"
import { describe, it } from "node:test"
import { CRASH_STORES, crashTestStore } from "./helpers/crash-store.js"
import { checkOracle, exitsCleanly, killHard, readIDs, readLedger, violations, type LedgerResult, type StoreDump } from "./helpers/ledger.js"
import { eventually } from "./helpers/runner.js"
import { waitFor } from "./helpers/wait.js"

const PARENTS = 12

for (const store of CRASH_STORES) {
  describe(`child workflows across a crash (${store.name})`, { skip: store.skip ?? false, timeout: 120_000 }, () => {
    it("SIGKILL while children run, then recover in another process: every parent completes with its two children's results; the oracle finds nothing", async (t) => {
      const { dir, arg, dump, startFixture } = crashTestStore(t, store, "dt-children-crash-")
      const ledgerFile = join(dir, "ledger.jsonl")
      const worker = startFixture("children-worker", ["work", arg, dir, String(PARENTS)])
      await waitFor(worker.ready, { what: "the worker to add its parents", timeoutMS: 30_000 })
      // Kill once some children have finished tasks and others are still running.
      await eventually(() => readLedger(ledgerFile).filter((l) => l.event === "end").length >= PARENTS, 30_000, "children's tasks to run")
      const killedAt = readLedger(ledgerFile).length
      await killHard(worker)
      const atKill = await dump()
      const pendingChildren = [...atKill.workflows.values()].filter((w) => w.id.includes("/") && w.status === "pending")
      assert.ok(pendingChildren.length > 0, "no child was in flight at the kill; the test proves nothing")

      const drain = startFixture("children-worker", ["drain", arg, dir, "0"])
      await exitsCleanly(drain, 60_000)

      const final = await dump()
      const acked = readIDs(join(dir, "acked.txt"))
      assert.equal(acked.size, PARENTS)
      const expectedChildren = [...acked].flatMap((id) => [`${id}/fan`, `${id}/tail`])
      assert.deepEqual([...final.workflows.keys()].sort(), [...acked, ...expectedChildren].sort(), "the store holds other workflows than the parents and one child per step")

      // The parents: completed, each step's result the child's stored results.
      const resultsOf = (id: string) => {
        const out: Record<string, string> = {}
        final.tasks.filter((t) => t.workflowID === id).forEach((t, i) => (out[["a", "b", "c"][i] as string] = (JSON.parse(t.result ?? "null") as LedgerResult).nonce))
        return out
      }
      for (const id of acked) {
        assert.equal(final.workflows.get(id)?.status, "completed", `parent ${id} did not complete`)
        const steps = final.tasks.filter((t) => t.workflowID === id)
        const fan = JSON.parse(steps[0]?.result ?? "null") as { id: string; status: string; results: Record<string, LedgerResult> }
        const tail = JSON.parse(steps[1]?.result ?? "null") as { id: string; status: string; results: Record<string, LedgerResult> }
        assert.deepEqual([fan.id, fan.status, tail.id, tail.status], [`${id}/fan`, "completed", `${id}/tail`, "completed"])
        assert.deepEqual(Object.fromEntries(Object.entries(fan.results).map(([k, v]) => [k, v.nonce])), resultsOf(`${id}/fan`))
        assert.equal(tail.results["only"]?.nonce, resultsOf(`${id}/tail`)["a"])
      }

      // The children's tasks, against the ledger.
      const children = new Set(expectedChildren)
      const childStore: StoreDump = {
        workflows: new Map([...final.workflows].filter(([id]) => children.has(id))),
        tasks: final.tasks.filter((t) => children.has(t.workflowID)),
        integrity: final.integrity,
      }
      const ledger = readLedger(ledgerFile)
      const report = checkOracle({ ledger, store: childStore, acked: children, attempted: children, kills: [{ pid: worker.pid, ledgerLength: killedAt }], snapshots: [] })
      assert.deepEqual(violations(report), {}, `oracle: ${JSON.stringify(violations(report))}`)
      assert.equal(report.tasks, PARENTS * 4)
      if (store.name === "sqlite") assert.equal(final.integrity, "ok")
    })
  })
}
