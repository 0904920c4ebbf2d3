/**
 * The `schedules` part of the provider conformance suite: run by
 * {@link runProviderConformance} for providers that declare the capability.
 *
 * @module
 */
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { it as test } from "node:test"
import { capabilitiesOf } from "../storage/capabilities.js"
import type { NewWorkflow, StorageProvider } from "../storage/provider.js"
import type { NewSchedule, ScheduleAdvance, ScheduleStore } from "../storage/schedule-store.js"

const T0 = 1_800_000_000_000

/**
 * Registers the schedule tests (inside the caller's `describe`).
 *
 * @param open - a fresh, initialized provider on the shared (or a private) store
 * @param shared - whether two providers from `open` share one store
 */
export function scheduleConformanceTests(open: () => Promise<StorageProvider>, shared: boolean): void {
  const storeOf = async (): Promise<ScheduleStore> => {
    const p = await open()
    assert.ok(p.schedules, "a provider declaring the schedules capability must have `schedules`")
    return p.schedules
  }
  /** Registers a test that skips for a provider without the capability. */
  const it = (name: string, fn: () => Promise<void>): void => {
    test(name, async (t) => {
      if (!capabilitiesOf(await open()).has("schedules")) return t.skip("the provider does not declare the schedules capability")
      await fn()
    })
  }

  it("schedules: declares once, leaves an equal definition alone, replaces a changed one keeping its history", async () => {
    const s = await storeOf()
    const id = sid()
    assert.deepEqual(await s.declareSchedules([schedule(id, "h1", T0 + 1000)]), ["created"])
    assert.deepEqual(await s.declareSchedules([schedule(id, "h1", T0 + 5000)]), ["unchanged"])
    let row = await s.getSchedule(id)
    assert.equal(row?.nextFireAt, T0 + 1000, "an unchanged declaration moved the timetable")
    const fired = await s.advanceSchedule(fireStep(id, "h1", T0 + 1000, T0 + 2000, null))
    assert.deepEqual(fired, { applied: true, created: true })
    assert.equal((await s.advanceSchedule({ id, now: T0, expect: expectOf(T0 + 2000, "h1", null), bufferedTickAt: T0 + 2000, nextFireAt: T0 + 3000 })).applied, true)
    assert.deepEqual(
      await s.declareSchedules([{ ...schedule(id, "h2", T0 + 9000), cron: "0 * * * *", paused: true }]),
      ["replaced"],
    )
    row = await s.getSchedule(id)
    assert.ok(row)
    assert.equal(row.hash, "h2")
    assert.equal(row.cron, "0 * * * *")
    assert.equal(row.paused, true)
    assert.equal(row.nextFireAt, T0 + 9000)
    assert.equal(row.bufferedTickAt, null, "a replaced definition drops its buffered tick")
    assert.equal(row.lastTickAt, T0 + 1000, "a replaced definition keeps its history")
    assert.equal(row.lastWorkflowID, workflowID(id, T0 + 1000))
  })

  it("schedules: a step applies only against the state it read (compare-and-set)", async () => {
    const s = await storeOf()
    const id = sid()
    await s.declareSchedules([schedule(id, "h", T0 + 1000)])
    const step = fireStep(id, "h", T0 + 1000, T0 + 2000, null)
    assert.deepEqual(await s.advanceSchedule(step), { applied: true, created: true })
    assert.deepEqual(await s.advanceSchedule(step), { applied: false, created: false }, "the same tick was consumed twice")
    assert.equal((await s.advanceSchedule(fireStep(id, "other-hash", T0 + 2000, T0 + 3000, null))).applied, false, "a stale hash applied")
    assert.equal((await s.advanceSchedule(fireStep(id, "h", T0 + 2000, T0 + 3000, T0))).applied, false, "a stale buffered tick applied")
    const skip: ScheduleAdvance = { id, now: T0, expect: expectOf(T0 + 2000, "h", null), nextFireAt: T0 + 3000, skip: { count: 3, lastTickAt: T0 + 2000, reason: "why" } }
    assert.equal((await s.advanceSchedule(skip)).applied, true)
    const row = await s.getSchedule(id)
    assert.equal(row?.nextFireAt, T0 + 3000)
    assert.equal(row?.skippedTicks, 3)
    assert.equal(row?.lastSkippedTickAt, T0 + 2000)
    assert.equal(row?.lastSkipReason, "why")
    assert.equal(row?.lastTickAt, T0 + 1000, "a skip changed the last fired tick")
    assert.equal((await s.advanceSchedule({ ...skip, id: sid() })).applied, false, "a step on a missing schedule applied")
  })

  it("schedules: a fire inserts its workflow and tasks with the step, and leaves an existing workflow alone", async () => {
    const p = await open()
    const s = p.schedules as ScheduleStore
    const id = sid()
    await s.declareSchedules([schedule(id, "h", T0 + 1000)])
    const step = fireStep(id, "h", T0 + 1000, T0 + 2000, null)
    assert.deepEqual(await s.advanceSchedule(step), { applied: true, created: true })
    const stored = await p.getWorkflow(workflowID(id, T0 + 1000))
    assert.equal(stored?.workflow.status, "pending")
    assert.equal(stored?.workflow.leaseToken, null)
    assert.equal(stored?.workflow.availableAt, T0 + 5)
    assert.deepEqual(stored?.tasks.map((t) => [t.seq, t.name, t.task, t.data]), [[0, "a", "Runner", '{"n":1}'], [1, "b", "Runner", "null"]])
    // A trigger (no expect) whose workflow exists: applied, not created.
    const again = await s.advanceSchedule({ id, now: T0, fire: { tickAt: T0 + 1000, workflow: tickWorkflow(id, T0 + 1000) } })
    assert.deepEqual(again, { applied: true, created: false })
    assert.equal((await p.getWorkflow(workflowID(id, T0 + 1000)))?.tasks.length, 2)
    const row = await s.getSchedule(id)
    assert.equal(row?.lastWorkflowStatus, "pending")
    assert.equal(row?.nextFireAt, T0 + 2000, "a trigger moved the timetable")
    assert.equal((await s.advanceSchedule({ id: sid(), now: T0, fire: { tickAt: T0, workflow: tickWorkflow(id, T0 + 77) } })).applied, false)
    assert.equal(await p.getWorkflow(workflowID(id, T0 + 77)), null, "a refused step inserted its workflow")
  })

  it("schedules: lists what fires next (soonest unpaused, and buffered ones), pauses, resumes, deletes", async () => {
    const s = await storeOf()
    const base = T0 - 1e12 - Math.floor(Math.random() * 1e9) * 1000
    const [a, b, c, d, e] = [sid(), sid(), sid(), sid(), sid()]
    await s.declareSchedules([
      schedule(a, "h", base + 30),
      schedule(b, "h", base + 10),
      { ...schedule(c, "h", base + 5), paused: true },
      schedule(d, "h", null),
      schedule(e, "h", base + 9e11),
    ])
    // A buffered tick makes a schedule due however far its next tick is.
    await s.advanceSchedule({ id: e, now: base, expect: expectOf(base + 9e11, "h", null), bufferedTickAt: base })
    const toFire = (await s.schedulesToFire(2)).map((r) => r.id)
    assert.deepEqual(toFire.filter((x) => [a, b, c, d].includes(x)), [b, a], "soonest unpaused first, up to the limit")
    assert.ok(toFire.includes(e), "a schedule with a buffered tick is listed")
    assert.equal(await s.pauseSchedule(a, base), true)
    assert.equal((await s.schedulesToFire(2)).some((r) => r.id === a), false, "a paused schedule is listed to fire")
    assert.equal((await s.advanceSchedule(fireStep(a, "h", base + 30, base + 40, null))).applied, false, "a paused schedule fired")
    assert.equal(await s.resumeSchedule(a, base + 50, base), true)
    assert.equal((await s.getSchedule(a))?.nextFireAt, base + 50)
    assert.equal(await s.resumeSchedule(a, base + 99, base), true)
    assert.equal((await s.getSchedule(a))?.nextFireAt, base + 50, "resuming an unpaused schedule moved its timetable")
    assert.equal(await s.pauseSchedule(sid(), base), false)
    assert.equal(await s.resumeSchedule(sid(), null, base), false)
    const listed = (await s.listSchedules({ afterID: "conformance-schedule-", limit: 10_000 })).map((r) => r.id)
    assert.deepEqual(listed.filter((x) => [a, b, c, d, e].includes(x)), [a, b, c, d, e].sort())
    assert.equal(await s.deleteSchedule(b), true)
    assert.equal(await s.deleteSchedule(b), false)
    assert.equal(await s.getSchedule(b), null)
  })

  it("schedules: of concurrent steps on one tick exactly one applies", async () => {
    const stores = shared ? [await storeOf(), await storeOf()] : [await storeOf()]
    const id = sid()
    await stores[0]!.declareSchedules([schedule(id, "h", T0 + 1000)])
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => stores[i % stores.length]!.advanceSchedule(fireStep(id, "h", T0 + 1000, T0 + 2000, null))),
    )
    assert.equal(outcomes.filter((o) => o.applied).length, 1)
    assert.equal(outcomes.filter((o) => o.created).length, 1)
  })
}

