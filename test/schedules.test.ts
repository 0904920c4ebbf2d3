/**
 * Schedules on a runner, with an injected clock: each tick fires once across
 * runners, missed ticks are caught up within the window, overlap policies,
 * daylight saving, pause/resume/trigger/delete, declarations that change,
 * and two runners that declare one schedule differently.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, WorkflowClient, WorkflowRunner, type TaskRunner } from "../src/index.js"
import type { ScheduleInfo } from "../src/schedules/info.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { ALL_STORES, MemoryLogger, eventually, startRunner } from "./helpers/runner.js"

/** A clock that runs at real speed from a point in time the test sets. */
function testClock(start: string): { now: () => number; set: (iso: string) => void } {
  let offset = Date.parse(start) - Date.now()
  return { now: () => Date.now() + offset, set: (iso) => void (offset = Date.parse(iso) - Date.now()) }
}

/** Task runners that finish at once (`Tick`) or when the test opens their gate (`Gate`, by its data). */
function taskRunners(): { runners: TaskRunner[]; open: (gate: string) => void } {
  const opened = new Set<string>()
  return {
    open: (gate) => void opened.add(gate),
    runners: [
      { Name: "Tick", Execute: async () => ({ data: "ok" }) },
      {
        Name: "Gate",
        Execute: async (ctx) => {
          while (!opened.has(String(ctx.data))) {
            if (ctx.signal.aborted) throw new Error("aborted")
            await new Promise((r) => setTimeout(r, 10))
          }
          return { data: "ok" }
        },
      },
    ],
  }
}

/** Long leases: the test clock jumps minutes at a time, and a lease must not lapse because of it. */
const SCHEDULE_OPTIONS = { leaseMS: 86_400_000 } as const

async function scheduleWhere(runner: WorkflowRunner | WorkflowClient, id: string, what: string, check: (s: ScheduleInfo) => boolean): Promise<ScheduleInfo> {
  return eventually(
    async () => {
      const s = await runner.getSchedule(id)
      return s && check(s) ? s : undefined
    },
    5_000,
    `schedule "${id}": ${what}`,
  )
}

async function scheduleWorkflowIDs(runner: WorkflowRunner, id: string): Promise<string[]> {
  const prefix = `schedule:${id}:`
  const rows = await runner.listWorkflows({ afterID: prefix, limit: 1_000 })
  return rows.map((w) => w.id).filter((w) => w.startsWith(prefix))
}

