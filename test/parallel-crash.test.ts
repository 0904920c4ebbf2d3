/**
 * SIGKILL in the middle of a parallel step: only the members that had not
 * ended run again. A child process runs a parallel step (two quick tasks, a
 * slow task, a sleep, a child workflow) and is killed while the slow task
 * runs, after the others have ended or started waiting; a runner started
 * afterwards recovers the workflow. Counted from a ledger file of every
 * run: the quick members and the child's task ran once, the slow one twice
 * (killed, then again), the sleep kept its stored wake time, and the step's
 * result holds the first runs' results. SQLite and Postgres.
 */
import assert from "node:assert/strict"
import { join } from "node:path"
import { describe, it } from "node:test"
import { ledgered } from "./fixtures/ledgered.js"
import { CRASH_STORES, crashTestStore } from "./helpers/crash-store.js"
import { killHard, readLedger } from "./helpers/ledger.js"
import { waitFor } from "./helpers/wait.js"

for (const store of CRASH_STORES) {
  describe(`a parallel step across a crash (${store.name})`, { skip: store.skip ?? false, timeout: 60_000 }, () => {
    it("SIGKILL while one member runs: after recovery only the unfinished member runs again", async (t) => {
      const s = crashTestStore(t, store, "dt-parallel-crash-")
      const child = s.startFixture("parallel-worker", [s.arg, s.dir])
      await waitFor(child.ready, { what: "the child to end the quick members", timeoutMS: 20_000 })
      const before = await s.provider().getWorkflow("par")
      const wakeAt = before?.tasks.find((step) => step.name === "d")?.wakeAt
      assert.ok(typeof wakeAt === "number")
      await killHard(child)
      const runs = () => readLedger<{ workflowID: string; name: string; event: string; pid: number }>(join(s.dir, "ledger.jsonl"))
      assert.ok(runs().some((r) => r.name === "c" && r.event === "start"), "the slow member had not started at the kill")

      const info = await s.recoverUntilEnded([ledgered("Quick", 30, s.dir), ledgered("Slow", 200, s.dir)], "par", 20_000)
      assert.equal(info.status, "completed")
      const starts = (workflowID: string, name: string) => runs().filter((r) => r.workflowID === workflowID && r.name === name && r.event === "start")
      assert.equal(starts("par", "a").length, 1, "member a ran again after recovery")
      assert.equal(starts("par", "b").length, 1, "member b ran again after recovery")
      assert.equal(starts("par/e", "k").length, 1, "the child workflow's task ran again after recovery")
      assert.equal(starts("par", "c").length, 2, "the unfinished member did not run again (or ran more than once)")
      assert.notEqual(starts("par", "c")[1]?.pid, child.pid)
      assert.equal(starts("par", "after").length, 1)
      const result = info.tasks[0]?.result as Record<string, unknown>
      assert.equal(result["a"], `a by ${child.pid}`, "member a's result is not its first run's")
      assert.equal(result["c"], `c by ${process.pid}`)
      assert.deepEqual(result["d"], { sleptUntil: new Date(wakeAt).toISOString() }, "recovery changed the sleep's stored wake time")
      assert.deepEqual(result["e"], { id: "par/e", status: "completed", results: { k: `k by ${child.pid}` } })
    })
  })
}
