/**
 * The `events` part of the conformance suite: sending is idempotent by
 * event ID; a waitForEvent step may take only events of its (name, key) sent
 * after its workflow was added, the earliest first, never one its workflow
 * took already; a park refuses to park when such an event is stored, and is
 * fenced (also the park of a parallel step's waiting members,
 * `parkForEvents`); a send wakes every parked waiter of its (name, key) (broadcast)
 * and no other. Run by `runProviderConformance` for providers that declare
 * `events`.
 *
 * @module
 */
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { it } from "node:test"
import { openDeclaring } from "./capability-part.js"
import type { EventStore, NewEvent } from "../storage/event-store.js"
import type { NewWorkflow, StorageProvider, WorkflowWrite } from "../storage/provider.js"

// Before the times of the other parts, so nothing here is claimable by (or claims) their workflows in a shared store.
const T0 = 900_000_000
const NO_CRASHES = { recoveries: 0, crashes: 0 }

/**
 * Registers the events tests; `open` returns an initialized provider of the
 * store under test. Each test skips when the provider does not declare
 * `events`.
 */
export function runEventsConformance(openProvider: () => Promise<StorageProvider>): void {
  const open = openDeclaring(openProvider, "events")
  const events = async (t: Parameters<typeof open>[0]): Promise<{ p: StorageProvider; e: EventStore } | undefined> => {
    const p = await open(t)
    if (!p) return undefined
    assert.ok(p.events, "a provider that declares events must have `events`")
    return { p, e: p.events }
  }

  it("events: sending stores an event once per eventID and numbers events in order", async (t) => {
    const s = await events(t)
    if (!s) return
    const name = uid("sent")
    const first = await s.e.sendEvent(event(name, "k", "1", T0))
    assert.equal(first.created, true)
    assert.deepEqual({ ...first.event, seq: 0 }, { seq: 0, name, key: "k", payload: "1", eventID: `${name}-1`, sentAt: T0 })
    const again = await s.e.sendEvent({ ...event(name, "k", "2", T0 + 5), eventID: `${name}-1` })
    assert.equal(again.created, false, "a second send with the same eventID must not store")
    assert.deepEqual(again.event, first.event, "a repeated eventID returns the event stored first")
    const second = await s.e.sendEvent(event(name, "k", "3", T0 + 10))
    assert.ok(second.event.seq > first.event.seq, "a later event must have a larger seq")
    const listed = await s.e.listEvents({ name, limit: 10 })
    assert.deepEqual(
      listed.map((x) => x.payload),
      ["1", "3"],
    )
    assert.deepEqual(await s.e.listEvents({ name, key: "other", limit: 10 }), [])
    assert.deepEqual((await s.e.listEvents({ name, afterSeq: first.event.seq, limit: 10 })).map((x) => x.payload), ["3"])
  })

  it("events: a step takes only events of its name and key sent after its workflow was added, earliest first, each once", async (t) => {
    const s = await events(t)
    if (!s) return
    const name = uid("match")
    await s.e.sendEvent(event(name, "k", '"before"', T0))
    const id = uid("wf")
    await s.p.insertWorkflowsAndTasks([waiter(id, name, "k", T0 + 1, 2)])
    assert.equal(await s.e.findEvent({ workflowID: id, seq: 0 }), null, "an event sent before the workflow was added must not match")
    await s.e.sendEvent(event(name, "other", '"other key"', T0 + 2))
    await s.e.sendEvent(event(uid("other-name"), "k", '"other name"', T0 + 2))
    assert.equal(await s.e.findEvent({ workflowID: id, seq: 0 }), null, "an event of another key or name must not match")
    const a = await s.e.sendEvent(event(name, "k", '"a"', T0 + 3))
    const b = await s.e.sendEvent(event(name, "k", '"b"', T0 + 4))
    assert.equal((await s.e.findEvent({ workflowID: id, seq: 0 }))?.payload, '"a"', "the earliest matching event first")
    assert.equal((await s.e.findEvent({ workflowID: id, seq: 1 }))?.payload, '"a"')
    // The first wait takes "a" (its seq is stored with the step's change): the second must get "b".
    const take: WorkflowWrite = {
      kind: "recordTask",
      workflowID: id,
      token: "events-token",
      now: T0 + 5,
      counts: NO_CRASHES,
      task: { seq: 0, status: "completed", result: '"took a"', error: null, attempts: 0, wakeAt: null, eventSeq: a.event.seq },
    }
    assert.deepEqual(await s.p.applyWorkflowWrites([take]), [true])
    const next = await s.e.findEvent({ workflowID: id, seq: 1 })
    assert.equal(next?.seq, b.event.seq, "a workflow must never take an event twice")
    // Another workflow, added now, takes neither.
    const later = uid("wf-later")
    await s.p.insertWorkflowsAndTasks([waiter(later, name, "k", T0 + 6, 1)])
    assert.equal(await s.e.findEvent({ workflowID: later, seq: 0 }), null)
  })

  it("events: a park stores the deadline and releases the lease; a matching send wakes every parked waiter, others stay", async (t) => {
    const s = await events(t)
    if (!s) return
    const name = uid("wake")
    const [w1, w2, w3] = [uid("w1"), uid("w2"), uid("w3")]
    await s.p.insertWorkflowsAndTasks([waiter(w1, name, "k", T0, 1), waiter(w2, name, "k", T0, 1), waiter(w3, name, "j", T0, 1)])
    const deadline = T0 + 1_000_000
    for (const id of [w1, w2, w3]) {
      assert.equal(await s.e.parkForEvent(park(id, deadline, T0 + 1)), "parked")
    }
    const parked = await s.p.getWorkflow(w1)
    assert.equal(parked?.workflow.leaseToken, null, "a waiting workflow must hold no lease")
    assert.equal(parked?.workflow.availableAt, deadline, "a waiting workflow is claimable at its deadline")
    assert.equal(parked?.tasks[0]?.wakeAt, deadline, "the deadline must be stored with the step")
    assert.equal(parked?.tasks[0]?.status, "pending")

    const sent = await s.e.sendEvent(event(name, "k", "{}", T0 + 50))
    assert.equal(sent.woken, 2, "both waiters of (name, k) must be woken")
    for (const id of [w1, w2]) assert.equal((await s.p.getWorkflow(id))?.workflow.availableAt, T0 + 50, `${id} was not made claimable`)
    assert.equal((await s.p.getWorkflow(w3))?.workflow.availableAt, deadline, "a waiter of another key must stay parked")
    const repeated = await s.e.sendEvent({ ...event(name, "j", "{}", T0 + 60), eventID: sent.event.eventID })
    assert.equal(repeated.woken, 0, "a repeated eventID wakes nothing")
    assert.equal((await s.p.getWorkflow(w3))?.workflow.availableAt, deadline)
  })

  it("events: a park changes nothing when an event the step may take is stored, or when fenced", async (t) => {
    const s = await events(t)
    if (!s) return
    const name = uid("arrived")
    const id = uid("wf")
    await s.p.insertWorkflowsAndTasks([waiter(id, name, "", T0, 1)])
    assert.equal(await s.e.parkForEvent({ ...park(id, T0 + 500, T0 + 1), token: "not-the-holder" }), "fenced")
    await s.e.sendEvent(event(name, "", "7", T0 + 2))
    assert.equal(await s.e.parkForEvent(park(id, T0 + 500, T0 + 3)), "eventArrived")
    const stored = await s.p.getWorkflow(id)
    assert.equal(stored?.workflow.leaseToken, "events-token", "a park that saw an event must keep the lease")
    assert.equal(stored?.tasks[0]?.wakeAt ?? null, null)
  })

  it("events: parkForEvents (a parallel step's waiting members) refuses when any member may take an event, is fenced, and parks; a send to any member wakes it", async (t) => {
    const s = await events(t)
    if (!s) return
    const name = uid("members")
    const twoKeys = (id: string): NewWorkflow => {
      const one = waiter(id, name, "a", T0, 1).tasks[0] as NewWorkflow["tasks"][number]
      const data = JSON.stringify({ waitForEvent: { name, key: "b", timeoutMS: null, onTimeout: "continue" } })
      return { ...waiter(id, name, "a", T0, 1), tasks: [one, { name: "wait1", task: "", data, kind: "waitForEvent", event: { name, key: "b" } }] }
    }
    const parks = (id: string, now: number) => ({ workflowID: id, token: "events-token", now, counts: NO_CRASHES, seqs: [0, 1], availableAt: T0 + 900_000 })
    const arrived = uid("arrived")
    await s.p.insertWorkflowsAndTasks([twoKeys(arrived)])
    assert.equal(await s.e.parkForEvents({ ...parks(arrived, T0 + 1), token: "not-the-holder" }), "fenced")
    // An event for the second member only: the park must see it.
    await s.e.sendEvent(event(name, "b", '"b0"', T0 + 2))
    assert.equal(await s.e.parkForEvents(parks(arrived, T0 + 3)), "eventArrived", "a park must refuse when any member may take an event")
    assert.equal((await s.p.getWorkflow(arrived))?.workflow.leaseToken, "events-token", "a park that saw an event keeps the lease")

    // Members store their deadlines (the parallel step writes them before parking), then the park: no lease, claimable at availableAt.
    const added = uid("added")
    await s.p.insertWorkflowsAndTasks([twoKeys(added)])
    const deadlines: WorkflowWrite[] = [0, 1].map((seq) => ({
      kind: "recordTask",
      workflowID: added,
      token: "events-token",
      now: T0 + 4,
      counts: NO_CRASHES,
      task: { seq, status: "pending", result: null, error: null, attempts: 0, wakeAt: T0 + 900_000 },
    }))
    assert.deepEqual(await s.p.applyWorkflowWrites(deadlines), [true, true])
    assert.equal(await s.e.parkForEvents(parks(added, T0 + 5)), "parked")
    const stored = await s.p.getWorkflow(added)
    assert.equal(stored?.workflow.leaseToken, null)
    assert.equal(stored?.workflow.availableAt, T0 + 900_000)
    const sent = await s.e.sendEvent(event(name, "a", '"a1"', T0 + 6))
    assert.ok(sent.woken >= 1)
    assert.equal((await s.p.getWorkflow(added))?.workflow.availableAt, T0 + 6, "a send to a waiting member's (name, key) wakes the parked workflow")
  })

  it("events: a send does not wake a waiter whose step has not been reached, or that holds a lease", async (t) => {
    const s = await events(t)
    if (!s) return
    const name = uid("unreached")
    const id = uid("wf")
    // Leased (running), step not parked: a send must leave its lease expiry alone.
    await s.p.insertWorkflowsAndTasks([waiter(id, name, "k", T0, 1)])
    const sent = await s.e.sendEvent(event(name, "k", "1", T0 + 1))
    assert.equal(sent.woken, 0)
    const stored = await s.p.getWorkflow(id)
    assert.equal(stored?.workflow.availableAt, T0 + 30_000, "a send must not touch a leased workflow")
    assert.equal((await s.e.findEvent({ workflowID: id, seq: 0 }))?.payload, "1", "the running step finds the event itself")
  })

  it("events: deleteEventsSentBefore deletes old events only, and seqs are never reused", async (t) => {
    const s = await events(t)
    if (!s) return
    const name = uid("retention")
    // Times far before every other test's, so a shared store loses none of theirs.
    const old = await s.e.sendEvent(event(name, "", "1", 1_000))
    const deleted = await s.e.deleteEventsSentBefore(2_000)
    assert.ok(deleted >= 1)
    assert.deepEqual(await s.e.listEvents({ name, limit: 10 }), [])
    const next = await s.e.sendEvent(event(name, "", "2", 3_000))
    assert.ok(next.event.seq > old.event.seq, "a seq must never be reused after the newest events were deleted")
  })
}

function uid(what: string): string {
  return `conformance-events-${what}-${randomUUID()}`
}

function event(name: string, key: string, payload: string, now: number): NewEvent {
  return { name, key, payload, now, eventID: `${name}-${payload === "1" ? "1" : randomUUID()}` }
}

/** A workflow of `waits` waitForEvent steps for (name, key), leased to "events-token". */
function waiter(id: string, name: string, key: string, now: number, waits: number): NewWorkflow {
  const data = JSON.stringify({ waitForEvent: { name, key: key === "" ? null : key, timeoutMS: null, onTimeout: "continue" } })
  return {
    id,
    now,
    lease: { owner: "events", token: "events-token", expiresAt: now + 30_000 },
    tasks: Array.from({ length: waits }, (_, i) => ({ name: `wait${i}`, task: "", data, kind: "waitForEvent" as const, event: { name, key } })),
  }
}

function park(id: string, wakeAt: number, now: number) {
  return { workflowID: id, token: "events-token", now, counts: NO_CRASHES, seq: 0, attempts: 0, wakeAt }
}