for (const store of ALL_STORES) {
  describe(`schedules (${store.name})`, { timeout: 60_000, skip: store.skip }, () => {
    it("fires each tick exactly once across two runners, as the workflow schedule:<id>:<tickISO>", async (t) => {
      const { storage, cleanup } = store.open()
      const clock = testClock("2030-01-01T10:00:30Z")
      const { runners } = taskRunners()
      const fired: string[] = []
      const started: WorkflowRunner[] = []
      try {
        for (const runnerID of ["a", "b"]) {
          const runner = await startRunner(t, storage, runners, { ...SCHEDULE_OPTIONS, runnerID, clock: clock.now })
          started.push(runner)
          runner.on("scheduleFired", (e) => fired.push(`${runnerID} ${e.workflowID}`))
          const declared = await runner.schedule({ id: "minutely", cron: "* * * * *", workflow: { tasks: { tick: { task: "Tick" } } } })
          assert.equal(declared.outcome, runnerID === "a" ? "created" : "unchanged")
          assert.equal(declared.nextFireAt?.toISOString(), "2030-01-01T10:01:00.000Z")
        }
        const a = started[0]!
        for (const minute of ["10:01", "10:02", "10:03"]) {
          clock.set(`2030-01-01T${minute}:00.050Z`)
          const s = await scheduleWhere(a, "minutely", `tick ${minute} fired and ended`, (s) => s.lastFireAt?.toISOString() === `2030-01-01T${minute}:00.000Z` && s.lastWorkflow?.status === "completed")
          assert.equal(s.lastWorkflow?.id, `schedule:minutely:2030-01-01T${minute}:00.000Z`)
        }
        assert.deepEqual(await scheduleWorkflowIDs(a, "minutely"), [
          "schedule:minutely:2030-01-01T10:01:00.000Z",
          "schedule:minutely:2030-01-01T10:02:00.000Z",
          "schedule:minutely:2030-01-01T10:03:00.000Z",
        ])
        const ticks = fired.map((f) => f.split(" ")[1])
        assert.equal(new Set(ticks).size, 3)
        assert.equal(ticks.length, 3, `a tick fired in both runners: ${fired.join(", ")}`)
        const info = await a.getSchedule("minutely")
        assert.equal(info?.skippedTicks, 0)
        assert.equal(info?.nextFireAt?.toISOString(), "2030-01-01T10:04:00.000Z")
      } finally {
        for (const r of started) await r.stop({ closeStorage: false })
        await storage.close()
        await cleanup()
      }
    })

    it("catch-up: with every runner down for five ticks, one that starts fires what the window allows, once each, and records the rest", async (t) => {
      const { storage, cleanup } = store.open()
      const clock = testClock("2030-01-01T10:00:30Z")
      const { runners } = taskRunners()
      let first: WorkflowRunner | undefined
      let second: WorkflowRunner | undefined
      const declare = async (runner: WorkflowRunner) => {
        await runner.schedule({ id: "latest-only", cron: "* * * * *", workflow: { tasks: { tick: { task: "Tick" } } } })
        await runner.schedule({ id: "windowed", cron: "* * * * *", overlap: "allow", catchupWindowMS: 170_000, workflow: { tasks: { tick: { task: "Tick" } } } })
      }
      try {
        first = await startRunner(t, storage, runners, { ...SCHEDULE_OPTIONS, clock: clock.now })
        await declare(first)
        clock.set("2030-01-01T10:01:00.050Z")
        for (const id of ["latest-only", "windowed"]) {
          await scheduleWhere(first, id, "10:01 fired and ended", (s) => s.lastFireAt?.toISOString() === "2030-01-01T10:01:00.000Z" && s.lastWorkflow?.status === "completed")
        }
        await first.stop({ closeStorage: false })
        first = undefined
        // Down through 10:02, 10:03, 10:04, 10:05 and 10:06.
        clock.set("2030-01-01T10:06:30Z")
        second = await startRunner(t, storage, runners, { ...SCHEDULE_OPTIONS, clock: clock.now })
        const fired: string[] = []
        second.on("scheduleFired", (e) => fired.push(e.workflowID))
        await declare(second)
        const latest = await scheduleWhere(second, "latest-only", "caught up", (s) => s.nextFireAt?.toISOString() === "2030-01-01T10:07:00.000Z")
        assert.equal(latest.skippedTicks, 4, "10:02 to 10:05 are recorded as skipped")
        const windowed = await scheduleWhere(second, "windowed", "caught up", (s) => s.nextFireAt?.toISOString() === "2030-01-01T10:07:00.000Z")
        assert.equal(windowed.skippedTicks, 2, "10:02 and 10:03 are older than the window (2 min 50 s before 10:06:30)")
        assert.equal(windowed.lastSkip?.tickAt.toISOString(), "2030-01-01T10:03:00.000Z")
        assert.match(windowed.lastSkip?.reason ?? "", /catch-up window/)
        assert.deepEqual(await scheduleWorkflowIDs(second, "latest-only"), [
          "schedule:latest-only:2030-01-01T10:01:00.000Z",
          "schedule:latest-only:2030-01-01T10:06:00.000Z",
        ])
        assert.deepEqual(await scheduleWorkflowIDs(second, "windowed"), [
          "schedule:windowed:2030-01-01T10:01:00.000Z",
          "schedule:windowed:2030-01-01T10:04:00.000Z",
          "schedule:windowed:2030-01-01T10:05:00.000Z",
          "schedule:windowed:2030-01-01T10:06:00.000Z",
        ])
        assert.equal(fired.length, new Set(fired).size, "a missed tick fired twice")
        assert.equal(fired.length, 4)
      } finally {
        await first?.stop({ closeStorage: false })
        await second?.stop({ closeStorage: false })
        await storage.close()
        await cleanup()
      }
    })

    it("overlap: with a tick's workflow still running, skip adds none, buffer-one adds one when it ends, allow adds every tick", async (t) => {
      const { storage, cleanup } = store.open()
      const clock = testClock("2030-01-01T10:00:30Z")
      const { runners, open } = taskRunners()
      const runner = await startRunner(t, storage, runners, { ...SCHEDULE_OPTIONS, clock: clock.now })
      try {
        for (const overlap of ["skip", "buffer-one", "allow"] as const) {
          await runner.schedule({ id: overlap, cron: "* * * * *", overlap, workflow: { tasks: { wait: { task: "Gate", data: overlap } } } })
        }
        const all = ["skip", "buffer-one", "allow"]
        const stepTo = async (minute: string, what: string, check: (id: string, s: ScheduleInfo) => boolean) => {
          clock.set(`2030-01-01T${minute}:00.050Z`)
          for (const id of all) await scheduleWhere(runner, id, what, (s) => check(id, s) && s.nextFireAt?.toISOString() !== `2030-01-01T${minute}:00.000Z`)
        }
        await stepTo("10:01", "10:01 fired", (_, s) => s.lastFireAt?.toISOString() === "2030-01-01T10:01:00.000Z")
        // 10:01's workflows are still running (their gates are shut).
        await stepTo("10:02", "10:02 handled", (id, s) =>
          id === "skip" ? s.skippedTicks === 1 : id === "buffer-one" ? s.bufferedTickAt?.toISOString() === "2030-01-01T10:02:00.000Z" : s.lastFireAt?.toISOString() === "2030-01-01T10:02:00.000Z",
        )
        await stepTo("10:03", "10:03 handled", (id, s) =>
          id === "skip" ? s.skippedTicks === 2 : id === "buffer-one" ? s.skippedTicks === 1 : s.lastFireAt?.toISOString() === "2030-01-01T10:03:00.000Z",
        )
        assert.deepEqual(await scheduleWorkflowIDs(runner, "skip"), ["schedule:skip:2030-01-01T10:01:00.000Z"])
        assert.deepEqual(await scheduleWorkflowIDs(runner, "buffer-one"), ["schedule:buffer-one:2030-01-01T10:01:00.000Z"])
        assert.equal((await scheduleWorkflowIDs(runner, "allow")).length, 3)
        const skipInfo = await runner.getSchedule("skip")
        assert.match(skipInfo?.lastSkip?.reason ?? "", /"schedule:skip:2030-01-01T10:01:00.000Z" was still pending/)

        for (const id of all) open(id)
        // The held-back tick is added once 10:01's workflow has ended, with its own tick's ID.
        const buffered = await scheduleWhere(runner, "buffer-one", "the held tick fired", (s) => s.bufferedTickAt === null && s.lastFireAt?.toISOString() === "2030-01-01T10:02:00.000Z")
        assert.equal(buffered.lastWorkflow?.id, "schedule:buffer-one:2030-01-01T10:02:00.000Z")
        await scheduleWhere(runner, "skip", "10:01 ended", (s) => s.lastWorkflow?.status === "completed")
        assert.deepEqual(await scheduleWorkflowIDs(runner, "skip"), ["schedule:skip:2030-01-01T10:01:00.000Z"], "skip added a skipped tick later")
        assert.deepEqual(await scheduleWorkflowIDs(runner, "buffer-one"), [
          "schedule:buffer-one:2030-01-01T10:01:00.000Z",
          "schedule:buffer-one:2030-01-01T10:02:00.000Z",
        ])
        await scheduleWhere(runner, "buffer-one", "the held tick's workflow ended", (s) => s.lastWorkflow?.status === "completed")
        await stepTo("10:04", "10:04 fired", (_, s) => s.lastFireAt?.toISOString() === "2030-01-01T10:04:00.000Z")
      } finally {
        for (const id of ["skip", "buffer-one", "allow"]) open(id)
        await runner.stop()
        await cleanup()
      }
    })

    it("daylight saving: 02:30 Europe/Berlin fires at 03:00 on the spring-forward day and once on the fall-back day", async (t) => {
      const { storage, cleanup } = store.open()
      const clock = testClock("2024-03-30T12:00:00Z")
      const { runners } = taskRunners()
      let runner: WorkflowRunner | undefined
      try {
        const nightly = { cron: "30 2 * * *", timezone: "Europe/Berlin", workflow: { tasks: { tick: { task: "Tick" as const } } } }
        runner = await startRunner(t, storage, runners, { ...SCHEDULE_OPTIONS, clock: clock.now })
        const spring = await runner.schedule({ id: "spring", ...nightly })
        assert.equal(spring.nextFireAt?.toISOString(), "2024-03-31T01:00:00.000Z", "02:30 does not exist on 2024-03-31: croner fires at 03:00 CEST")
        clock.set("2024-03-31T01:00:00.050Z")
        let s = await scheduleWhere(runner, "spring", "the spring-forward tick fired", (s) => s.lastFireAt !== null)
        assert.equal(s.lastWorkflow?.id, "schedule:spring:2024-03-31T01:00:00.000Z")
        assert.equal(s.nextFireAt?.toISOString(), "2024-04-01T00:30:00.000Z")
        // Months later: a runner of its own (a clock that jumps months would also expire every lease of this one).
        await runner.stop({ closeStorage: false })
        clock.set("2024-10-26T12:00:00Z")
        runner = await startRunner(t, storage, runners, { ...SCHEDULE_OPTIONS, clock: clock.now })
        await runner.deleteSchedule("spring")
        const fall = await runner.schedule({ id: "fall", ...nightly })
        assert.equal(fall.nextFireAt?.toISOString(), "2024-10-27T00:30:00.000Z")
        clock.set("2024-10-27T00:30:00.050Z")
        s = await scheduleWhere(runner, "fall", "the fall-back tick fired", (s) => s.lastFireAt?.toISOString() === "2024-10-27T00:30:00.000Z")
        assert.equal(s.nextFireAt?.toISOString(), "2024-10-28T01:30:00.000Z", "02:30 CET on the fall-back day must not fire again")
        clock.set("2024-10-27T01:30:00.050Z")
        await new Promise((r) => setTimeout(r, 300))
        assert.deepEqual(await scheduleWorkflowIDs(runner, "fall"), ["schedule:fall:2024-10-27T00:30:00.000Z"])
      } finally {
        await runner?.stop({ closeStorage: false })
        await storage.close()
        await cleanup()
      }
    })

    it("pauses, resumes from the next tick, triggers now once, lists, and deletes (keeping its workflows)", async (t) => {
      const { storage, cleanup } = store.open()
      const clock = testClock("2030-01-01T10:00:30Z")
      const { runners } = taskRunners()
      const runner = await startRunner(t, storage, runners, { ...SCHEDULE_OPTIONS, clock: clock.now })
      try {
        await runner.schedule({ id: "p", cron: "* * * * *", workflow: { tasks: { tick: { task: "Tick", data: { n: 1 } } } }, paused: true })
        await runner.schedule({ id: "q", cron: "0 0 * * *", workflow: { tasks: [{ name: "first", task: "Tick" }] } })
        clock.set("2030-01-01T10:03:00.050Z")
        await new Promise((r) => setTimeout(r, 300))
        assert.deepEqual(await scheduleWorkflowIDs(runner, "p"), [], "a paused schedule fired")
        const handle = await runner.triggerSchedule("p")
        assert.ok(handle)
        assert.match(handle.id, /^schedule:p:2030-01-01T10:03:00\.\d{3}Z$/)
        assert.equal((await handle.result()).status, "completed")
        assert.equal(await runner.triggerSchedule("nope"), null)
        assert.equal(await runner.resumeSchedule("p"), true)
        let p = await runner.getSchedule("p")
        assert.equal(p?.paused, false)
        assert.equal(p?.nextFireAt?.toISOString(), "2030-01-01T10:04:00.000Z", "resuming fired the ticks of the paused time")
        clock.set("2030-01-01T10:04:00.050Z")
        p = await scheduleWhere(runner, "p", "10:04 fired", (s) => s.lastFireAt?.toISOString() === "2030-01-01T10:04:00.000Z")
        assert.deepEqual(p.tasks, [{ name: "tick", task: "Tick", data: { n: 1 } }])
        const listed = await runner.listSchedules()
        assert.deepEqual(listed.map((s) => [s.id, s.cron, s.overlap, s.catchupWindowMS]), [["p", "* * * * *", "skip", null], ["q", "0 0 * * *", "skip", null]])
        assert.deepEqual((await runner.listSchedules({ afterID: "p" })).map((s) => s.id), ["q"])
        assert.equal(await runner.deleteSchedule("p"), true)
        assert.equal(await runner.deleteSchedule("p"), false)
        assert.equal(await runner.getSchedule("p"), null)
        assert.equal((await scheduleWorkflowIDs(runner, "p")).length, 2, "deleting a schedule deleted its workflows")
        assert.equal(await runner.pauseSchedule("p"), false)
      } finally {
        await runner.stop()
        await cleanup()
      }
    })

    it("a changed cron replaces the stored one on the next start; two live runners with different definitions are reported", async (t) => {
      const { storage, cleanup } = store.open()
      const clock = testClock("2030-01-01T10:00:30Z")
      const { runners } = taskRunners()
      const logs = new MemoryLogger()
      const started: WorkflowRunner[] = []
      try {
        const v1 = await startRunner(t, storage, runners, { ...SCHEDULE_OPTIONS, clock: clock.now, runnerID: "v1", logger: logs })
        started.push(v1)
        assert.equal((await v1.schedule({ id: "report", cron: "0 * * * *", workflow: { tasks: { tick: { task: "Tick" } } } })).outcome, "created")
        assert.equal((await v1.getSchedule("report"))?.nextFireAt?.toISOString(), "2030-01-01T11:00:00.000Z")
        // A newer deployment declares it every 15 minutes while v1 still runs.
        const v2 = await startRunner(t, storage, runners, { ...SCHEDULE_OPTIONS, clock: clock.now, runnerID: "v2" })
        started.push(v2)
        const replaced = await v2.schedule({ id: "report", cron: "*/15 * * * *", workflow: { tasks: { tick: { task: "Tick" } } } })
        assert.equal(replaced.outcome, "replaced")
        const stored = await v2.getSchedule("report")
        assert.equal(stored?.cron, "*/15 * * * *")
        assert.equal(stored?.nextFireAt?.toISOString(), "2030-01-01T10:15:00.000Z")
        await eventually(
          () => logs.at("warn").find((m) => /schedule "report" is stored with a definition other than the one this runner declared/.test(m)),
          5_000,
          "v1 to report that another runner declared the schedule differently",
        )
        assert.equal((await v2.schedule({ id: "report", cron: "*/15 * * * *", workflow: { tasks: { tick: { task: "Tick" } } } })).outcome, "unchanged")
      } finally {
        for (const r of started) await r.stop({ closeStorage: false })
        await storage.close()
        await cleanup()
      }
    })

    it("a client with no task code declares and manages schedules; runners fire them", async (t) => {
      const { storage, cleanup } = store.open()
      const clock = testClock("2030-01-01T10:00:30Z")
      const client = new WorkflowClient({ storageProvider: storage, clock: clock.now })
      let runner: WorkflowRunner | undefined
      try {
        assert.equal((await client.schedule({ id: "from-client", cron: "* * * * *", workflow: { tasks: { tick: { task: "Tick" } } } })).outcome, "created")
        runner = await startRunner(t, storage, taskRunners().runners, { ...SCHEDULE_OPTIONS, clock: clock.now })
        clock.set("2030-01-01T10:01:00.050Z")
        const s = await scheduleWhere(client, "from-client", "10:01 fired and ended", (s) => s.lastWorkflow?.status === "completed")
        assert.equal(s.lastWorkflow?.id, "schedule:from-client:2030-01-01T10:01:00.000Z")
      } finally {
        await runner?.stop({ closeStorage: false })
        await client.close()
        await cleanup()
      }
    })
  })
}

