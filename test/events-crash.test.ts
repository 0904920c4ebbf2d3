/**
 * Waiting for events survives SIGKILL: a child runner is killed while its
 * workflows wait for events, some just woken by events sent from this
 * process and running; more events are sent while no runner runs; a runner
 * started afterwards recovers. Every workflow ends with the right events,
 * in order, none taken twice, and no task whose result was stored before
 * the kill runs again. SQLite and Postgres, real child processes.
 */
import assert from "node:assert/strict"
import { join } from "node:path"
import { describe, it } from "node:test"
import { WorkflowClient } from "../src/index.js"
import { CRASH_STORES, crashTestStore } from "./helpers/crash-store.js"
import { exitsCleanly, killHard, readLedger } from "./helpers/ledger.js"
import { onTestEnd } from "./helpers/wait.js"

const COUNT = 30

interface LedgerLine {
  workflowID: string
  name: string
  pid: number
}

for (const store of CRASH_STORES) {
  describe(`events across a crash (${store.name})`, { skip: store.skip ?? false, timeout: 90_000 }, () => {
    it("SIGKILL while workflows wait (and some run after a wake-up); events sent while no runner runs; after recovery all end right", async (t) => {
      const s = crashTestStore(t, store, "dt-events-crash-")
      const ledgerFile = join(s.dir, "ledger.jsonl")
      const client = new WorkflowClient({ storageProvider: s.provider({ poolMax: 4 }) })
      onTestEnd(t, "close the client", () => client.close())
      const waiting = s.startFixture("events-crash-worker", ["wait", s.arg, s.dir, String(COUNT)])
      await waiting.ready
      // Half are paid while the runner lives: they wake, run "packed", and wait again; kill it somewhere in that.
      for (let i = 0; i < COUNT / 2; i++) await client.sendEvent({ name: "paid", key: `o-${i}`, payload: i, eventID: `paid-${i}` })
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 250))
      await killHard(waiting)
      const before = readLedger<LedgerLine>(ledgerFile)
      const stored = await Promise.all(Array.from({ length: COUNT }, (_, i) => client.getWorkflow(`order-${i}`)))
      const packedBeforeKill = new Set(stored.filter((w) => w?.tasks[2]?.status === "completed").map((w) => w!.id))

      // While no runner runs: the other half is paid, and everyone ships twice (a repeat of one eventID too).
      for (let i = COUNT / 2; i < COUNT; i++) await client.sendEvent({ name: "paid", key: `o-${i}`, payload: i, eventID: `paid-${i}` })
      for (let i = 0; i < COUNT; i++) {
        await client.sendEvent({ name: "shipped", key: `o-${i}`, payload: "box 1", eventID: `shipped-${i}-1` })
        await client.sendEvent({ name: "shipped", key: `o-${i}`, payload: "box 1 again", eventID: `shipped-${i}-1` })
        await client.sendEvent({ name: "shipped", key: `o-${i}`, payload: "box 2", eventID: `shipped-${i}-2` })
      }
      await exitsCleanly(s.startFixture("events-crash-worker", ["drain", s.arg, s.dir, String(COUNT)]), 40_000)

      const ledger = readLedger<LedgerLine>(ledgerFile)
      for (let i = 0; i < COUNT; i++) {
        const id = `order-${i}`
        const info = await client.getWorkflow(id)
        assert.equal(info?.status, "completed", `${id} ended ${info?.status}`)
        const eventIDs = info.tasks.filter((t) => t.kind === "waitForEvent").map((t) => (t.result as { eventID: string }).eventID)
        assert.deepEqual(eventIDs, [`paid-${i}`, `shipped-${i}-1`, `shipped-${i}-2`], `${id} took the wrong events (or one twice)`)
        assert.deepEqual((info.tasks[3]?.result as { payload: unknown }).payload, "box 1", "a repeated eventID must not replace the first send")
        const packedRuns = ledger.filter((l) => l.workflowID === id && l.name === "packed")
        assert.ok(packedRuns.length >= 1, `${id}: "packed" never ran`)
        if (packedBeforeKill.has(id)) {
          assert.equal(packedRuns.length, 1, `${id}: "packed" ran again after its result was stored before the kill`)
        }
      }
      assert.ok(before.length >= COUNT, "the first runner ran every workflow's first task")
    })
  })
}