function sid(): string {
  return `conformance-schedule-${randomUUID()}`
}

function workflowID(id: string, tickAt: number): string {
  return `schedule:${id}:${new Date(tickAt).toISOString()}`
}

function schedule(id: string, hash: string, nextFireAt: number | null): NewSchedule {
  return {
    id,
    cron: "* * * * * *",
    timezone: null,
    tasks: JSON.stringify([{ name: "a", task: "Runner", data: '{"n":1}' }]),
    overlap: "skip",
    catchupWindowMS: null,
    hash,
    paused: false,
    nextFireAt,
    now: T0,
  }
}

function tickWorkflow(id: string, tickAt: number): NewWorkflow {
  return {
    id: workflowID(id, tickAt),
    now: T0 + 5,
    tasks: [
      { name: "a", task: "Runner", data: '{"n":1}' },
      { name: "b", task: "Runner", data: "null" },
    ],
  }
}

function expectOf(nextFireAt: number | null, hash: string, bufferedTickAt: number | null) {
  return { nextFireAt, hash, bufferedTickAt }
}

function fireStep(id: string, hash: string, tickAt: number, nextFireAt: number, bufferedTickAt: number | null): ScheduleAdvance {
  return { id, now: T0 + 5, expect: expectOf(tickAt, hash, bufferedTickAt), nextFireAt, fire: { tickAt, workflow: tickWorkflow(id, tickAt) } }
}