describe("schedule declarations that are refused", () => {
  it("refuses an invalid cron, time zone, policy, window or task with a ValidationError, writing nothing", async () => {
    const storage = new MemoryStorageProvider()
    const runner = new WorkflowRunner({ taskRunners: taskRunners().runners, storageProvider: storage })
    try {
      const tasks = { tick: { task: "Tick" as const } }
      const bad: Array<[Record<string, unknown>, RegExp]> = [
        [{ cron: "* * *" }, /cron "\* \* \*" is invalid/],
        [{ cron: "0 25 * * *" }, /cron "0 25 \* \* \*" is invalid: .*hour/],
        [{ cron: "" }, /cron must be a non-empty string/],
        [{ cron: "* * * * *", timezone: "Europe/Nowhere" }, /timezone "Europe\/Nowhere" is not a known IANA time zone/],
        [{ cron: "* * * * *", overlap: "queue" }, /overlap must be one of "skip", "buffer-one", "allow"/],
        [{ cron: "* * * * *", catchupWindowMS: -5 }, /catchupWindowMS must be a finite number >= 0/],
        [{ cron: "* * * * *", workflow: { tasks: { x: { task: "Nope" } } } }, /names runner "Nope", which is not registered/],
        [{ cron: "* * * * *", workflow: { tasks: {} } }, /at least one task/],
        [{ cron: "* * * * *", id: "" }, /schedule id must not be empty/],
      ]
      for (const [over, message] of bad) {
        await assert.rejects(
          runner.schedule({ id: "bad", workflow: { tasks }, ...over } as unknown as Parameters<typeof runner.schedule>[0]),
          (e: unknown) => e instanceof ValidationError && message.test(e.message),
          `not refused as ${String(message)}: ${JSON.stringify(over)}`,
        )
      }
      assert.deepEqual(await runner.listSchedules(), [])
    } finally {
      await runner.stop()
    }
  })

  it("refuses schedules on a provider without the schedules capability", async () => {
    const inner = new MemoryStorageProvider()
    const bare: StorageProvider = Object.assign(Object.create(inner) as StorageProvider, {
      capabilities: { contract: 1, supports: ["crash-counts", "status-reads"] as const },
      schedules: undefined,
    })
    const client = new WorkflowClient({ storageProvider: bare })
    try {
      await assert.rejects(
        client.schedule({ id: "s", cron: "* * * * *", workflow: { tasks: { t: { task: "T" } } } }),
        (e: unknown) => e instanceof ValidationError && /needs a storage provider with the "schedules" capability/.test(e.message),
      )
    } finally {
      await client.close()
    }
  })
})
