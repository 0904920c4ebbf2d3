/**
 * A sleep survives SIGKILL without restarting its timer: a child runner
 * reaches a sleep and is killed halfway through it; a runner started
 * afterwards recovers the workflow, which wakes at the wake time stored
 * before the kill (the total sleep is about the one requested, not longer
 * by the time before the kill). SQLite and Postgres, real child processes.
 */
import assert from "node:assert/strict"
import { join } from "node:path"
import { describe, it } from "node:test"
import { CRASH_STORES, crashTestStore } from "./helpers/crash-store.js"
import { killHard, readLedger } from "./helpers/ledger.js"
import { waitFor } from "./helpers/wait.js"

const SLEEP_MS = 3_000
/** The child is killed this long after its sleep started: a timer restarted by recovery would end this much later. */
const KILL_AFTER_MS = 1_500
/** How long after the wake time the recovering runner may take to run the next task. */
const WAKE_SLACK_MS = 1_000

for (const store of CRASH_STORES) {
  describe(`sleep across a crash (${store.name})`, { skip: store.skip ?? false, timeout: 60_000 }, () => {
    it("SIGKILL halfway through a sleep, then recover: it wakes at the wake time stored before the kill, not a full sleep later", async (t) => {
      const s = crashTestStore(t, store, "dt-sleep-crash-")
      const child = s.startFixture("sleep-worker", [s.arg, s.dir, String(SLEEP_MS)])
      await waitFor(child.ready, { what: "the child to reach its sleep", timeoutMS: 15_000 })
      const before = await s.provider().getWorkflow("napper")
      const wakeAt = before?.tasks[1]?.wakeAt
      assert.ok(typeof wakeAt === "number", "the wake time was not stored when the sleep started")
      const sleepStarted = wakeAt - SLEEP_MS
      await new Promise((r) => setTimeout(r, Math.max(0, sleepStarted + KILL_AFTER_MS - Date.now())))
      await killHard(child)
      assert.ok(Date.now() < wakeAt, "the child was killed after the wake time; the test proves nothing")

      const started = new Map<string, number>()
      const info = await s.recoverUntilEnded(
        [{ Name: "Mark", Execute: async (ctx) => (started.set(ctx.name, Date.now()), { data: ctx.name }) }],
        "napper",
        SLEEP_MS + 10_000,
      )
      assert.equal(info.status, "completed")
      const nap = info.tasks[1]!
      assert.equal(nap.wakeAt?.getTime(), wakeAt, "recovery changed the stored wake time")
      assert.deepEqual(nap.result, { sleptUntil: new Date(wakeAt).toISOString() })
      const after = started.get("after")
      assert.ok(after !== undefined, "the task after the sleep did not run in the recovering runner")
      assert.equal(started.has("before"), false, "the task before the sleep ran again after recovery")
      assert.ok(after >= wakeAt, `the task after the sleep started ${wakeAt - after} ms before the wake time`)
      const slept = after - sleepStarted
      assert.ok(
        slept < SLEEP_MS + WAKE_SLACK_MS,
        `the sleep took ${slept} ms from when it started; ${SLEEP_MS} ms were asked (a timer restarted by recovery takes about ${SLEEP_MS + KILL_AFTER_MS})`,
      )
      const ledger = readLedger<{ name: string; pid: number }>(join(s.dir, "ledger.jsonl"))
      assert.deepEqual(ledger.map((l) => l.name), ["before"], "the child ran a task after the sleep started")
    })
  })
}
