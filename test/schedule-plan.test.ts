/**
 * The pure policy of schedules: cron ticks across daylight-saving changes,
 * catch-up of missed ticks, and the overlap policies, decided from a stored
 * row and the time.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError } from "../src/index.js"
import { cronTicker } from "../src/schedules/cron.js"
import { planScheduleStep } from "../src/schedules/plan.js"
import type { ScheduleRow } from "../src/storage/schedule-store.js"

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())
const at = (text: string) => Date.parse(text)

function ticks(cron: string, timezone: string | null, from: string, count: number): Array<string | null> {
  const ticker = cronTicker(cron, timezone)
  const out: Array<string | null> = []
  let t: number | null = at(from)
  for (let i = 0; i < count && t !== null; i++) {
    t = ticker.next(t)
    out.push(iso(t))
  }
  return out
}

function row(over: Partial<ScheduleRow>): ScheduleRow {
  return {
    id: "s",
    cron: "* * * * *",
    timezone: null,
    tasks: JSON.stringify([{ name: "a", task: "T", data: "null" }]),
    overlap: "skip",
    catchupWindowMS: null,
    hash: "h",
    paused: false,
    nextFireAt: at("2030-01-01T10:01:00Z"),
    bufferedTickAt: null,
    lastTickAt: null,
    lastWorkflowID: null,
    lastWorkflowStatus: null,
    skippedTicks: 0,
    lastSkippedTickAt: null,
    lastSkipReason: null,
    createdAt: 0,
    updatedAt: 0,
    ...over,
  }
}

describe("cron ticks and daylight saving (Europe/Berlin, croner)", () => {
  it("02:30 on the spring-forward day (02:00 -> 03:00) fires once, at 03:00 CEST, the first valid time after the gap", () => {
    assert.deepEqual(ticks("30 2 * * *", "Europe/Berlin", "2024-03-29T12:00:00Z", 4), [
      "2024-03-30T01:30:00.000Z", // 02:30 CET
      "2024-03-31T01:00:00.000Z", // 03:00 CEST: 02:30 does not exist that day
      "2024-04-01T00:30:00.000Z", // 02:30 CEST
      "2024-04-02T00:30:00.000Z",
    ])
  })

  it("02:30 on the fall-back day (03:00 -> 02:00) fires once, at the first 02:30 (CEST)", () => {
    assert.deepEqual(ticks("30 2 * * *", "Europe/Berlin", "2024-10-25T12:00:00Z", 4), [
      "2024-10-26T00:30:00.000Z", // 02:30 CEST
      "2024-10-27T00:30:00.000Z", // the first 02:30 (CEST); the second (CET, 01:30Z) does not fire
      "2024-10-28T01:30:00.000Z", // 02:30 CET
      "2024-10-29T01:30:00.000Z",
    ])
  })

  it("an interval expression fires at both 02:30s of the fall-back day and skips the spring gap", () => {
    assert.deepEqual(ticks("*/30 * * * *", "Europe/Berlin", "2024-10-27T00:15:00Z", 4), [
      "2024-10-27T00:30:00.000Z", // 02:30 CEST
      "2024-10-27T01:00:00.000Z", // 02:00 CET
      "2024-10-27T01:30:00.000Z", // 02:30 CET
      "2024-10-27T02:00:00.000Z",
    ])
    assert.deepEqual(ticks("*/30 * * * *", "Europe/Berlin", "2024-03-31T00:15:00Z", 2), [
      "2024-03-31T00:30:00.000Z", // 01:30 CET
      "2024-03-31T01:00:00.000Z", // 03:00 CEST: 02:00 and 02:30 do not exist
    ])
  })

  it("reads UTC without a time zone, seconds in the 6-field form, and has no tick after a year-bound expression", () => {
    assert.deepEqual(ticks("0 9 * * *", null, "2030-01-01T09:00:00Z", 1), ["2030-01-02T09:00:00.000Z"])
    assert.deepEqual(ticks("*/10 * * * * *", null, "2030-01-01T00:00:05.500Z", 2), ["2030-01-01T00:00:10.000Z", "2030-01-01T00:00:20.000Z"])
    assert.equal(cronTicker("0 0 0 1 1 * 2020", null).next(at("2030-01-01T00:00:00Z")), null)
  })

  it("refuses invalid expressions and time zones with a ValidationError that says what is wrong", () => {
    assert.throws(() => cronTicker("* * *", null), (e: unknown) => e instanceof ValidationError && /cron "\* \* \*" is invalid/.test(e.message))
    assert.throws(() => cronTicker("61 * * * *", null), (e: unknown) => e instanceof ValidationError && /minute/.test(e.message))
    assert.throws(() => cronTicker("* * * * *", "Mars/Base"), (e: unknown) => e instanceof ValidationError && /timezone "Mars\/Base" is not a known IANA time zone/.test(e.message))
  })
})

describe("planning a schedule's next step", () => {
  const everyMinute = cronTicker("* * * * *", null)

  it("fires the due tick with its deterministic workflow ID, and moves on to the next tick", () => {
    const step = planScheduleStep(row({}), at("2030-01-01T10:01:00.020Z"), everyMinute)
    assert.equal(step?.kind, "fire")
    assert.equal(step?.kind === "fire" ? step.workflowID : "", "schedule:s:2030-01-01T10:01:00.000Z")
    assert.equal(iso(step?.advance.nextFireAt ?? null), "2030-01-01T10:02:00.000Z")
    assert.deepEqual(step?.advance.expect, { nextFireAt: at("2030-01-01T10:01:00Z"), hash: "h", bufferedTickAt: null })
  })

  it("does nothing before the tick, or while paused", () => {
    assert.equal(planScheduleStep(row({}), at("2030-01-01T10:00:59.999Z"), everyMinute), null)
    assert.equal(planScheduleStep(row({ paused: true }), at("2030-01-01T11:00:00Z"), everyMinute), null)
    assert.equal(planScheduleStep(row({ nextFireAt: null }), at("2030-01-01T11:00:00Z"), everyMinute), null)
  })

  it("by default skips every missed tick but the latest, recording them, then fires the latest", () => {
    const now = at("2030-01-01T10:05:30Z")
    const first = planScheduleStep(row({}), now, everyMinute)
    assert.equal(first?.kind, "skip")
    assert.equal(first?.kind === "skip" ? first.count : 0, 4, "10:01 to 10:04 are too old")
    assert.equal(iso(first?.advance.nextFireAt ?? null), "2030-01-01T10:05:00.000Z")
    assert.equal(iso(first?.advance.skip?.lastTickAt ?? null), "2030-01-01T10:04:00.000Z")
    const second = planScheduleStep(row({ nextFireAt: at("2030-01-01T10:05:00Z") }), now, everyMinute)
    assert.equal(second?.kind, "fire")
  })

  it("with catchupWindowMS fires the missed ticks within the window and skips older ones", () => {
    const now = at("2030-01-01T10:05:30Z")
    const step = planScheduleStep(row({ catchupWindowMS: 150_000 }), now, everyMinute)
    assert.equal(step?.kind === "skip" ? step.count : -1, 2, "10:01 and 10:02 are older than 2.5 minutes")
    assert.equal(iso(step?.advance.nextFireAt ?? null), "2030-01-01T10:03:00.000Z")
    assert.equal(planScheduleStep(row({ catchupWindowMS: 150_000, nextFireAt: at("2030-01-01T10:03:00Z") }), now, everyMinute)?.kind, "fire")
  })

  it("counts a long outage in bounded steps", () => {
    const step = planScheduleStep(row({ cron: "* * * * * *" }), at("2030-01-02T10:00:00Z"), cronTicker("* * * * * *", null))
    assert.equal(step?.kind === "skip" ? step.count : -1, 10_000)
  })

  it("skip: skips a due tick while the previous tick's workflow is pending", () => {
    const step = planScheduleStep(row({ lastWorkflowID: "w", lastWorkflowStatus: "pending" }), at("2030-01-01T10:01:00Z"), everyMinute)
    assert.equal(step?.kind, "skip")
    assert.match(step?.kind === "skip" ? step.reason : "", /previous tick's workflow "w" was still pending/)
    assert.equal(planScheduleStep(row({ lastWorkflowID: "w", lastWorkflowStatus: "failed" }), at("2030-01-01T10:01:00Z"), everyMinute)?.kind, "fire")
  })

  it("buffer-one: holds one tick back, skips a second, and fires the held one once the previous ends", () => {
    const pending = { overlap: "buffer-one" as const, lastWorkflowID: "w", lastWorkflowStatus: "pending" as const }
    const hold = planScheduleStep(row(pending), at("2030-01-01T10:01:00Z"), everyMinute)
    assert.equal(hold?.kind, "buffer")
    assert.equal(iso(hold?.advance.bufferedTickAt ?? null), "2030-01-01T10:01:00.000Z")
    const held = at("2030-01-01T10:01:00Z")
    const second = planScheduleStep(row({ ...pending, bufferedTickAt: held, nextFireAt: at("2030-01-01T10:02:00Z") }), at("2030-01-01T10:02:00Z"), everyMinute)
    assert.equal(second?.kind, "skip")
    const release = planScheduleStep(
      row({ ...pending, lastWorkflowStatus: "completed", bufferedTickAt: held, nextFireAt: at("2030-01-01T10:03:00Z") }),
      at("2030-01-01T10:02:30Z"),
      everyMinute,
    )
    assert.equal(release?.kind, "fire")
    assert.equal(release?.kind === "fire" ? release.workflowID : "", "schedule:s:2030-01-01T10:01:00.000Z")
    assert.equal(release?.advance.bufferedTickAt, null)
    assert.equal(release?.advance.nextFireAt, undefined, "firing a held tick leaves the timetable")
  })

  it("allow: fires while the previous tick's workflow is pending", () => {
    const step = planScheduleStep(row({ overlap: "allow", lastWorkflowID: "w", lastWorkflowStatus: "pending" }), at("2030-01-01T10:01:00Z"), everyMinute)
    assert.equal(step?.kind, "fire")
  })
})
